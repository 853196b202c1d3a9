# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One planning path: the MIG planner's ``nodes`` from inventory host vars, live Node objects and facts.

Pure Python (no Ansible import), used by ``playbooks/plan.yml`` and ``roles/gpu_partitioning`` through the
``cnai.platform.gpu_planner_nodes`` filter, so both describe a node the same way:

* Kubernetes node name: host var ``cnai_k8s_node_name``, else the inventory host name.
* GPUs: the host's ``cnai_gpus`` fact (``cnai.platform.gpu_facts``: the node's own ``-lgipp`` placements win
  over the catalog) when it is a non-empty list; else the host vars ``cnai_gpu_product`` (``nvidia-smi`` name)
  or ``cnai_gpu_pci_device_id`` and ``cnai_gpu_count``.
* Current config: the live Node's ``nvidia.com/mig.config`` label when Node objects are given (a GPU host
  that is not a Node is an error); without them, the host var ``cnai_current_mig_config`` (optional).

The unprefixed names of earlier releases (``gpu_product``, ``gpu_count``, ``gpu_pci_device_id``,
``k8s_node_name``, ``cnai_node_name``) are refused with a message naming the new ones, never read silently.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

RENAMED = {
    'gpu_product': 'cnai_gpu_product',
    'gpu_count': 'cnai_gpu_count',
    'gpu_pci_device_id': 'cnai_gpu_pci_device_id',
    'k8s_node_name': 'cnai_k8s_node_name',
    'cnai_node_name': 'cnai_k8s_node_name',
}
MAX_GPUS_PER_NODE = 64
MAX_NODES = 100000
CONFIG_LABEL = 'nvidia.com/mig.config'
# Kubernetes node names are DNS subdomains (RFC 1123), at most 253 characters.
_NODE_NAME_RE = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_LABEL_VALUE_RE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
_PCI_RE = re.compile(r'^(0[xX])?[0-9a-fA-F]{4}([0-9a-fA-F]{4})?$')


