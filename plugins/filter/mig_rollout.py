# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIG rollout's decisions for roles/gpu_partitioning (logic: plugins/module_utils/mig_rollout.py).

``mig_rollout_plan`` (targets, kept configs, batches, time-slicing, report), ``mig_rollout_evictable`` (pods a
drain must still remove), ``mig_rollout_failure`` (what failed), ``mig_rollout_settle`` (each node of a failed
batch) and ``mig_rollout_report`` (the message the play fails with).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.filter.gpu_resources import gpu_allocatable, mig_expected_resources
from ansible_collections.cnai.platform.plugins.module_utils import mig_rollout as ro


def _document(value, where):
    if value is None or value == '' or value == {}:
        return {}
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise AnsibleFilterError('mig_rollout_plan: %s is not valid YAML (%s): fix or delete it'
                                     % (where, str(exc).splitlines()[0]))
    if value is None:
        return {}
    if not isinstance(value, dict) or not isinstance(value.get('mig-configs', {}), dict):
        raise AnsibleFilterError('mig_rollout_plan: %s is not a mig-parted document (a mapping with version and '
                                 'mig-configs): fix or delete it' % where)
    return value


def _expected(document, config, gpu_count, strategy, gpu_product=None, pci_device_id=None, replicas=1):
    return mig_expected_resources(document, config, gpu_count, strategy, gpu_product=gpu_product,
                                  pci_device_id=pci_device_id, replicas=replicas)


def mig_rollout_plan(plan, records, strategy='mixed', old_document=None, old_document_name='the mig-parted ConfigMap',
                     time_slicing=None, max_unavailable=1, check_mode=False):
    try:
        return ro.rollout_plan(records, plan, strategy, _expected, old_document=_document(old_document, old_document_name),
                               time_slicing=time_slicing, max_unavailable=max_unavailable, check_mode=check_mode)
    except ro.RolloutError as exc:
        raise AnsibleFilterError('gpu_partitioning: %s' % exc)


def mig_rollout_evictable(pods):
    return ro.evictable_pods(pods)


def mig_rollout_failure(result, task_name='?'):
    return ro.failure_info(task_name, result)


def mig_rollout_settle(batch, nodes_after):
    return ro.settle_batch(batch, nodes_after, gpu_allocatable)


def mig_rollout_report(batch, settled, failure, changes=(), batch_index=0, max_unavailable=1, rollback=False,
                       rollback_nodes=None, rollback_timeout=None, drain_timeout=None, namespace='gpu-operator'):
    lines = ro.rollback_states(batch, settled['rollback'], rollback_nodes, rollback_timeout) if rollback else []
    return ro.failure_report(batch, settled, failure, ro.later_nodes(list(changes), batch_index, max_unavailable),
                             rollback=bool(rollback), rollback_lines=lines, drain_timeout=drain_timeout,
                             namespace=namespace)


class FilterModule(object):
    def filters(self):
        return {
            'mig_rollout_plan': mig_rollout_plan,
            'mig_rollout_evictable': mig_rollout_evictable,
            'mig_rollout_failure': mig_rollout_failure,
            'mig_rollout_settle': mig_rollout_settle,
            'mig_rollout_report': mig_rollout_report,
        }
