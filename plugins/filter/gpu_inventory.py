# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner's ``nodes`` from the inventory's GPU hosts, live Node objects and gpu_facts (one planning path).

The logic is ``plugins/module_utils/gpu_inventory.py``; this file only adapts Ansible's ``hostvars`` and errors.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils.gpu_inventory import InventoryError, planner_nodes


def gpu_planner_nodes(hosts, hostvars, live_nodes=None, group='gpu_nodes', group_hint=None):
    """``{'nodes', 'records', 'warnings'}`` for ``cnai.platform.mig_plan`` and the rollout (see module_utils)."""
    try:
        return planner_nodes(hosts, hostvars, live_nodes=live_nodes, group=group, group_hint=group_hint)
    except InventoryError as exc:
        raise AnsibleFilterError('gpu_planner_nodes: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'gpu_planner_nodes': gpu_planner_nodes}
