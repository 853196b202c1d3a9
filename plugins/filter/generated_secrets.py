# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over plugins/module_utils/generated_secrets.py: the values of a Secret that is generated once
and kept (roles/k8s_secret applies them)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import generated_secrets as gs


def secret_data(existing, spec):
    """``secret_data()`` of module_utils/generated_secrets.py: ``{data, given, kept, generated}``."""
    try:
        return gs.secret_data(existing, spec)
    except gs.SecretSpecError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'secret_data': secret_data}
