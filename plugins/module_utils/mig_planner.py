# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIG layout planner behind ``cnai.platform.mig_plan``.

Pure computation, no Ansible import. ``plan(nodes, workloads, strategy)`` returns the mig-parted
document, a config name per node, one assignment per instance, the GPU count and its lower bound, and
a readable report; bad input raises PlanError before anything is computed.

How it is exact:
1. Each workload instance resolves, per GPU model it may run on, to one MIG profile (named, or the
   smallest profile whose *usable* GiB fits) or to N whole GPUs.
2. For every model the maximal placeable multisets over the demanded profiles are enumerated with the
   catalog's exact placement check (not sums of slices).
3. An integer program chooses how many GPUs run each multiset (and, for workloads that may run on
   several models, how many instances go where), minimising GPUs used, within each model's GPU count.
   Branch and bound proves the optimum; its LP relaxation gives ``lower_bound``.
4. Instances are assigned to GPU slots, GPUs to nodes (nodes whose current config already matches are
   kept; the rest are filled so as few nodes as possible change), and every node gets a config that
   covers all of its GPUs. Identical node layouts share one config name.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import math

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
from ansible_collections.cnai.platform.plugins.module_utils import milp

STRATEGIES = ('mixed', 'single')
DISABLED = 'all-disabled'


class PlanError(ValueError):
    """Bad input or demand that cannot fit; the message names the problem."""


# --------------------------------------------------------------------------------------------- input

class Node(object):
    def __init__(self, name, model, gpu_count, current_config):
        self.name = name
        self.model = model
        self.gpu_count = gpu_count
        self.current_config = current_config
        self.current_layout = None      # list of per-GPU multisets (dict) or None entries, when known


class Workload(object):
    def __init__(self, name, instances, profile, memory_gib, gpus, models):
        self.name = name
        self.instances = instances
        self.profile = profile
        self.memory_gib = memory_gib
        self.gpus = gpus
        self.models = models            # model key -> profile name (MIG) or None (whole GPUs)


def _positive_int(value, what):
    if isinstance(value, bool):
        raise PlanError('%s must be a positive integer, got %r' % (what, value))
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PlanError('%s must be a positive integer, got %r' % (what, value))
    if number != value and str(number) != str(value).strip():
        raise PlanError('%s must be a positive integer, got %r' % (what, value))
    if number <= 0:
        raise PlanError('%s must be a positive integer, got %r' % (what, value))
    return number


def _node_model(raw, name):
    facts = raw.get('gpus') or []
    if facts:
        keys = set()
        for gpu in facts:
            keys.add((gpu.get('name'), mig_catalog.normalize_pci_id(gpu.get('pci_device_id'))))
        if len(keys) > 1:
            raise PlanError('node %s has GPUs of different models (%s); one model per node is supported'
                            % (name, ', '.join(sorted(k[0] or '?' for k in keys))))
        try:
            return mig_catalog.model_from_facts(facts[0])
        except mig_catalog.CatalogError as exc:
            raise PlanError('node %s: %s' % (name, exc))
    product = raw.get('gpu_product')
    pci = raw.get('pci_device_id')
    if not product and not pci:
        raise PlanError('node %s: gpu_product is required (nvidia-smi name or PCI id such as 0x233510DE)' % name)
    try:
        return mig_catalog.lookup(product, pci)
    except mig_catalog.CatalogError as exc:
        raise PlanError('node %s: %s' % (name, exc))


def parse_nodes(raw_nodes):
    if not raw_nodes:
        raise PlanError('nodes is empty: give at least one GPU node')
    nodes = []
    seen = set()
    for i, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            raise PlanError('nodes[%d] must be a dictionary, got %r' % (i, raw))
        name = raw.get('name')
        if not name or not isinstance(name, str):
            raise PlanError('nodes[%d] has no name' % i)
        if name in seen:
            raise PlanError('duplicate node name %r' % name)
        seen.add(name)
        model = _node_model(raw, name)
        count = raw.get('gpu_count')
        if count is None and raw.get('gpus'):
            count = len(raw['gpus'])
        count = _positive_int(count, 'node %s gpu_count' % name)
        current = raw.get('current_config') or None
        if current is not None and not mig_catalog.is_label_value(str(current)):
            raise PlanError('node %s current_config %r is not a valid label value' % (name, current))
        nodes.append(Node(name, model, count, current))
    return nodes


