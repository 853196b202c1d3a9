# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIG layout planner behind ``cnai.platform.mig_plan``.

Pure computation, no Ansible import. ``plan(nodes, workloads, strategy)`` returns the mig-parted
document, a config name per node, one assignment per instance, the GPU count and its lower bound, and
a readable report; bad input raises PlanError, naming the field, before anything is computed. mig-parted
documents (``current_mig_config``) are read through ``mig_parted``.

How it is exact:
1. Each workload instance resolves, per GPU model it may run on, to one MIG profile (named, or the
   smallest profile whose *usable* GiB fits) or to N whole GPUs.
2. For every model the maximal placeable multisets over the demanded profiles are enumerated with the
   catalog's exact placement check (not sums of slices).
3. An integer program chooses how many GPUs run each multiset (and, for workloads that may run on
   several models, how many instances go where), minimising GPUs used, within each model's GPU count.
   HiGHS (``milp``, a small model builder over ``highspy``) proves the optimum within ``time_limit``; when the
   limit stops it first, the best plan found is used and ``lower_bound``/``gap`` say how far it may be off.
4. Instances are assigned to GPU slots, GPUs to nodes (nodes whose current config already matches are
   kept; the rest are filled so as few nodes as possible change), and every node gets a config that
   covers all of its GPUs. Identical node layouts share one config name.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Dict, List

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
from ansible_collections.cnai.platform.plugins.module_utils import mig_parted
from ansible_collections.cnai.platform.plugins.module_utils import milp

STRATEGIES = ('mixed', 'single')
DISABLED = 'all-disabled'
DEFAULT_TIME_LIMIT = 30.0


class PlanError(ValueError):
    """Bad input or demand that cannot fit; the message names the problem."""


# --------------------------------------------------------------------------------------------- input

# Upper bounds on counts: far above any real fleet, low enough that nothing overflows or fills memory.
MAX_GPUS_PER_NODE = 64
MAX_NODES = 20000
MAX_WORKLOADS = 10000
MAX_INSTANCES = 100000          # per workload
MAX_TOTAL_INSTANCES = 1000000   # over all workloads
MAX_MEMORY_GIB = 1048576.0
DNS_LABEL_RE = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
DNS_SUBDOMAIN_RE = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
PROFILE_NAME_RE = re.compile(r'^\d+g\.\d+gb([+-][a-z]+(\.[a-z]+)*(,[a-z]+(\.[a-z]+)*)*)?$')


class Node(object):
    def __init__(self, name, model, gpu_count, current_config, device_id=None):
        self.name = name
        self.model = model
        self.gpu_count = gpu_count
        self.current_config = current_config
        self.device_id = device_id      # mig_parted.DeviceId when the node's exact PCI id is known
        self.current_layout = None      # list of per-GPU multisets (dict) or None entries, when known


class Workload(object):
    def __init__(self, name, instances, profile, memory_gib, gpus, models):
        self.name = name
        self.instances = instances
        self.profile = profile
        self.memory_gib = memory_gib
        self.gpus = gpus
        self.models = models            # model key -> profile name (MIG) or None (whole GPUs)


def _positive_int(value, what, upper=None):
    """A positive integer (ints or their decimal strings; never a bool), at most ``upper``."""
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise PlanError('%s must be a positive integer, got %r' % (what, value))
    if isinstance(value, str) and (len(value) > 12 or not value.strip().isdigit()):
        raise PlanError('%s must be a positive integer, got %r' % (what, value))
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise PlanError('%s must be a positive integer, got %r' % (what, value))
    if number <= 0:
        raise PlanError('%s must be a positive integer, got %r' % (what, value))
    if upper is not None and number > upper:
        raise PlanError('%s is %d, more than the limit of %d; set a real count' % (what, number, upper))
    return number


def _time_limit(value):
    if isinstance(value, bool):
        raise PlanError('time_limit must be a number of seconds, got %r' % (value,))
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise PlanError('time_limit must be a number of seconds, got %r' % (value,))
    if not math.isfinite(seconds) or not 0 < seconds <= 86400:
        raise PlanError('time_limit must be more than 0 and at most 86400 seconds, got %r' % (value,))
    return seconds


def _k8s_name(value, what, subdomain):
    pattern, limit, kind = (DNS_SUBDOMAIN_RE, 253, 'DNS-1123 subdomain') if subdomain else (DNS_LABEL_RE, 63, 'DNS-1123 label')
    if not isinstance(value, str) or not value:
        raise PlanError('%s must be a non-empty string, got %r' % (what, value))
    if len(value) > limit or not pattern.match(value):
        raise PlanError('%s %r is not a valid Kubernetes name (%s: lowercase letters, digits and -%s, at most %d '
                        'characters, starting and ending with a letter or digit)'
                        % (what, value, kind, ' and .' if subdomain else '', limit))
    return value


