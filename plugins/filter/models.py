# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over ``cnai_models`` that need no sizing run (logic in plugins/module_utils/model_sizing.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import model_sizing as ms


def embedding_models(models):
    """``[{name, model, served_name, dimension}]`` for every embedding model of ``cnai_models``."""
    try:
        return ms.embedding_models(models)
    except ms.SizingError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'embedding_models': embedding_models}