def _smallest_fit(model, memory_gib):
    fits = [p for p in model.profiles.values() if p.is_base and p.memory_gib >= memory_gib]
    if not fits:
        return None
    return min(fits, key=lambda p: (p.memory_gib, p.size, p.compute, -len(p.placements), p.name)).name


def parse_workloads(raw_workloads, nodes):
    if not raw_workloads:
        raise PlanError('workloads is empty: give at least one workload')
    fleet = {}
    for n in nodes:
        fleet.setdefault(n.model.key, n.model)
    largest_node = {}
    for n in nodes:
        largest_node[n.model.key] = max(largest_node.get(n.model.key, 0), n.gpu_count)
    workloads = []
    seen = set()
    for i, raw in enumerate(raw_workloads):
        if not isinstance(raw, dict):
            raise PlanError('workloads[%d] must be a dictionary, got %r' % (i, raw))
        name = raw.get('name')
        if not name or not isinstance(name, str):
            raise PlanError('workloads[%d] has no name' % i)
        if name in seen:
            raise PlanError('duplicate workload name %r' % name)
        seen.add(name)
        instances = _positive_int(raw.get('instances', 1), 'workload %s instances' % name)
        kinds = [k for k in ('profile', 'memory_gib', 'gpus') if raw.get(k) is not None]
        if len(kinds) != 1:
            raise PlanError('workload %s must set exactly one of profile, memory_gib, gpus (got %s)'
                            % (name, ', '.join(kinds) or 'none'))
        eligible = fleet
        if raw.get('gpu_product'):
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
            profile = str(raw['profile'])
            for key, model in eligible.items():
                if profile in model.profiles:
                    models[key] = profile
            if not models:
                raise PlanError('workload %s: profile %s does not exist on %s (profiles there: %s)'
                                % (name, profile, ', '.join(sorted(eligible)),
                                   '; '.join('%s: %s' % (k, ', '.join(m.profiles)) for k, m in sorted(eligible.items()))))
        elif kinds[0] == 'memory_gib':
            try:
                memory = float(raw['memory_gib'])
            except (TypeError, ValueError):
                raise PlanError('workload %s memory_gib must be a number, got %r' % (name, raw['memory_gib']))
            if math.isnan(memory) or memory <= 0:
                raise PlanError('workload %s memory_gib must be positive, got %r' % (name, raw['memory_gib']))
            for key, model in eligible.items():
                fit = _smallest_fit(model, memory)
                if fit:
                    models[key] = fit
            if not models:
                biggest = max(((p.memory_gib, k, p.name) for k, m in eligible.items() for p in m.profiles.values()))
                raise PlanError('workload %s needs %.2f GiB, more than any MIG profile offers (largest: %s on %s with '
                                '%.2f GiB usable); use gpus: N for whole GPUs' % (name, memory, biggest[2], biggest[1], biggest[0]))
        else:
            gpus = _positive_int(raw['gpus'], 'workload %s gpus' % name)
            for key in eligible:
                if largest_node[key] >= gpus:
                    models[key] = None
            if not models:
                raise PlanError('workload %s needs %d GPUs per instance on one node, but the largest node has %d'
                                % (name, gpus, max(largest_node[k] for k in eligible)))
        workloads.append(Workload(name, instances, profile, memory, gpus, models))
    return workloads


def decode_layout(node, current_mig_config):
    """The node's current per-GPU layout (list of dict or None for non-MIG GPUs), or None if unknown."""
    name = node.current_config
    if name is None:
        return None
    configs = (current_mig_config or {}).get('mig-configs') or {}
    gpus = node.gpu_count
    if name in configs:
        layout = [False] * gpus
        for entry in configs[name] or []:
            filt = entry.get('device-filter')
            if filt:
                filt = [filt] if isinstance(filt, str) else filt
                ids = set(mig_catalog.normalize_pci_id(f.split(':')[0]) for f in filt)
                if not ids & set(node.model.pci_ids):
                    continue
            devices = entry.get('devices')
            idx = range(gpus) if devices == 'all' else [d for d in (devices or []) if isinstance(d, int) and d < gpus]
            for d in idx:
                layout[d] = dict(entry.get('mig-devices') or {}) if entry.get('mig-enabled') else None
        if any(v is False for v in layout):
            return None
        for v in layout:
            if v and any(p not in node.model.profiles for p in v):
                return None
        return layout
    try:
        per_gpu = mig_catalog.predefined_layout(node.model, name)
    except mig_catalog.CatalogError:
        return None
    return [dict(per_gpu) if per_gpu is not None else None for _unused in range(gpus)]


# ------------------------------------------------------------------------------------ optimisation