def _check_gpu_facts(name, facts):
    """Node facts (cnai.platform.gpu_facts ``gpus``) must be well formed and within what the model can hold."""
    if not isinstance(facts, list):
        raise PlanError('node %s gpus must be the list gpu_facts returns, got %r' % (name, type(facts).__name__))
    if len(facts) > MAX_GPUS_PER_NODE:
        raise PlanError('node %s gpus lists %d GPUs, more than the limit of %d' % (name, len(facts), MAX_GPUS_PER_NODE))
    for i, gpu in enumerate(facts):
        where = 'node %s gpus[%d]' % (name, i)
        if not isinstance(gpu, dict):
            raise PlanError('%s must be a dictionary as gpu_facts returns it, got %r' % (where, gpu))
        try:
            base = mig_catalog.lookup(gpu.get('name'), gpu.get('pci_device_id'))
        except mig_catalog.CatalogError:
            base = None
        total_mib = gpu.get('memory_total_mib')
        if total_mib is not None and (isinstance(total_mib, bool) or not isinstance(total_mib, (int, float))
                                      or not 0 < total_mib <= MAX_MEMORY_GIB * 1024):
            raise PlanError('%s memory_total_mib must be a positive number, got %r' % (where, total_mib))
        profiles = gpu.get('mig_profiles') or []
        if not isinstance(profiles, list):
            raise PlanError('%s mig_profiles must be a list, got %r' % (where, profiles))
        for j, prof in enumerate(profiles):
            pw = '%s mig_profiles[%d]' % (where, j)
            if not isinstance(prof, dict) or not isinstance(prof.get('name'), str) or not PROFILE_NAME_RE.match(prof['name']):
                raise PlanError('%s needs a name such as 1g.18gb, got %r' % (pw, prof))
            pw = '%s (%s)' % (pw, prof['name'])
            starts, size, total = prof.get('placements'), prof.get('placement_size'), prof.get('instances_total')
            known = base.profiles.get(prof['name']) if base is not None else None
            if starts is None and size is None:
                if known is None:
                    raise PlanError('%s reports no placements and the catalog does not know the profile; gather '
                                    'gpu_facts with placements (nvidia-smi mig -lgipp)' % pw)
                starts, size = known.placements, known.size
            if not (isinstance(starts, list) and starts and len(starts) <= 64 and
                    all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 64 for s in starts)):
                raise PlanError('%s placements must be a non-empty list of start slots 0..63, got %r' % (pw, starts))
            if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= 64:
                raise PlanError('%s placement_size must be a positive integer, got %r' % (pw, size))
            units = base.placement_units if base is not None else 64
            if any(s + size > units for s in starts):
                raise PlanError('%s claims placements %s of size %d, beyond the %d-unit placement grid of %s'
                                % (pw, starts, size, units, base.key if base else 'any GPU'))
            # The most instances these placements allow without overlap (interval scheduling, greedy).
            hold, end = 0, -1
            for s in sorted(set(starts)):
                if s > end:
                    hold, end = hold + 1, s + size - 1
            if total is not None:
                if isinstance(total, bool) or not isinstance(total, int) or total < 0:
                    raise PlanError('%s instances_total must be an integer >= 0, got %r' % (pw, total))
                if total > hold:
                    raise PlanError('%s claims %d instances, but its placements (%s, size %d) hold at most %d on one GPU'
                                    % (pw, total, starts, size, hold))
            mem = prof.get('memory_gib')
            if mem is not None:
                if isinstance(mem, bool) or not isinstance(mem, (int, float)) or not 0 <= mem <= MAX_MEMORY_GIB:
                    raise PlanError('%s memory_gib must be a number of GiB, got %r' % (pw, mem))
                if total_mib and mem * 1024 > total_mib * 1.001:
                    raise PlanError('%s claims %.2f GiB, more than the GPU has (%.2f GiB)' % (pw, mem, total_mib / 1024.0))


def _node_model(raw, name):
    facts = raw.get('gpus') or []
    if facts:
        _check_gpu_facts(name, facts)
        keys = set()
        for gpu in facts:
            keys.add((str(gpu.get('name')), mig_catalog.normalize_pci_id(gpu.get('pci_device_id'))))
        if len(keys) > 1:
            raise PlanError('node %s has GPUs of different models (%s); one model per node is supported'
                            % (name, ', '.join(sorted(k[0] or '?' for k in keys))))
        try:
            return mig_catalog.model_from_facts(facts[0])
        except (mig_catalog.CatalogError, KeyError, TypeError, ValueError) as exc:
            raise PlanError('node %s: %s' % (name, exc))
    product = raw.get('gpu_product')
    pci = raw.get('pci_device_id')
    if not product and not pci:
        raise PlanError('node %s: gpu_product is required (nvidia-smi name or PCI id such as 0x233510DE)' % name)
    for key, value in (('gpu_product', product), ('pci_device_id', pci)):
        if value is not None and not isinstance(value, str):
            raise PlanError('node %s %s must be a string such as "NVIDIA H200" or 0x233510DE, got %r' % (name, key, value))
    try:
        return mig_catalog.lookup(product, pci)
    except mig_catalog.CatalogError as exc:
        raise PlanError('node %s: %s' % (name, exc))


def _device_id(raw, name):
    """The node's exact PCI id (with subsystem when given), or None when only the model is known."""
    facts = raw.get('gpus') or []
    pci = raw.get('pci_device_id') or (facts[0].get('pci_device_id') if facts else None)
    sub = raw.get('pci_subsystem_id') or (facts[0].get('pci_subsystem_id') if facts else None)
    if pci is None and mig_catalog.normalize_pci_id(raw.get('gpu_product')):
        pci = raw.get('gpu_product')
    if pci is None:
        if sub:
            raise PlanError('node %s pci_subsystem_id needs pci_device_id too' % name)
        return None
    try:
        return mig_parted.hardware_id(pci, sub)
    except mig_parted.MigPartedError as exc:
        raise PlanError('node %s: %s' % (name, exc))


def parse_nodes(raw_nodes):
    if not raw_nodes:
        raise PlanError('nodes is empty: give at least one GPU node')
    if not isinstance(raw_nodes, list):
        raise PlanError('nodes must be a list of dictionaries, got %r' % type(raw_nodes).__name__)
    if len(raw_nodes) > MAX_NODES:
        raise PlanError('nodes lists %d nodes, more than the limit of %d' % (len(raw_nodes), MAX_NODES))
    nodes = []
    seen = set()
    for i, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            raise PlanError('nodes[%d] must be a dictionary, got %r' % (i, raw))
        if not raw.get('name'):
            raise PlanError('nodes[%d] has no name: set name to the Kubernetes node name' % i)
        name = _k8s_name(raw.get('name'), 'nodes[%d] name' % i, subdomain=True)
        if name in seen:
            raise PlanError('duplicate node name %r' % name)
        seen.add(name)
        model = _node_model(raw, name)
        count = raw.get('gpu_count')
        facts = raw.get('gpus') or []
        if count is None and facts:
            count = len(facts)
        count = _positive_int(count, 'node %s gpu_count' % name, MAX_GPUS_PER_NODE)
        if facts and count != len(facts):
            raise PlanError('node %s gpu_count is %d but its gpus facts list %d GPUs; drop gpu_count or fix it'
                            % (name, count, len(facts)))
        current = raw.get('current_config') or None
        if current is not None and (not isinstance(current, str) or not mig_catalog.is_label_value(current)):
            raise PlanError('node %s current_config %r is not a valid label value' % (name, current))
        nodes.append(Node(name, model, count, current, _device_id(raw, name)))
    return nodes


