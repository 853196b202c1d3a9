# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the GPU layer: what a node should advertise for a mig-parted config, and what it does.

``mig_expected_resources`` applies a mig-parted ``v1`` document to one node the way mig-parted does
(for each GPU index, every entry whose ``devices`` and ``device-filter`` match is applied in list order,
the last match wins) and then counts the extended resources the NVIDIA device plugin would advertise:

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

try:
    from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
except ImportError:  # pragma: no cover - only when the collection is not on the path
    mig_catalog = None

GPU = 'nvidia.com/gpu'
MIG_PREFIX = 'nvidia.com/mig-'
_CI_SPLIT = re.compile(r'^\d+c\.')


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _norm_pci(value):
    if mig_catalog is not None:
        return mig_catalog.normalize_pci_id(value) or str(value).upper()
    return str(value).upper()


def _node_pci_ids(gpu_product, pci_device_id):
    if pci_device_id:
        return set([_norm_pci(pci_device_id)])
    if gpu_product and mig_catalog is not None:
        try:
            return set(mig_catalog.lookup(product=gpu_product).pci_ids)
        except mig_catalog.CatalogError:
            return None
    return None


def mig_expected_resources(mig_config, config_name, gpu_count, strategy='mixed', gpu_product=None,
                           pci_device_id=None, replicas=1):
    """The GPU extended resources a node advertises once ``config_name`` is applied."""
    if strategy not in ('mixed', 'single'):
        raise AnsibleFilterError('mig_expected_resources: strategy must be mixed or single, not %r' % (strategy,))
    try:
        gpu_count = int(gpu_count)
        replicas = int(replicas or 1)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError('mig_expected_resources: gpu_count and replicas must be integers: %s' % exc)
    configs = (mig_config or {}).get('mig-configs') or {}
    if config_name not in configs:
        raise AnsibleFilterError('mig_expected_resources: config %r is not in the mig-parted document (has: %s)'
                                 % (config_name, ', '.join(sorted(configs)) or 'nothing'))
    node_ids = _node_pci_ids(gpu_product, pci_device_id)
    counts = {}
    for index in range(gpu_count):
        chosen = None
        for entry in configs[config_name]:
            devices = entry.get('devices', 'all')
            if devices != 'all' and index not in [int(d) for d in _as_list(devices)]:
                continue
            filters = set(_norm_pci(f) for f in _as_list(entry.get('device-filter')))
            if filters and node_ids is not None and not filters & node_ids:
                continue
            chosen = entry
        if chosen is None:
            raise AnsibleFilterError('mig_expected_resources: config %r covers no entry for GPU %d; mig-parted '
                                     'would never report success' % (config_name, index))
        if not chosen.get('mig-enabled'):
            counts[GPU] = counts.get(GPU, 0) + replicas
            continue
        for profile, n in (chosen.get('mig-devices') or {}).items():
            if _CI_SPLIT.match(profile) or not int(n):
                continue
            key = GPU if strategy == 'single' else MIG_PREFIX + profile.replace('+', '.')
            counts[key] = counts.get(key, 0) + int(n) * (replicas if key == GPU else 1)
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
