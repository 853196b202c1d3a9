#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services benchmark: models in, manifests out. Prints numbers; asserts nothing.

For the local inventory (inventories/local: 2 x 8 H200, 1 x 4 A100-80GB, its cnai_models) and for a
synthetic 1,000-node fleet serving 200 models, the wall time of the pure path the vllm role runs on the
controller - model_sizing.size (sizing), mig_planner.plan (placement of every replica at replicas.max) and
vllm_manifests.render (Deployments, autoscalers, PDBs, monitors, overlays) - best of N runs; and the
GPUs the plan needs against one whole GPU per replica (what a cluster without MIG would need: a
whole-GPU model still takes its tensor-parallel GPU count).
"""
from __future__ import absolute_import, division, print_function

import os
import random
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, '.cache', 'collections'))

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog as mc  # noqa: E402
from ansible_collections.cnai.platform.plugins.module_utils import mig_planner as mp  # noqa: E402
from ansible_collections.cnai.platform.plugins.module_utils import model_sizing as ms  # noqa: E402
from ansible_collections.cnai.platform.plugins.module_utils import vllm_manifests as vm  # noqa: E402

OPTIONS = {'image': 'vllm/vllm-openai:v0.27.1', 'hub_token_secret': 'hf-token'}


def local_fleet():
    hosts = yaml.safe_load(open(os.path.join(ROOT, 'inventories', 'local', 'hosts.yml')))
    gpu_hosts = hosts['all']['children']['gpu_nodes']['hosts']
    nodes = [{'name': h, 'gpu_product': v['gpu_product'], 'gpu_count': int(v['gpu_count'])}
             for h, v in sorted(gpu_hosts.items())]
    models = yaml.safe_load(open(os.path.join(ROOT, 'inventories', 'local', 'group_vars', 'all.yml')))['cnai_models']
    return nodes, models


# Model shapes for the synthetic fleet: (hub id, quantization, contexts, seqs, replicas max range, task)
SHAPES = [
    ('Qwen/Qwen2.5-7B-Instruct-AWQ', 'awq', (4096, 8192), (4, 8), (2, 12), 'generate'),
    ('meta-llama/Llama-3.1-8B-Instruct', 'bf16', (8192, 16384), (4, 8), (1, 8), 'generate'),
    ('meta-llama/Llama-3.1-8B-Instruct', 'fp8', (8192, 32768), (2, 4), (1, 8), 'generate'),
    ('Qwen/Qwen2.5-14B-Instruct', 'fp8', (8192, 16384), (2, 4), (1, 6), 'generate'),
    ('Qwen/Qwen2.5-32B-Instruct', 'fp8', (8192, 16384), (2, 4), (1, 4), 'generate'),
    ('meta-llama/Llama-3.3-70B-Instruct', 'bf16', (8192, 32768), (4, 8), (1, 3), 'generate'),
    ('meta-llama/Llama-3.3-70B-Instruct', 'fp8', (8192, 16384), (2, 4), (1, 3), 'generate'),
    ('BAAI/bge-m3', None, (8192,), (16, 32), (1, 8), 'embed'),
]


def big_fleet(n_nodes=1000, n_models=200, seed=7):
    rnd = random.Random(seed)
    nodes = []
    for i in range(n_nodes):
        if i % 5 == 4:
            nodes.append({'name': 'a100-%04d' % i, 'gpu_product': 'NVIDIA A100-SXM4-80GB', 'gpu_count': 8})
        else:
            nodes.append({'name': 'h200-%04d' % i, 'gpu_product': 'NVIDIA H200', 'gpu_count': 8})
    models = []
    for i in range(n_models):
        hub, quant, lens, seqs, reps, task = SHAPES[i % len(SHAPES)]
        hi = rnd.randint(*reps)
        m = {'name': 'm%03d' % i, 'model': hub, 'max_model_len': rnd.choice(lens),
             'max_num_seqs': rnd.choice(seqs), 'replicas': {'min': rnd.randint(0, hi), 'max': hi}, 'task': task}
        if quant:
            m['quantization'] = quant
        models.append(m)
    return nodes, models


def products(nodes):
    return sorted(set(n['gpu_product'] for n in nodes))


def labels(nodes):
    return dict((n['name'], mc.sanitize_product(n['gpu_product'])) for n in nodes)


def run_once(nodes, models):
    t0 = time.time()
    sizing = ms.size(models, products(nodes))
    t1 = time.time()
    plan = mp.plan(nodes, sizing['workloads'], 'mixed')
    t2 = time.time()
    rendered = vm.render(models, sizing['models'], plan['assignments'], labels(nodes), OPTIONS)
    t3 = time.time()
    return (t1 - t0, t2 - t1, t3 - t2), sizing, plan, rendered


def bench(label, nodes, models, runs):
    best = None
    for _ in range(runs):
        times, sizing, plan, rendered = run_once(nodes, models)
        if best is None or sum(times) < sum(best):
            best = times
    replicas = sum(m['replicas']['max'] for m in sizing['models'])
    whole = sum(m['replicas']['max'] * (m['tensor_parallel'] if m['placement'] == 'gpus' else 1)
                for m in sizing['models'])
    mig_replicas = sum(m['replicas']['max'] for m in sizing['models'] if m['placement'] == 'mig')
    kinds = {}
    for o in rendered['resources']:
        kinds[o['kind']] = kinds.get(o['kind'], 0) + 1
    print('%s: %d nodes, %d GPUs, %d models, %d replicas at max (%d on MIG)'
          % (label, len(nodes), sum(n['gpu_count'] for n in nodes), len(models), replicas, mig_replicas))
    print('  time (best of %d): sizing %.3f s + plan %.3f s + render %.3f s = %.3f s'
          % (runs, best[0], best[1], best[2], sum(best)))
    print('  objects rendered: %s' % ', '.join('%d %s' % (kinds[k], k) for k in sorted(kinds)))
    print('  GPUs needed: plan %d (lower bound %d) vs %d with one whole GPU per replica (x%.2f)'
          % (plan['gpus_used'], plan['lower_bound'], whole, whole / float(max(plan['gpus_used'], 1))))


def main():
    nodes, models = local_fleet()
    bench('local inventory', nodes, models, runs=20)
    nodes, models = big_fleet()
    bench('large fleet', nodes, models, runs=3)


if __name__ == '__main__':
    main()