def _smallest_fit(model, memory_gib):
    fits = [p for p in model.profiles.values() if p.is_base and p.memory_gib >= memory_gib]
    if not fits:
        return None
    return min(fits, key=lambda p: (p.memory_gib, p.size, p.compute, -len(p.placements), p.name)).name


def parse_workloads(raw_workloads, nodes):
    if not raw_workloads:
        raise PlanError('workloads is empty: give at least one workload')
    if not isinstance(raw_workloads, list):
        raise PlanError('workloads must be a list of dictionaries, got %r' % type(raw_workloads).__name__)
    if len(raw_workloads) > MAX_WORKLOADS:
        raise PlanError('workloads lists %d workloads, more than the limit of %d' % (len(raw_workloads), MAX_WORKLOADS))
    fleet = {}
    for n in nodes:
        fleet.setdefault(n.model.key, n.model)
    largest_node = {}
    for n in nodes:
        largest_node[n.model.key] = max(largest_node.get(n.model.key, 0), n.gpu_count)
    workloads = []
    seen = set()
    total_instances = 0
    for i, raw in enumerate(raw_workloads):
        if not isinstance(raw, dict):
            raise PlanError('workloads[%d] must be a dictionary, got %r' % (i, raw))
        if not raw.get('name'):
            raise PlanError('workloads[%d] has no name: set name (a DNS-1123 label such as qwen25-7b)' % i)
        name = _k8s_name(raw.get('name'), 'workloads[%d] name' % i, subdomain=False)
        if name in seen:
            raise PlanError('duplicate workload name %r' % name)
        seen.add(name)
        instances = _positive_int(raw.get('instances', 1), 'workload %s instances' % name, MAX_INSTANCES)
        total_instances += instances
        if total_instances > MAX_TOTAL_INSTANCES:
            raise PlanError('workloads ask for more than %d instances in all (at workload %s); set real replica counts'
                            % (MAX_TOTAL_INSTANCES, name))
        kinds = [k for k in ('profile', 'memory_gib', 'gpus') if raw.get(k) is not None]
        if len(kinds) != 1:
            raise PlanError('workload %s must set exactly one of profile, memory_gib, gpus (got %s)'
                            % (name, ', '.join(kinds) or 'none'))
        eligible = fleet
        if raw.get('gpu_product'):
            if not isinstance(raw['gpu_product'], str):
                raise PlanError('workload %s gpu_product must be a string such as "NVIDIA H200", got %r'
                                % (name, raw['gpu_product']))
            try:
                wanted = mig_catalog.lookup(raw['gpu_product'])
            except mig_catalog.CatalogError as exc:
                raise PlanError('workload %s gpu_product: %s' % (name, exc))
            if wanted.key not in fleet:
                raise PlanError('workload %s asks for %s but no node has that GPU (fleet: %s)'
                                % (name, raw['gpu_product'], ', '.join(sorted(fleet))))
            eligible = {wanted.key: fleet[wanted.key]}
        models = {}
        profile = memory = gpus = None
        if kinds[0] == 'profile':
            profile = raw['profile']
            if not isinstance(profile, str):
                raise PlanError('workload %s profile must be a MIG profile name such as 1g.18gb, got %r' % (name, profile))
            for key, model in eligible.items():
                if profile in model.profiles:
                    models[key] = profile
            if not models:
                raise PlanError('workload %s: profile %s does not exist on %s (profiles there: %s)'
                                % (name, profile, ', '.join(sorted(eligible)),
                                   '; '.join('%s: %s' % (k, ', '.join(m.profiles)) for k, m in sorted(eligible.items()))))
        elif kinds[0] == 'memory_gib':
            try:
                if isinstance(raw['memory_gib'], bool):
                    raise TypeError('bool')
                memory = float(raw['memory_gib'])
            except (TypeError, ValueError, OverflowError):
                raise PlanError('workload %s memory_gib must be a number of GiB, got %r' % (name, raw['memory_gib']))
            if not math.isfinite(memory) or memory <= 0 or memory > MAX_MEMORY_GIB:
                raise PlanError('workload %s memory_gib must be a positive number of GiB (at most %d), got %r'
                                % (name, MAX_MEMORY_GIB, raw['memory_gib']))
            for key, model in eligible.items():
                fit = _smallest_fit(model, memory)
                if fit:
                    models[key] = fit
            if not models:
                biggest = max(((p.memory_gib, k, p.name) for k, m in eligible.items() for p in m.profiles.values()))
                raise PlanError('workload %s needs %.2f GiB, more than any MIG profile offers (largest: %s on %s with '
                                '%.2f GiB usable); use gpus: N for whole GPUs' % (name, memory, biggest[2], biggest[1], biggest[0]))
        else:
            gpus = _positive_int(raw['gpus'], 'workload %s gpus' % name, MAX_GPUS_PER_NODE)
            for key in eligible:
                if largest_node[key] >= gpus:
                    models[key] = None
            if not models:
                raise PlanError('workload %s needs %d GPUs per instance on one node, but the largest node has %d'
                                % (name, gpus, max(largest_node[k] for k in eligible)))
        workloads.append(Workload(name, instances, profile, memory, gpus, models))
    return workloads


