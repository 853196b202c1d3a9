# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Random mixed fleets for the planner's tests and benchmark: 6 GPU models, 16-64 nodes, 25-60 workloads.

Deterministic per seed. Demand is drawn so that it fits the fleet (about half of its capacity), so each
fleet has a plan and the solver has to prove its optimum.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import random

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog

PRODUCTS = ['NVIDIA H200', 'NVIDIA A100-SXM4-80GB', 'NVIDIA A100-SXM4-40GB', 'NVIDIA H100 80GB HBM3',
            'NVIDIA A30', 'NVIDIA B200']
PROFILES = {   # base profiles a workload pinned to one model may name (no 7g: that is a whole GPU)
    'NVIDIA H200': ['1g.18gb', '1g.35gb', '2g.35gb', '3g.71gb', '4g.71gb'],
    'NVIDIA A100-SXM4-80GB': ['1g.10gb', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb'],
    'NVIDIA A100-SXM4-40GB': ['1g.5gb', '1g.10gb', '2g.10gb', '3g.20gb', '4g.20gb'],
    'NVIDIA H100 80GB HBM3': ['1g.10gb', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb'],
    'NVIDIA A30': ['1g.6gb', '2g.12gb'],
    'NVIDIA B200': ['1g.23gb', '1g.45gb', '2g.45gb', '3g.90gb'],
}


def _share(model, profile):
    """Fraction of one GPU an instance of ``profile`` takes on ``model``'s placement grid."""
    return model.profiles[profile].size / float(model.placement_units)


def random_fleet(seed, nodes=None, workloads=None):
    """(nodes, workloads) for mig_plan: ``nodes`` in 16..64 and ``workloads`` in 25..60 unless given.

    Budgets keep demand feasible: instances pinned to a model take at most 35 % of its GPUs, flexible
    (memory_gib) instances at most 35 % of the fleet counted on their most expensive model, whole-GPU
    instances at most 10 %.
    """
    rnd = random.Random(seed)
    n_nodes = nodes or rnd.randint(16, 64)
    n_workloads = workloads or rnd.randint(25, 60)
    fleet = []
    for i in range(n_nodes):
        product = PRODUCTS[i % len(PRODUCTS)] if i < len(PRODUCTS) else rnd.choice(PRODUCTS)
        fleet.append({'name': 'node-%02d' % i, 'gpu_product': product, 'gpu_count': rnd.choice([2, 4, 8])})
    gpus = sum(n['gpu_count'] for n in fleet)
    per_product = {}
    for n in fleet:
        per_product[n['gpu_product']] = per_product.get(n['gpu_product'], 0) + n['gpu_count']
    models = dict((p, mig_catalog.lookup(p)) for p in per_product)
    pinned_left = dict((p, 0.35 * c) for p, c in per_product.items())
    flex_left, whole_left = 0.35 * gpus, 0.10 * gpus
    most = max(2, gpus // n_workloads)
    out = []
    for i in range(n_workloads):
        w = {'name': 'w%02d' % i}
        kind = rnd.random()
        if kind < 0.08 and whole_left >= 2:
            w['gpus'] = rnd.choice([1, 2])
            w['instances'] = max(1, min(2, int(whole_left // w['gpus']) // 2))
            whole_left -= w['gpus'] * w['instances']
        elif kind < 0.5:
            product = rnd.choice(sorted(per_product))
            w['profile'] = rnd.choice(PROFILES[product])
            w['gpu_product'] = product
            share = _share(models[product], w['profile'])
            w['instances'] = min(rnd.randint(1, 2 * most), int(pinned_left[product] / share))
            pinned_left[product] -= share * w['instances']
            if not w['instances']:      # no room left on that model: a small flexible workload instead
                w = {'name': w['name'], 'instances': 1, 'memory_gib': 4}
        else:
            w['memory_gib'] = rnd.choice([4, 8, 12, 16, 20, 30, 38, 45, 60])
            shares = []
            for model in models.values():
                fits = [p for p in model.profiles.values() if p.is_base and p.memory_gib >= w['memory_gib']]
                if fits:
                    shares.append(min(_share(model, p.name) for p in fits))
            share = max(shares) if shares else 1.0
            w['instances'] = max(1, min(rnd.randint(1, 2 * most), int(flex_left / share)))
            flex_left = max(0.0, flex_left - share * w['instances'])
        out.append(w)
    return fleet, out


def issue_fleet():
    """The fleet issue 12 names: 16 nodes, six GPU models, 25 workloads, on which the old pure-Python branch
    and bound stopped with "branch and bound exceeded 20000 nodes" (after 211 s on the development machine)."""
    rnd = random.Random(2)
    fleet = []
    for i in range(16):
        product = PRODUCTS[i % len(PRODUCTS)] if i < len(PRODUCTS) else rnd.choice(PRODUCTS)
        fleet.append({'name': 'node-%02d' % i, 'gpu_product': product, 'gpu_count': rnd.choice([2, 4, 8])})
    gpus = sum(n['gpu_count'] for n in fleet)
    per_workload = max(1, gpus // (2 * 25))
    in_fleet = sorted(set(n['gpu_product'] for n in fleet))
    out = []
    for i in range(25):
        w = {'name': 'w%02d' % i, 'instances': rnd.randint(1, 2 * per_workload)}
        kind = rnd.random()
        if kind < 0.5:
            w['memory_gib'] = rnd.choice([4, 8, 12, 16, 20, 30, 38, 45, 60])
        elif kind < 0.92:
            product = rnd.choice(in_fleet)
            w['profile'] = rnd.choice(PROFILES[product])
            w['gpu_product'] = product
        else:
            w['gpus'] = rnd.choice([1, 2])
            w['instances'] = rnd.randint(1, 2)
        out.append(w)
    return fleet, out
