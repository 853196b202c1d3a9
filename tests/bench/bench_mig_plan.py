#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planner benchmark: quality against baselines, and speed on a large fleet. Prints numbers; asserts nothing.

Per fleet: GPUs the planner uses, its lower bound (LP relaxation, rounded up), a naive baseline (every
node gets one of NVIDIA's predefined configs: all-<profile> per profile, or all-balanced, whichever
needs fewer GPUs), and first-fit-decreasing with the exact placement check.
Then the solver on 50 random mixed fleets (16-64 nodes, 6 GPU models, 25-60 workloads; worst and median
wall time, how many proven optimal), and the planner's wall time on 1,000 nodes x 8 GPUs with 300 workloads
(best of 3).
"""
from __future__ import absolute_import, division, print_function

import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '.cache', 'collections'))
sys.path.insert(0, os.path.join(HERE, '..', 'unit', 'plugins', 'module_utils'))

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog as mc  # noqa: E402
from ansible_collections.cnai.platform.plugins.module_utils import mig_planner as mp  # noqa: E402
import planner_fleets  # noqa: E402


def resolve(nodes, workloads):
    """Demand per (model key, profile) with each flexible workload put on the first model it fits."""
    parsed_nodes = mp.parse_nodes(nodes)
    demand = {}
    whole = 0
    for w in mp.parse_workloads(workloads, parsed_nodes):
        key = sorted(w.models)[0]
        if w.gpus:
            whole += w.gpus * w.instances
        else:
            demand[(key, w.models[key])] = demand.get((key, w.models[key]), 0) + w.instances
    return dict((n.model.key, n.model) for n in parsed_nodes), demand, whole


def naive(models, demand, whole):
    total = whole
    for key, model in models.items():
        d = dict((p, c) for (k, p), c in demand.items() if k == key)
        if not d:
            continue
        per_profile = sum(int(math.ceil(c / float(model.profiles[p].max_count))) for p, c in d.items())
        balanced = mc.predefined_layout(model, 'all-balanced')
        slots = {}
        by_compute = dict((model.profiles[p].compute, p) for p in balanced)
        extra = 0
        for p, c in d.items():
            prof = model.profiles[p]
            slot = None
            for b in sorted(balanced, key=lambda b: model.profiles[b].size):
                if model.profiles[b].memory_gib >= prof.memory_gib and model.profiles[b].compute >= prof.compute:
                    slot = b
                    break
            if slot is None:
                extra += int(math.ceil(c / float(prof.max_count)))
            else:
                slots[slot] = slots.get(slot, 0) + c
        bal = max([int(math.ceil(c / float(balanced[s]))) for s, c in slots.items()] or [0]) + extra
        del by_compute
        total += min(per_profile, bal)
    return total


def ffd(models, demand, whole):
    total = whole
    for key, model in models.items():
        items = []
        for (k, p), c in demand.items():
            if k == key:
                items.extend([p] * c)
        items.sort(key=lambda p: (-model.profiles[p].size, p))
        gpus = []
        for p in items:
            for g in gpus:
                g[p] = g.get(p, 0) + 1
                if mc.fits(model, g):
                    break
                g[p] -= 1
            else:
                gpus.append({p: 1})
        total += len(gpus)
    return total


def fleet(name, spec, workloads):
    nodes = []
    for product, count, gpus in spec:
        for i in range(count):
            nodes.append({'name': '%s-%d' % (mc.lookup(product).label, len(nodes)), 'gpu_product': product,
                          'gpu_count': gpus})
    return name, nodes, workloads


def random_workloads(rnd, n, products, most=40):
    out = []
    for i in range(n):
        kind = rnd.random()
        w = {'name': 'w%03d' % i, 'instances': rnd.randint(1, most)}
        if kind < 0.45:
            w['memory_gib'] = rnd.choice([4, 8, 12, 16, 20, 24, 30, 38, 45, 60, 70])
        elif kind < 0.9:
            product = rnd.choice(products)
            model = mc.lookup(product)
            w['profile'] = rnd.choice([p.name for p in model.profiles.values() if p.is_base and p.compute < 7])
            w['gpu_product'] = product
        else:
            w['gpus'] = rnd.choice([1, 2, 4, 8])
            w['instances'] = rnd.randint(1, 3)
        out.append(w)
    return out


def main():
    rnd = random.Random(2026)
    fleets = [
        fleet('h200 x16, chat + embed', [('NVIDIA H200', 2, 8)],
              [{'name': 'chat7b', 'instances': 9, 'memory_gib': 16}, {'name': 'chat32b', 'instances': 3, 'memory_gib': 60},
               {'name': 'embed', 'instances': 5, 'memory_gib': 8}, {'name': 'rerank', 'instances': 4, 'profile': '2g.35gb'}]),
        fleet('a100-80 x32, 1g heavy', [('NVIDIA A100-SXM4-80GB', 4, 8)],
              [{'name': 'small', 'instances': 37, 'profile': '1g.10gb'}, {'name': 'mid', 'instances': 7, 'profile': '3g.40gb'},
               {'name': 'big', 'instances': 2, 'gpus': 2}]),
        fleet('a100-40 x16, 3g+2g+1g', [('NVIDIA A100-SXM4-40GB', 2, 8)],
              [{'name': 'a', 'instances': 5, 'profile': '3g.20gb'}, {'name': 'b', 'instances': 7, 'profile': '2g.10gb'},
               {'name': 'c', 'instances': 9, 'profile': '1g.5gb'}, {'name': 'd', 'instances': 3, 'profile': '4g.20gb'}]),
        fleet('a30 x8', [('NVIDIA A30', 2, 4)],
              [{'name': 'a', 'instances': 5, 'profile': '2g.12gb'}, {'name': 'b', 'instances': 7, 'profile': '1g.6gb'}]),
        fleet('h100 + h200 mixed fleet', [('NVIDIA H100 80GB HBM3', 2, 8), ('NVIDIA H200', 2, 8)],
              [{'name': 'a', 'instances': 12, 'memory_gib': 18}, {'name': 'b', 'instances': 6, 'memory_gib': 39},
               {'name': 'c', 'instances': 5, 'memory_gib': 65}, {'name': 'd', 'instances': 2, 'gpus': 4}]),
        fleet('h200 x128, random 40 workloads', [('NVIDIA H200', 16, 8)],
              random_workloads(rnd, 40, ['NVIDIA H200'], most=4)),
    ]
    print('%-34s %6s %6s %6s %6s %8s' % ('fleet', 'plan', 'lower', 'naive', 'ffd', 'time_s'))
    for name, nodes, workloads in fleets:
        t = time.time()
        result = mp.plan(nodes, workloads)
        dt = time.time() - t
        models, demand, whole = resolve(nodes, workloads)
        print('%-34s %6d %6d %6d %6d %8.3f' % (name, result['gpus_used'], result['lower_bound'],
                                              naive(models, demand, whole), ffd(models, demand, whole), dt))
    random_fleets()
    products = ['NVIDIA H200', 'NVIDIA A100-SXM4-80GB', 'NVIDIA H100 80GB HBM3']
    nodes = []
    for i in range(1000):
        product = products[i % 3]
        nodes.append({'name': 'node-%04d' % i, 'gpu_product': product, 'gpu_count': 8})
    workloads = random_workloads(random.Random(8000), 300, products)
    times = []
    for _ in range(3):
        t = time.time()
        result = mp.plan(nodes, workloads)
        times.append(time.time() - t)
    print('large fleet: 1000 nodes x 8 GPUs, 300 workloads, %d instances: %d GPUs used (lower bound %d, %s), '
          'best of 3 runs %.2f s, worst %.2f s' % (sum(w['instances'] for w in workloads), result['gpus_used'],
                                                 result['lower_bound'], 'optimal' if result['optimal'] else 'NOT proven',
                                                 min(times), max(times)))


def random_fleets(count=50):
    """The issue's fleets: 16-64 nodes of 6 GPU models, 25-60 workloads, seeds 0..count-1."""
    times = []
    optimal = 0
    sizes = []
    for seed in range(count):
        nodes, workloads = planner_fleets.random_fleet(seed)
        t = time.time()
        result = mp.plan(nodes, workloads)
        times.append(time.time() - t)
        optimal += bool(result['optimal'])
        sizes.append((len(nodes), len(workloads), sum(w['instances'] for w in workloads)))
    order = sorted(range(count), key=lambda i: times[i])
    worst = order[-1]
    print('random mixed fleets: %d fleets (16-64 nodes, 6 GPU models, 25-60 workloads), %d proven optimal; '
          'median %.3f s, worst %.3f s (seed %d: %d nodes, %d workloads, %d instances)'
          % (count, optimal, times[order[count // 2]] if count % 2 else (times[order[count // 2 - 1]] + times[order[count // 2]]) / 2,
             times[worst], worst, sizes[worst][0], sizes[worst][1], sizes[worst][2]))


if __name__ == '__main__':
    main()
