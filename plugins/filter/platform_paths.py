# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for where executables are found and where outputs go (logic in module_utils/platform_paths.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import platform_paths as pp


def binary_path(binary, variable='the binary variable', default_name=None, hint=None):
    """Absolute path of ``binary`` (a bare name on PATH, or a path); fails naming ``variable``."""
    try:
        return pp.resolve_binary(binary, variable, default_name=default_name, hint=hint)
    except pp.BinaryError as exc:
        raise AnsibleFilterError(str(exc))


def output_dir(value, sub=None):
    """Absolute ``cnai_output_dir`` (default ``./cnai-output``), with ``sub`` joined when given."""
    return pp.output_dir(value, sub)


class FilterModule(object):
    def filters(self):
        return {'binary_path': binary_path, 'output_dir': output_dir}