def parse_document(current_mig_config):
    """The current mig-parted document (mig_parted.Document), or None when none is given ({} counts as none)."""
    if current_mig_config is None or current_mig_config == {}:
        return None
    try:
        return mig_parted.parse(current_mig_config, 'current_mig_config')
    except mig_parted.MigPartedError as exc:
        raise PlanError('%s; fix current_mig_config (the config.yaml of the mig-parted ConfigMap in use)' % exc)


def _check_layout(node, layout, source):
    """Every MIG GPU of a current layout must use the model's profiles and be placeable on its grid."""
    for i, counts in enumerate(layout):
        if not counts:
            continue
        unknown = sorted(p for p in counts if p not in node.model.profiles)
        if unknown:
            raise PlanError('node %s: %s puts %s on GPU %d, but %s has no such profile (profiles: %s); fix the '
                            "node's current_config or current_mig_config"
                            % (node.name, source, ', '.join(unknown), i, node.model.key, ', '.join(sorted(node.model.profiles))))
        over = sorted((p, c, node.model.profiles[p].max_count) for p, c in counts.items()
                      if c > node.model.profiles[p].max_count)
        if over or not mig_catalog.fits(node.model, counts):
            detail = '; '.join('%d x %s, at most %d fit' % (c, p, mx) for p, c, mx in over) or \
                'these instances overlap on the %d-unit placement grid' % node.model.placement_units
            raise PlanError('node %s: %s puts %s on GPU %d, more than one %s can hold (%s); fix the node\'s '
                            'current_config or current_mig_config'
                            % (node.name, source, ', '.join('%d x %s' % (c, p) for p, c in sorted(counts.items())), i,
                               node.model.key, detail))


def decode_layout(node, document):
    """The node's current per-GPU layout (list of dict or None for non-MIG GPUs), or None if unknown.

    With a document, a current_config it does not define is an error unless it is one of NVIDIA's
    predefined config names (``all-disabled``, ``all-1g.18gb``, ``all-balanced`` ...) for the node's model.
    """
    name = node.current_config
    if name is None:
        return None
    gpus = node.gpu_count
    if document is not None and name in document.configs:
        candidates = [node.device_id] if node.device_id is not None else \
            [mig_parted.hardware_id(p) for p in node.model.pci_ids] or [None]
        try:
            layout = document.layout_for_model(name, gpus, candidates)
        except mig_parted.MigPartedError as exc:
            raise PlanError('node %s current_config %s: %s; fix current_mig_config or give the node\'s '
                            'pci_device_id' % (node.name, name, exc))
        _check_layout(node, layout, 'current_mig_config config %s' % name)
        return layout
    try:
        per_gpu = mig_catalog.predefined_layout(node.model, name)
    except mig_catalog.CatalogError:
        if document is not None:
            raise PlanError('node %s current_config %r is not defined in current_mig_config (defines: %s) and is not '
                            'a predefined GPU Operator config for %s; give the document that defines it, or leave '
                            'current_config unset' % (node.name, name, ', '.join(document.names()), node.model.key))
        return None
    return [dict(per_gpu) if per_gpu is not None else None for _unused in range(gpus)]


# ------------------------------------------------------------------------------------ optimisation

@dataclass
class Solution:
    """The integer program's answer, in the planner's terms."""
    models: Dict[str, object]                 # model key -> GpuModel of the fleet
    columns: Dict[str, List[Dict[str, int]]]  # model key -> per-GPU multisets to configure (not counting kept nodes)
    split: Dict[str, Dict[str, int]]          # workload name -> {model key: instances} for multi-model workloads
    keep: List[Node]                          # nodes whose current layout is kept as it is
    gpus_used: int
    lower_bound: int                          # proven: no plan uses fewer GPUs
    optimal: bool                             # False when the time limit stopped the search first
    seconds: float = 0.0

    @property
    def gap(self):
        if self.optimal or not self.gpus_used:
            return 0.0
        return max(0.0, (self.gpus_used - self.lower_bound) / float(self.gpus_used))


def _columns(model, profiles, strategy):
    names = tuple(sorted(profiles, key=lambda p: (-model.profiles[p].size, p)))
    if strategy == 'single':
        cols = []
        for i, p in enumerate(names):
            cnt = [0] * len(names)
            best = max(k for k in range(model.profiles[p].max_count + 1) if mig_catalog.fits(model, {p: k}))
            cnt[i] = best
            cols.append(tuple(cnt))
        return names, cols
    return mig_catalog.maximal_multisets(model, names)


def _remaining(deadline):
    return deadline - time.monotonic()