class _Program(object):
    """Variables and rows of the integer program, with names kept for reading the solution."""

    def __init__(self):
        self.names = []
        self.cost = []
        self.rows = []
        self.priority = []

    def var(self, name, cost, priority=1):
        self.names.append(name)
        self.cost.append(cost)
        self.priority.append(priority)
        return len(self.names) - 1


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


def optimise(nodes, workloads, strategy, keep=(), explain=True):
    """Solve for the minimum number of GPUs. Returns a dict describing the integer solution.

    ``keep`` lists nodes whose current layout is kept as it is: their MIG GPUs are fixed supply (and
    count as used), so the program decides only the rest.
    """
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
    prog = _Program()
    demanded = dict((k, set()) for k in models)
    for w in workloads:
        for key, prof in w.models.items():
            if prof is not None:
                demanded[key].add(prof)
    cols = {}
    for key, model in models.items():
        if demanded[key]:
            cols[key] = _columns(model, demanded[key], strategy)
    xvar = {}
    for key in sorted(cols):
        names, sets = cols[key]
        for j, counts in enumerate(sets):
            xvar[(key, j)] = prog.var(('x', key, j), 1, priority=0)
    # Per (model, profile): supply - flexible demand >= fixed demand.
    supply = {}
    for (key, j), v in xvar.items():
        names, sets = cols[key]
        for p, cnt in zip(names, sets[j]):
            if cnt:
                supply.setdefault((key, p), {})[v] = cnt
    fixed = {}
    whole_fixed = {}
    yvar = {}
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
    class_list = []
    for ckey in sorted(classes, key=lambda k: (classes[k][0].name)):
        cid = len(class_list)
        members = classes[ckey]
        class_list.append((dict(ckey[0]), ckey[1], members))
        split = {}
        for key in sorted(dict(ckey[0])):
            split[key] = prog.var(('y', cid, key), ckey[1], priority=2)
            yvar[(cid, key)] = split[key]
        prog.rows.append((dict((v, 1) for v in split.values()), '==', sum(w.instances for w in members)))
    row_of = {}
    for key in sorted(models):
        for p in sorted(demanded[key]):
            coeffs = dict(supply.get((key, p), {}))
            for cid, (cmodels, cgpus, members) in enumerate(class_list):
                if cmodels.get(key) == p:
                    coeffs[yvar[(cid, key)]] = -1
            row_of[(key, p)] = len(prog.rows)
            prog.rows.append((coeffs, '>=', fixed.get((key, p), 0) - kept_supply.get((key, p), 0)))
    # Capacity per model: MIG GPUs + whole GPUs <= GPUs of that model.
    for key in sorted(models):
        coeffs = dict((v, 1) for (k, j), v in xvar.items() if k == key)
        for cid, (cmodels, cgpus, members) in enumerate(class_list):
            if cgpus and key in cmodels:
                coeffs[yvar[(cid, key)]] = cgpus
        if strategy == 'single':
            # Nodes are whole units: each node serves one profile, or stays MIG-disabled.
            qs = {}
            for size in sorted(node_sizes[key]):
                qs[size] = []
                targets = [('p', j) for (k, j) in sorted(xvar) if k == key] + [('whole', None)]
                for t in targets:
                    qv = prog.var(('q', key, size, t), 0, priority=3)
                    qs[size].append((t, qv))
                prog.rows.append((dict((qv, 1) for t, qv in qs[size]), '<=', node_sizes[key][size]))
            for (k, j), v in sorted(xvar.items()):
                if k != key:
                    continue
                coeffs_q = {v: -1}
                for size in qs:
                    for t, qv in qs[size]:
                        if t == ('p', j):
                            coeffs_q[qv] = size
                prog.rows.append((coeffs_q, '>=', 0))
            coeffs_w = {}
            for size in qs:
                for t, qv in qs[size]:
                    if t == ('whole', None):
                        coeffs_w[qv] = size
            for cid, (cmodels, cgpus, members) in enumerate(class_list):
                if cgpus and key in cmodels:
                    coeffs_w[yvar[(cid, key)]] = -cgpus
            prog.rows.append((coeffs_w, '>=', whole_fixed.get(key, 0)))
        else:
            if coeffs:
                prog.rows.append((coeffs, '<=', gpus_of[key] - whole_fixed.get(key, 0)))
        if whole_fixed.get(key, 0) > gpus_of[key]:
            raise PlanError('demand larger than the fleet: whole-GPU workloads need %d %s GPUs, the fleet has %d '
                            '(short by %d)' % (whole_fixed[key], key, gpus_of[key], whole_fixed[key] - gpus_of[key]))
    whole_total = sum(whole_fixed.values())
    try:
        value, x, bound = milp.solve(prog.rows, prog.cost, branch_priority=prog.priority)
    except milp.Infeasible:
        raise PlanError(_shortfall(nodes, workloads, strategy) if explain else 'infeasible')
    except milp.SearchLimit as exc:
        raise PlanError('the planner could not prove an optimum (%s); split the fleet or the workloads' % exc)
    # Spread each class's per-model allocation over its workloads, in order.
    split_of = {}
    for cid, (cmodels, cgpus, members) in enumerate(class_list):
        left = [(key, int(round(x[yvar[(cid, key)]]))) for key in sorted(cmodels)]
        for w in members:
            alloc = {}
            for _unused in range(w.instances):
                while left and left[0][1] == 0:
                    left.pop(0)
                key, n = left[0]
                alloc[key] = alloc.get(key, 0) + 1
                left[0] = (key, n - 1)
            split_of[w.name] = alloc
    return {'prog': prog, 'x': x, 'cols': cols, 'xvar': xvar, 'split': split_of, 'models': models,
            'keep': list(keep), 'gpus_used': value + whole_total + kept_gpus,
            'lower_bound': bound + whole_total + kept_gpus}