class InventoryError(ValueError):
    """Bad inventory or facts; the message names the host and the variable to set."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _gpu_count(host, value):
    """cnai_gpu_count as an int in 1..MAX_GPUS_PER_NODE (a digit string from an INI inventory is fine)."""
    if isinstance(value, bool) or value is None:
        number = None
    elif _is_int(value):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        number = None
    if number is None or not 1 <= number <= MAX_GPUS_PER_NODE:
        raise InventoryError('host %s: cnai_gpu_count must be an integer from 1 to %d, got %r'
                             % (host, MAX_GPUS_PER_NODE, value))
    return number


def _text(host, name, value):
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        raise InventoryError('host %s: %s must be a string, got %r' % (host, name, value))
    return value.strip()


def node_name(host, host_vars):
    """The Kubernetes node name of an inventory host (cnai_k8s_node_name, else the host name)."""
    name = host_vars.get('cnai_k8s_node_name')
    if name is None or name == '':
        name = host
    if not isinstance(name, str) or len(name) > 253 or not _NODE_NAME_RE.match(name):
        raise InventoryError('host %s: Kubernetes node name %r is not a valid node name (lower-case DNS subdomain, '
                             'at most 253 characters): set cnai_k8s_node_name to the Node\'s name' % (host, name))
    return name


def check_renamed(hosts, hostvars):
    """Fail when any host still sets an unprefixed name; one message lists every host and the new names."""
    found = {}
    for host in hosts:
        host_vars = hostvars[host]
        for old in sorted(RENAMED):
            if old in host_vars:
                found.setdefault(old, []).append(host)
    if found:
        parts = []
        for old in sorted(found):
            hosts_text = ', '.join(sorted(found[old])[:10]) + (', ...' if len(found[old]) > 10 else '')
            parts.append('%s -> %s (hosts: %s)' % (old, RENAMED[old], hosts_text))
        raise InventoryError('these host variables are no longer read; rename them: ' + '; '.join(parts))


def _from_facts(host, gpus):
    if not isinstance(gpus, list) or not all(isinstance(g, dict) for g in gpus):
        raise InventoryError('host %s: cnai_gpus must be the list cnai.platform.gpu_facts sets, got %r'
                             % (host, type(gpus).__name__))
    if len(gpus) > MAX_GPUS_PER_NODE:
        raise InventoryError('host %s: cnai_gpus lists %d GPUs, more than %d' % (host, len(gpus), MAX_GPUS_PER_NODE))
    models = sorted(set(str(g.get('pci_device_id') or g.get('name') or '?') for g in gpus))
    if len(models) > 1:
        raise InventoryError('host %s: cnai_gpus reports GPUs of different models (%s); one model per node is '
                             'supported' % (host, ', '.join(models)))
    return gpus[0].get('name'), gpus[0].get('pci_device_id'), len(gpus)


def planner_nodes(hosts, hostvars, live_nodes=None, group='gpu_nodes', group_hint=None):
    """Describe the GPU hosts to the planner.

    ``hosts``: the inventory hosts of the GPU group; ``hostvars``: host -> mapping of its variables (only
    ``in``, ``get`` and ``[]`` are used); ``live_nodes``: the cluster's Node objects (``k8s_info``
    ``resources``) or None when the cluster is not read. ``group_hint`` names the variable that selects the
    group, for the message when it is empty.

    Returns ``{'nodes': [planner node], 'records': [record], 'warnings': [str], 'products': [str]}``; nodes and
    records are sorted by node name, ``products`` lists the fleet's GPU models (see ``fleet_products``). A record
    has ``host, name, source (facts|inventory), gpu_product, pci_device_id, gpu_count, current_config`` and
    ``node`` (the live Node object or None).
    """
    hosts = list(hosts or [])
    if not hosts:
        raise InventoryError('inventory group %s has no hosts: list the GPU hosts in it%s'
                             % (group, (' (or set %s to the group that has them)' % group_hint) if group_hint else ''))
    if len(hosts) > MAX_NODES:
        raise InventoryError('inventory group %s has %d hosts, more than %d' % (group, len(hosts), MAX_NODES))
    check_renamed(hosts, hostvars)
    live = None
    if live_nodes is not None:
        live = {}
        for obj in live_nodes:
            meta = (obj or {}).get('metadata') or {}
            if meta.get('name'):
                live[meta['name']] = obj
    nodes, records, warnings, names, missing, bad = [], [], [], {}, [], []
    for host in hosts:
        host_vars = hostvars[host]
        name = node_name(host, host_vars)
        if name in names:
            raise InventoryError('hosts %s and %s both name Kubernetes node %s: give each its own cnai_k8s_node_name'
                                 % (names[name], host, name))
        names[name] = host
        product = _text(host, 'cnai_gpu_product', host_vars.get('cnai_gpu_product'))
        pci = _text(host, 'cnai_gpu_pci_device_id', host_vars.get('cnai_gpu_pci_device_id'))
        if pci is not None and not _PCI_RE.match(pci):
            raise InventoryError('host %s: cnai_gpu_pci_device_id %r is not a PCI device id such as 0x233510DE'
                                 % (host, pci))
        gpus = host_vars.get('cnai_gpus') or []
        if gpus:
            f_product, f_pci, count = _from_facts(host, gpus)
            if host_vars.get('cnai_gpu_count') not in (None, '') and str(host_vars.get('cnai_gpu_count')) != str(count):
                warnings.append('host %s: inventory says cnai_gpu_count=%s, nvidia-smi reports %d GPUs; the facts '
                                'are used' % (host, host_vars.get('cnai_gpu_count'), count))
            product, pci, source = f_product, f_pci, 'facts'
            planner = {'name': name, 'gpus': gpus, 'gpu_count': count}
        else:
            if product is None and pci is None:
                bad.append(host)
                continue
            count = _gpu_count(host, host_vars.get('cnai_gpu_count'))
            source = 'inventory'
            planner = {'name': name, 'gpu_count': count}
            if product is not None:
                planner['gpu_product'] = product
            if pci is not None:
                planner['pci_device_id'] = pci
        obj = None
        if live is not None:
            obj = live.get(name)
            if obj is None:
                missing.append(name)
                continue
            current = ((obj.get('metadata') or {}).get('labels') or {}).get(CONFIG_LABEL) or None
        else:
            current = _text(host, 'cnai_current_mig_config', host_vars.get('cnai_current_mig_config'))
        if current is not None and not _LABEL_VALUE_RE.match(current):
            raise InventoryError('host %s (node %s): current MIG config %r is not a valid label value'
                                 % (host, name, current))
        if current is not None:
            planner['current_config'] = current
        nodes.append(planner)
        records.append({'host': host, 'name': name, 'source': source, 'gpu_product': product or '',
                        'pci_device_id': pci or '', 'gpu_count': count, 'current_config': current or '',
                        'node': obj})
    if bad:
        raise InventoryError('GPU host(s) %s of group %s say nothing about their GPUs: set cnai_gpu_product '
                             '(nvidia-smi name, e.g. "NVIDIA H200") or cnai_gpu_pci_device_id, and cnai_gpu_count, '
                             'or make them reachable so that cnai.platform.gpu_facts reads them'
                             % (', '.join(sorted(bad)[:20]), group))
    if missing:
        raise InventoryError('these GPU hosts are not registered nodes of the cluster: %s (set cnai_k8s_node_name on '
                             'a host whose Node is named differently)' % ', '.join(sorted(missing)[:20])
                             + (' and %d more' % (len(missing) - 20) if len(missing) > 20 else ''))
    nodes.sort(key=lambda n: n['name'])
    records.sort(key=lambda r: r['name'])
    return {'nodes': nodes, 'records': records, 'warnings': warnings, 'products': fleet_products(records)}


def fleet_products(records):
    """The GPU models of the fleet, once each, in node order: the nvidia-smi name where known, else the PCI id.

    This is what ``cnai.platform.model_sizing`` takes as ``gpu_products``, so that models are sized for exactly
    the GPUs the planner will place them on."""
    seen, out = set(), []
    for rec in records:
        product = rec.get('gpu_product') or rec.get('pci_device_id')
        if product and product not in seen:
            seen.add(product)
            out.append(product)
    return out
