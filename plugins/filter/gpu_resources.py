# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the GPU layer: what a node should advertise for a mig-parted config, and what it does.

``mig_expected_resources`` applies a mig-parted ``v1`` document to one node with the collection's one
interpreter of mig-parted documents (``plugins/module_utils/mig_parted.py``: for each GPU index, every entry
whose ``devices`` and ``device-filter`` match is applied in list order, the last match wins; a
subsystem-qualified filter ``0xDDDDVVVV:0xSSSSVVVV`` needs the node's subsystem id) and then counts the
extended resources the NVIDIA device plugin would advertise:

* ``mixed``: one ``nvidia.com/mig-<profile>`` per MIG device (``+`` becomes ``.``; compute-instance
  splits such as ``1c.2g.20gb`` are not exposed), GPUs with MIG disabled stay ``nvidia.com/gpu``;
* ``single``: every MIG device and every MIG-disabled GPU is ``nvidia.com/gpu``.

Time-slicing multiplies ``nvidia.com/gpu`` by ``replicas``. Zero counts are left out on both sides, so
expected and observed maps compare with ``==``.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
from ansible_collections.cnai.platform.plugins.module_utils import mig_parted

GPU = 'nvidia.com/gpu'
MIG_PREFIX = 'nvidia.com/mig-'
_CI_SPLIT = re.compile(r'^\d+c\.')
MAX_GPUS = 64
MAX_REPLICAS = 1024


def _count(value, what, upper):
    if isinstance(value, bool):
        raise AnsibleFilterError('mig_expected_resources: %s must be an integer, got %r' % (what, value))
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise AnsibleFilterError('mig_expected_resources: %s must be an integer, got %r' % (what, value))
    if not 1 <= number <= upper:
        raise AnsibleFilterError('mig_expected_resources: %s must be from 1 to %d, got %r' % (what, upper, value))
    return number


def _node_ids(gpu_product, pci_device_id, pci_subsystem_id):
    """Candidate DeviceIds of the node's GPUs: the exact id when given, else every id of its catalog model."""
    try:
        if pci_device_id:
            return [mig_parted.hardware_id(pci_device_id, pci_subsystem_id)]
        if gpu_product:
            try:
                model = mig_catalog.lookup(product=gpu_product)
            except mig_catalog.CatalogError as exc:
                raise AnsibleFilterError('mig_expected_resources: %s; give pci_device_id' % exc)
            return [mig_parted.hardware_id(p, pci_subsystem_id) for p in model.pci_ids]
    except mig_parted.MigPartedError as exc:
        raise AnsibleFilterError('mig_expected_resources: %s' % exc)
    return [None]


def mig_expected_resources(mig_config, config_name, gpu_count, strategy='mixed', gpu_product=None,
                           pci_device_id=None, replicas=1, pci_subsystem_id=None):
    """The GPU extended resources a node advertises once ``config_name`` is applied."""
    if strategy not in ('mixed', 'single'):
        raise AnsibleFilterError('mig_expected_resources: strategy must be mixed or single, not %r' % (strategy,))
    gpu_count = _count(gpu_count, 'gpu_count', MAX_GPUS)
    replicas = _count(replicas or 1, 'replicas', MAX_REPLICAS)
    try:
        document = mig_parted.parse(mig_config)
        layout = document.layout_for_model(config_name, gpu_count, _node_ids(gpu_product, pci_device_id, pci_subsystem_id))
    except mig_parted.MigPartedError as exc:
        raise AnsibleFilterError('mig_expected_resources: %s' % exc)
    counts = {}
    for devices in layout:
        if devices is None:
            counts[GPU] = counts.get(GPU, 0) + replicas
            continue
        for profile, n in devices.items():
            if _CI_SPLIT.match(profile):
                continue
            key = GPU if strategy == 'single' else MIG_PREFIX + profile.replace('+', '.')
            counts[key] = counts.get(key, 0) + n * (replicas if key == GPU else 1)
    return dict((k, v) for k, v in counts.items() if v)


def gpu_allocatable(node, field='allocatable'):
    """``nvidia.com/gpu`` and ``nvidia.com/mig-*`` from a Node object's status as integers, zeros left out."""
    status = (node or {}).get('status') or {}
    found = {}
    for key, value in (status.get(field) or {}).items():
        if key == GPU or key.startswith(MIG_PREFIX):
            try:
                n = int(str(value))
            except ValueError:
                raise AnsibleFilterError('gpu_allocatable: %s=%r is not an integer quantity' % (key, value))
            if n:
                found[key] = n
    return found


def mig_rollout_outcome(result, config_label='nvidia.com/mig.config', state_label='nvidia.com/mig.config.state'):
    """Classify one node of a rollout batch after a failure, from a ``k8s_info`` loop result whose ``item``
    is the node's rollout record (``name``, ``target``, ``expected``).

    ``untouched``: its label is not the target (the failure came before the label was set);
    ``done``: target label, state ``success`` and the planned resources; ``failed``: anything else.
    """
    node = result.get('item') or {}
    resources = result.get('resources') or []
    obj = resources[0] if resources else {}
    labels = (obj.get('metadata') or {}).get('labels') or {}
    label, state = labels.get(config_label, ''), labels.get(state_label, '')
    alloc = gpu_allocatable(obj)
    if not resources:
        outcome = 'failed'
    elif label != node.get('target'):
        outcome = 'untouched'
    elif state == 'success' and alloc == node.get('expected'):
        outcome = 'done'
    else:
        outcome = 'failed'
    summary = '%s: %s=%s, %s=%s, allocatable %s (planned %s) -> %s' % (
        node.get('name'), config_label, label or 'unset', state_label, state or 'unset',
        _fmt(alloc), _fmt(node.get('expected') or {}), outcome)
    return {'outcome': outcome, 'label': label, 'state': state, 'allocatable': alloc, 'summary': summary}


def _fmt(resources):
    return '{%s}' % ', '.join('%s: %s' % (k, resources[k]) for k in sorted(resources))


class FilterModule(object):
    def filters(self):
        return {
            'mig_expected_resources': mig_expected_resources,
            'gpu_allocatable': gpu_allocatable,
            'mig_rollout_outcome': mig_rollout_outcome,
        }