def _keep_current(nodes, workloads, strategy, best):
    """Second objective: keep as many nodes as they are as the minimum GPU count allows.

    Nodes with the same current layout form a group; for each group (largest first) a binary search
    finds how many of its nodes can be kept while the optimum stays at ``best``'s GPU count.
    """
    target = best['gpus_used']
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
        while lo < hi:
            mid = (lo + hi + 1) // 2
            try:
                trial = optimise(nodes, workloads, strategy, keep + members[:mid], explain=False)
            except PlanError:
                trial = None
            if trial is not None and trial['gpus_used'] <= target:
                lo, found = mid, trial
            else:
                hi = mid - 1
        if lo:
            keep += members[:lo]
            solution = found
    solution['lower_bound'] = best['lower_bound']
    return solution


def _shortfall(nodes, workloads, strategy):
    """Explain infeasible demand: how many GPUs it needs without the fleet's limits, and the gap."""
    big = []
    for n in nodes:
        big.append(Node(n.name, n.model, n.gpu_count * 1000, None))
    try:
        need = optimise(big, workloads, 'mixed')['gpus_used']
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
    models = solution['models']
    x = solution['x']
    # 1. GPUs to configure per model, as multisets (from the chosen columns), and demand per profile.
    pool = dict((k, []) for k in models)
    pinned = dict((k, 0) for k in models)
    for n in solution['keep']:
        for g in n.current_layout:
            if g is not None:
                pool[n.model.key].append(dict(g))
                pinned[n.model.key] += 1
    for (key, j), v in sorted(solution['xvar'].items()):
        names, sets = solution['cols'][key]
        for _unused in range(int(round(x[v]))):
            pool[key].append(dict((p, c) for p, c in zip(names, sets[j]) if c))
    demand = {}       # (model, profile) -> list of (workload, instance)
    whole = dict((k, []) for k in models)   # model -> list of (workload, instance, gpus)
    for w in workloads:
        alloc = {}
        if len(w.models) == 1:
            alloc[list(w.models)[0]] = w.instances
        else:
            alloc = solution['split'][w.name]
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


def plan(raw_nodes, raw_workloads, strategy='mixed', current_mig_config=None):
    """Compute the plan. Raises PlanError for bad input or demand that cannot fit."""
    if strategy not in STRATEGIES:
        raise PlanError('strategy must be one of %s, got %r' % (', '.join(STRATEGIES), strategy))
    nodes = parse_nodes(raw_nodes)
    workloads = parse_workloads(raw_workloads, nodes)
    for n in nodes:
        n.current_layout = decode_layout(n, current_mig_config)
    solution = _keep_current(nodes, workloads, strategy, optimise(nodes, workloads, strategy))
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
    for key in sorted(solution['models']):
        notes.extend(solution['models'][key].unconfirmed_notes())
    result = {
        'strategy': strategy,
        'mig_config': {'version': 'v1', 'mig-configs': configs},
        'node_configs': node_configs,
        'assignments': assignments,
        'gpus_used': gpus_used,
        'gpus_total': sum(n.gpu_count for n in nodes),
        'lower_bound': solution['lower_bound'],
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