def optimise(nodes, workloads, strategy, keep=(), explain=True, deadline=None):
    """Solve for the minimum number of GPUs; returns a Solution.

    The program: ``gpus[m, c]`` = GPUs of model ``m`` configured with maximal placeable multiset ``c``;
    ``split[k, m]`` = instances of workload class ``k`` (workloads that may run on several models) put on
    model ``m``. Minimise GPUs used, subject to: per (model, profile), supply covers demand; per model, MIG
    GPUs plus whole GPUs fit the fleet (single strategy: per node size, nodes serve one profile each).
    ``keep`` lists nodes whose current layout is kept as it is: their MIG GPUs are fixed supply (and count
    as used), so the program decides only the rest.
    """
    if deadline is None:
        deadline = time.monotonic() + DEFAULT_TIME_LIMIT
    models = {}
    gpus_of = {}
    node_sizes = {}
    kept_supply = {}
    kept_gpus = 0
    keep_names = set(n.name for n in keep)
    for n in nodes:
        models[n.model.key] = n.model
        gpus_of.setdefault(n.model.key, 0)
        node_sizes.setdefault(n.model.key, {})
        if n.name in keep_names:
            mig = [g for g in n.current_layout if g is not None]
            kept_gpus += len(mig)
            for g in mig:
                for p, c in g.items():
                    kept_supply[(n.model.key, p)] = kept_supply.get((n.model.key, p), 0) + c
            if strategy == 'single':
                continue
            gpus_of[n.model.key] += n.gpu_count - len(mig)
            continue
        gpus_of[n.model.key] += n.gpu_count
        node_sizes[n.model.key][n.gpu_count] = node_sizes[n.model.key].get(n.gpu_count, 0) + 1
    demanded = dict((k, set()) for k in models)
    for w in workloads:
        for key, prof in w.models.items():
            if prof is not None:
                demanded[key].add(prof)
    cols = {}
    for key, model in models.items():
        if demanded[key]:
            cols[key] = _columns(model, demanded[key], strategy)

    m = milp.Model()
    gpus = {}                       # (model key, column index) -> variable
    for key in sorted(cols):
        for j in range(len(cols[key][1])):
            gpus[(key, j)] = m.var(('gpus', key, j), cost=1, upper=gpus_of[key])
    # Fixed demand per (model, profile) and whole GPUs per model, from single-model workloads.
    fixed = {}
    whole_fixed = {}
    # Workloads that may run on several models are pooled into classes with the same per-model
    # resolution: the program stays small however many workloads there are.
    classes = {}
    for w in workloads:
        if len(w.models) == 1:
            key, prof = list(w.models.items())[0]
            if prof is None:
                whole_fixed[key] = whole_fixed.get(key, 0) + w.instances * w.gpus
            else:
                fixed[(key, prof)] = fixed.get((key, prof), 0) + w.instances
            continue
        ckey = (tuple(sorted(w.models.items(), key=lambda kv: (kv[0], kv[1] or ''))), w.gpus or 0)
        classes.setdefault(ckey, []).append(w)
    class_list = []                 # (per-model resolution, GPUs per instance, members, {model key: variable})
    for ckey in sorted(classes, key=lambda k: classes[k][0].name):
        members = classes[ckey]
        cid = len(class_list)
        split = dict((key, m.var(('split', cid, key), cost=ckey[1])) for key in sorted(dict(ckey[0])))
        class_list.append((dict(ckey[0]), ckey[1], members, split))
        m.equal(dict((v, 1) for v in split.values()), sum(w.instances for w in members))
    for key in sorted(models):
        if whole_fixed.get(key, 0) > gpus_of[key]:
            raise PlanError('demand larger than the fleet: whole-GPU workloads need %d %s GPUs, the fleet has %d '
                            '(short by %d)' % (whole_fixed[key], key, gpus_of[key], whole_fixed[key] - gpus_of[key]))
        # Supply of each profile covers its demand.
        for p in sorted(demanded[key]):
            names, sets = cols[key]
            terms = dict((gpus[(key, j)], counts[names.index(p)]) for j, counts in enumerate(sets))
            for cmodels, _cgpus, _members, split in class_list:
                if cmodels.get(key) == p:
                    terms[split[key]] = -1
            m.at_least(terms, fixed.get((key, p), 0) - kept_supply.get((key, p), 0))
        # Capacity: MIG GPUs plus whole GPUs fit the model's GPUs.
        mig_terms = dict((v, 1) for (k, _j), v in gpus.items() if k == key)
        whole_terms = dict((split[key], cgpus) for cmodels, cgpus, _members, split in class_list
                           if cgpus and key in cmodels)
        if strategy == 'single':
            _single_capacity(m, key, node_sizes[key], gpus, whole_terms, whole_fixed.get(key, 0))
        elif mig_terms or whole_terms:
            terms = dict(mig_terms)
            terms.update(whole_terms)
            m.at_most(terms, gpus_of[key] - whole_fixed.get(key, 0))
    whole_total = sum(whole_fixed.values())
    try:
        result = m.solve(_remaining(deadline))
    except milp.Infeasible:
        raise PlanError(_shortfall(nodes, workloads, strategy, deadline) if explain else 'infeasible')
    except milp.NoSolution:
        raise PlanError('no plan found within the time limit; raise time_limit (the program has %d variables '
                        'and %d rows)' % (len(m.names), len(m.rows)))
    except milp.SolverError as exc:
        raise PlanError(str(exc))
    columns = dict((k, []) for k in models)
    for (key, j), v in sorted(gpus.items()):
        names, sets = cols[key]
        for _unused in range(result[v]):
            columns[key].append(dict((p, c) for p, c in zip(names, sets[j]) if c))
    # Spread each class's per-model allocation over its workloads, in order.
    split_of = {}
    for cmodels, _cgpus, members, split in class_list:
        left = [(key, result[split[key]]) for key in sorted(cmodels)]
        for w in members:
            alloc = {}
            for _unused in range(w.instances):
                while left and left[0][1] == 0:
                    left.pop(0)
                key, n = left[0]
                alloc[key] = alloc.get(key, 0) + 1
                left[0] = (key, n - 1)
            split_of[w.name] = alloc
    return Solution(models, columns, split_of, list(keep), result.objective + whole_total + kept_gpus,
                    result.bound + whole_total + kept_gpus, result.optimal, result.seconds)


def _single_capacity(m, key, node_sizes, gpus, whole_terms, whole_fixed):
    """Single strategy: nodes are whole units; each serves one profile on every GPU, or stays MIG-disabled."""
    targets = [('profile', j) for (k, j) in sorted(gpus) if k == key] + [('whole', None)]
    nodes_for = {}                  # (node size, target) -> variable: nodes of that size given to that target
    for size in sorted(node_sizes):
        for t in targets:
            nodes_for[(size, t)] = m.var(('nodes', key, size, t), cost=0, upper=node_sizes[size])
        m.at_most(dict((nodes_for[(size, t)], 1) for t in targets), node_sizes[size])
    for (k, j), v in sorted(gpus.items()):
        if k == key:
            terms = dict((nodes_for[(size, ('profile', j))], size) for size in node_sizes)
            terms[v] = -1
            m.at_least(terms, 0)
    terms = dict((nodes_for[(size, ('whole', None))], size) for size in node_sizes)
    for v, cgpus in whole_terms.items():
        terms[v] = -cgpus
    m.at_least(terms, whole_fixed)


def _keep_current(nodes, workloads, strategy, best, deadline):
    """Second objective: keep as many nodes as they are as the minimum GPU count allows.

    Nodes with the same current layout form a group; for each group (largest first) a binary search
    finds how many of its nodes can be kept while the optimum stays at ``best``'s GPU count. When the
    time limit is near, the search stops with what it has kept so far (the GPU count is not affected).
    """
    target = best.gpus_used
    groups = {}
    for n in nodes:
        if n.current_layout and any(g is not None for g in n.current_layout):
            groups.setdefault((n.model.key, _layout_key(n.current_layout)), []).append(n)
    keep = []
    solution = best
    for gkey in sorted(groups, key=lambda k: (-len(groups[k]), k[0], str(k[1]))):
        members = sorted(groups[gkey], key=lambda n: n.name)
        lo, hi = 0, len(members)
        found = None
        while lo < hi and _remaining(deadline) > 0:
            mid = (lo + hi + 1) // 2
            try:
                trial = optimise(nodes, workloads, strategy, keep + members[:mid], explain=False, deadline=deadline)
            except PlanError:
                trial = None
            if trial is not None and trial.gpus_used <= target:
                lo, found = mid, trial
            else:
                hi = mid - 1
        if lo:
            keep += members[:lo]
            solution = found
    solution.lower_bound = best.lower_bound
    solution.optimal = best.optimal
    solution.seconds = best.seconds
    return solution


def _shortfall(nodes, workloads, strategy, deadline):
    """Explain infeasible demand: how many GPUs it needs without the fleet's limits, and the gap."""
    big = []
    for n in nodes:
        big.append(Node(n.name, n.model, n.gpu_count * 1000, None))
    try:
        need = optimise(big, workloads, 'mixed', deadline=max(deadline, time.monotonic() + 5)).gpus_used
    except PlanError:
        need = None
    have = sum(n.gpu_count for n in nodes)
    if need is not None and need > have:
        return ('demand larger than the fleet: the workloads need at least %d GPUs, the fleet has %d (short by %d)'
                % (need, have, need - have))
    per_model = {}
    for n in nodes:
        per_model[n.model.key] = per_model.get(n.model.key, 0) + n.gpu_count
    return ('demand does not fit the fleet: at least %s GPUs needed overall; the fleet has %s. Check workloads '
            'pinned to one GPU model (gpu_product) and, under the single strategy, that each profile gets whole nodes'
            % (need if need is not None else 'more', ', '.join('%d %s' % (v, k) for k, v in sorted(per_model.items()))))


# ---------------------------------------------------------------------------------------- assignment

def _canon(counts):
    return tuple(sorted((p, c) for p, c in (counts or {}).items() if c))


def _layout_key(layout):
    """Order-independent key of a node layout (list of per-GPU multiset or None)."""
    return tuple(sorted((0, ()) if g is None else (1, _canon(g)) for g in layout))


def _config_name(model, layout):
    digest = hashlib.sha256(json.dumps([model.key, [None if g is None else _canon(g) for g in layout]],
                                       sort_keys=True).encode('utf-8')).hexdigest()[:8]
    return mig_catalog.sanitize_label('cnai-%s-%s' % (model.label, digest))


def build_plan(nodes, workloads, strategy, solution):
    models = solution.models
    # 1. GPUs to configure per model, as multisets (kept nodes' GPUs first), and demand per profile.
    pool = dict((k, []) for k in models)
    pinned = dict((k, 0) for k in models)
    for n in solution.keep:
        for g in n.current_layout:
            if g is not None:
                pool[n.model.key].append(dict(g))
                pinned[n.model.key] += 1
    for key in sorted(models):
        pool[key].extend(dict(g) for g in solution.columns.get(key, []))
    demand = {}       # (model, profile) -> list of (workload, instance)
    whole = dict((k, []) for k in models)   # model -> list of (workload, instance, gpus)
    for w in workloads:
        alloc = {}
        if len(w.models) == 1:
            alloc[list(w.models)[0]] = w.instances
        else:
            alloc = solution.split[w.name]
        i = 0
        for key in sorted(alloc):
            for _unused in range(alloc[key]):
                if w.models[key] is None:
                    whole[key].append((w.name, i, w.gpus))
                else:
                    demand.setdefault((key, w.models[key]), []).append((w.name, i))
                i += 1
    # 2. Fill the pool's GPUs with instances; keep only what is used on each GPU.
    gpu_jobs = dict((k, []) for k in models)
    for key in sorted(pool):
        gpus = pool[key]
        jobs = [[] for _unused in gpus]
        for (k, prof), insts in sorted(demand.items()):
            if k != key:
                continue
            queue = list(insts)
            for g, counts in enumerate(gpus):
                room = counts.get(prof, 0)
                while room and queue:
                    jobs[g].append((prof, queue.pop(0)))
                    room -= 1
            if queue:
                raise PlanError('internal error: %d instances of %s on %s left unplaced' % (len(queue), prof, key))
        for g in range(len(gpus)):
            if g < pinned[key]:
                gpu_jobs[key].append((dict(gpus[g]), jobs[g]))   # a kept node's GPU stays as it is
            elif jobs[g]:
                used = {}
                for prof, _job in jobs[g]:
                    used[prof] = used.get(prof, 0) + 1
                if strategy == 'single':
                    used = dict(gpus[g])   # single: every GPU of a node carries the full one-profile layout
                gpu_jobs[key].append((used, jobs[g]))
    # 3. Place GPUs and whole-GPU instances on nodes.
    by_model = {}
    for n in nodes:
        by_model.setdefault(n.model.key, []).append(n)
    node_layout = {}
    node_jobs = {}
    kept = set()
    for key in sorted(by_model):
        _place_on_nodes(by_model[key], gpu_jobs.get(key, []), whole.get(key, []), strategy,
                        node_layout, node_jobs, kept)
    return node_layout, node_jobs, kept


def _place_on_nodes(nodes, mig_gpus, whole_insts, strategy, node_layout, node_jobs, kept):
    """Assign configured GPUs and whole-GPU instances of one model to its nodes."""
    for n in nodes:
        node_layout[n.name] = [None] * n.gpu_count
        node_jobs[n.name] = [[] for _unused in range(n.gpu_count)]
    free = dict((n.name, n.gpu_count) for n in nodes)
    remaining = list(mig_gpus)
    # a. Keep nodes whose current layout is exactly reproduced by part of the pool (mixed strategy).
    for n in sorted(nodes, key=lambda n: n.name):
        cur = n.current_layout
        if not cur or all(g is None for g in cur):
            continue
        want = [_canon(g) for g in cur if g is not None]
        avail = [_canon(u) for u, _jobs in remaining]
        take = []
        ok = True
        for w in want:
            idx = [i for i, a in enumerate(avail) if a == w and i not in take]
            if not idx:
                ok = False
                break
            take.append(idx[0])
        if not ok:
            continue
        mig_idx = [i for i, g in enumerate(cur) if g is not None]
        for slot, i in zip(mig_idx, take):
            node_layout[n.name][slot] = dict(cur[slot])
            node_jobs[n.name][slot] = remaining[i][1]
        remaining = [r for i, r in enumerate(remaining) if i not in take]
        free[n.name] = sum(1 for g in cur if g is None)
        kept.add(n.name)

    # b. Whole-GPU instances: largest first, onto nodes that keep MIG-disabled GPUs free.
    def unchanged_if_disabled(n):
        cur = n.current_layout
        return n.current_config in (None, DISABLED) or (cur is not None and all(g is None for g in cur))

    whole_insts = sorted(whole_insts, key=lambda t: (-t[2], t[0], t[1]))
    # Nodes that will change anyway first, then MIG-disabled ones; within that, fuller nodes first.
    for wname, inst, size in whole_insts:
        cands = [n for n in nodes
                 if free[n.name] >= size and not (strategy == 'single' and n.name in kept and any(node_layout[n.name]))]
        if not cands:
            raise PlanError('whole-GPU instances of %s (%d GPUs each) cannot be packed onto the %s nodes'
                            % (wname, size, nodes[0].model.key))
        cands.sort(key=lambda n: (n.name not in kept, free[n.name], n.name))
        n = cands[0]
        slots = [i for i, g in enumerate(node_layout[n.name]) if g is None and not node_jobs[n.name][i]]
        slots = slots[:size]
        for s in slots:
            node_jobs[n.name][s] = [(None, (wname, inst))]
        free[n.name] -= size
    # c. Remaining MIG GPUs: nodes that change anyway first, then as few fresh nodes as possible.
    if strategy == 'single':
        _single_nodes(nodes, remaining, node_layout, node_jobs, free, kept)
        return
    while remaining:
        cands = [n for n in nodes if free[n.name] > 0 and n.name not in kept]
        if not cands:
            cands = [n for n in nodes if free[n.name] > 0]
        if not cands:
            raise PlanError('internal error: no room left for MIG GPUs on %s' % nodes[0].model.key)
        changing = [n for n in cands if not unchanged_if_disabled(n) or any(node_layout[n.name])]
        pick = sorted(changing or cands, key=lambda n: (-free[n.name], n.name))[0]
        for s in range(pick.gpu_count):
            if not remaining:
                break
            if node_layout[pick.name][s] is None and not node_jobs[pick.name][s]:
                counts, jobs = remaining.pop(0)
                node_layout[pick.name][s] = counts
                node_jobs[pick.name][s] = jobs
                free[pick.name] -= 1
        kept.discard(pick.name)


def _single_nodes(nodes, remaining, node_layout, node_jobs, free, kept):
    """Single strategy: a node serves one profile on every GPU, or stays MIG-disabled."""
    by_prof = {}
    for counts, jobs in remaining:
        by_prof.setdefault(_canon(counts), []).append((counts, jobs))
    for key in sorted(by_prof, key=lambda k: (-len(by_prof[k]), k)):
        gpus = by_prof[key]
        full = dict(gpus[0][0])
        while gpus:
            cands = [n for n in nodes if free[n.name] == n.gpu_count and not any(node_jobs[n.name])]
            if not cands:
                raise PlanError('under the single strategy every profile needs whole nodes; no free node left '
                                'for %s on %s' % (_canon(full), nodes[0].model.key))
            need = len(gpus)
            fitting = [n for n in cands if n.gpu_count >= need]
            wanted = 'all-' + key[0][0].replace('+', '.')
            pick = min(fitting, key=lambda n: (n.current_config != wanted, n.gpu_count, n.name)) if fitting else \
                max(cands, key=lambda n: (n.current_config == wanted, n.gpu_count, n.name))
            for s in range(pick.gpu_count):
                node_layout[pick.name][s] = dict(full)
                if gpus:
                    node_jobs[pick.name][s] = gpus.pop(0)[1]
            free[pick.name] = 0


# -------------------------------------------------------------------------------------------- output

def _entries(model, layout):
    groups = {}
    for i, g in enumerate(layout):
        groups.setdefault(None if g is None else _canon(g), []).append(i)
    entries = []
    for key in sorted(groups, key=lambda k: groups[k][0]):
        entry = {'devices': groups[key]}
        if model.pci_ids:
            entry['device-filter'] = list(model.pci_ids)
        if key is None:
            entry['mig-enabled'] = False
        else:
            entry['mig-enabled'] = True
            entry['mig-devices'] = dict(key)
        entries.append(entry)
    return entries


def plan(raw_nodes, raw_workloads, strategy='mixed', current_mig_config=None, time_limit=DEFAULT_TIME_LIMIT):
    """Compute the plan. Raises PlanError for bad input or demand that cannot fit.

    ``time_limit`` (seconds) bounds the solver: when it runs out with a plan in hand, that plan is
    returned with ``optimal: false`` and its proven ``gap``.
    """
    if strategy not in STRATEGIES:
        raise PlanError('strategy must be one of %s, got %r' % (', '.join(STRATEGIES), strategy))
    time_limit = _time_limit(time_limit)
    deadline = time.monotonic() + time_limit
    nodes = parse_nodes(raw_nodes)
    workloads = parse_workloads(raw_workloads, nodes)
    document = parse_document(current_mig_config)
    for n in nodes:
        n.current_layout = decode_layout(n, document)
    solution = _keep_current(nodes, workloads, strategy, optimise(nodes, workloads, strategy, deadline=deadline),
                             deadline)
    node_layout, node_jobs, kept = build_plan(nodes, workloads, strategy, solution)

    configs = {DISABLED: [{'devices': 'all', 'mig-enabled': False}]}
    node_configs = {}
    changed = []
    for n in nodes:
        layout = node_layout[n.name]
        if n.name in kept:
            name = n.current_config
        elif all(g is None for g in layout):
            name = DISABLED
        elif strategy == 'single':
            prof = list(layout[0])[0]
            name = 'all-' + prof.replace('+', '.')
        else:
            name = _config_name(n.model, layout)
        if name != DISABLED and name not in configs:
            configs[name] = _entries(n.model, layout)
        node_configs[n.name] = name
        if name != (n.current_config or DISABLED):
            changed.append(n.name)
    assignments = []
    for n in nodes:
        for g, jobs in enumerate(node_jobs[n.name]):
            starts = {}
            layout = node_layout[n.name][g]
            if layout:
                for start, prof in mig_catalog.placement(n.model, layout):
                    starts.setdefault(prof, []).append(start)
            for prof, (wname, inst) in jobs:
                if prof is None:
                    continue
                assignments.append({'workload': wname, 'instance': inst, 'node': n.name, 'gpu': g,
                                    'profile': prof, 'start': starts[prof].pop(0),
                                    'resource': mig_catalog.resource_name(prof)})
        whole_groups = {}
        for g, jobs in enumerate(node_jobs[n.name]):
            for prof, (wname, inst) in jobs:
                if prof is None:
                    whole_groups.setdefault((wname, inst), []).append(g)
        for (wname, inst), gpus in sorted(whole_groups.items()):
            assignments.append({'workload': wname, 'instance': inst, 'node': n.name, 'gpu': gpus,
                                'profile': None, 'start': None, 'resource': 'nvidia.com/gpu'})
    order = dict((w.name, i) for i, w in enumerate(workloads))
    assignments.sort(key=lambda a: (order[a['workload']], a['instance']))
    gpus_used = sum(1 for n in nodes for jobs in node_jobs[n.name] if jobs)
    notes = []
    for key in sorted(solution.models):
        notes.extend(solution.models[key].unconfirmed_notes())
    result = {
        'strategy': strategy,
        'mig_config': {'version': 'v1', 'mig-configs': configs},
        'node_configs': node_configs,
        'assignments': assignments,
        'gpus_used': gpus_used,
        'gpus_total': sum(n.gpu_count for n in nodes),
        'lower_bound': solution.lower_bound,
        'optimal': solution.optimal,
        'gap': round(solution.gap, 6),
        'time_limit': time_limit,
        'nodes_changed': changed,
        'unconfirmed': notes,
    }
    result['report'] = render_report(result, nodes, node_layout, node_jobs)
    return result


def render_report(result, nodes, node_layout, node_jobs):
    lines = []
    lines.append('MIG plan (%s strategy): %d of %d GPUs used, lower bound %d; %d of %d nodes change'
                 % (result['strategy'], result['gpus_used'], result['gpus_total'], result['lower_bound'],
                    len(result['nodes_changed']), len(nodes)))
    if result['optimal']:
        lines.append('Proven optimal: no plan serves these workloads on fewer GPUs.')
    else:
        lines.append('Time limit (%gs) reached before optimality was proven: this plan uses %d GPUs, no plan uses fewer '
                     'than %d (gap %.1f%%). Raise time_limit to close the gap.'
                     % (result['time_limit'], result['gpus_used'], result['lower_bound'], 100 * result['gap']))
    lines.append('')
    wn = max([len('NODE')] + [len(n.name) for n in nodes])
    wc = max([len('CONFIG')] + [len(c) for c in result['node_configs'].values()])
    row = '%%-%ds  %%-%ds  %%-6s  %%s' % (wn, wc)
    lines.append(row % ('NODE', 'CONFIG', 'CHANGE', 'GPU: LAYOUT <- WORKLOADS'))
    for n in nodes:
        cells = []
        idle = 0
        for g, layout in enumerate(node_layout[n.name]):
            jobs = node_jobs[n.name][g]
            if layout is None and not jobs:
                idle += 1
                continue
            if layout is None:
                desc = 'whole GPU'
            else:
                desc = ' '.join('%s@%d' % (p, s) for s, p in mig_catalog.placement(n.model, layout))
            who = ', '.join(sorted(set(job[1][0] for job in jobs)))
            cells.append('%d: %s%s' % (g, desc, (' <- ' + who) if who else ''))
        if idle:
            cells.append('%s%d GPU%s MIG disabled, unused' % ('' if cells else 'all ', idle, '' if idle == 1 else 's'))
        for i, cell in enumerate(cells):
            lines.append(row % (n.name if i == 0 else '', result['node_configs'][n.name] if i == 0 else '',
                                ('yes' if n.name in result['nodes_changed'] else 'no') if i == 0 else '', cell))
    if result['unconfirmed']:
        lines.append('')
        lines.append('Not confirmed by NVIDIA (verify with nvidia-smi mig -lgipp on the node):')
        for note in result['unconfirmed']:
            lines.append('  - ' + note)
    return '\n'.join(lines)
