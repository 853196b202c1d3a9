# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight + plan for N simulated GPU nodes in one ansible-playbook run (default 1,000): prints the time.

    python tests/bench/bench_preflight.py [N]

Generates an inventory of N simulated GPU hosts (H200 x8 and A100-80GB x8, cnai_* host vars), a stub of
the N live Node objects (nvidia.com/mig.config=all-disabled, state success) and workloads that fill about a
third of the fleet, then times `ansible-playbook tests/bench/preflight.yml` (the gpu_facts play, skipped for
simulated hosts as in gpu.yml; cnai.platform.gpu_planner_nodes; cnai.platform.mig_plan;
cnai.platform.mig_rollout_plan). Target: under 10 s for 1,000 nodes. Prints wall and CPU seconds (the wall time
on a shared, loaded machine is mostly waiting for a CPU) and the load average. Prints numbers, asserts nothing.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PRODUCTS = [('NVIDIA H200', '0x233510DE'), ('NVIDIA A100-SXM4-80GB', '0x20B210DE')]


def generate(directory, count):
    hosts = {}
    live = []
    for i in range(count):
        name = 'gpu-%05d' % i
        product, pci = PRODUCTS[i % 2]
        hosts[name] = {'cnai_gpu_product': product, 'cnai_gpu_pci_device_id': pci, 'cnai_gpu_count': 8}
        live.append({'apiVersion': 'v1', 'kind': 'Node', 'metadata': {
            'name': name, 'labels': {'nvidia.com/mig.config': 'all-disabled', 'nvidia.com/mig.config.state': 'success',
                                     'nvidia.com/gpu.present': 'true'}, 'annotations': {}},
            'spec': {}, 'status': {'allocatable': {'nvidia.com/gpu': '8'}}})
    inventory = {'all': {
        'vars': {'ansible_python_interpreter': sys.executable},
        'children': {
            'cluster': {'hosts': {'localhost': {'ansible_connection': 'local'}}},
            'gpu_nodes': {'vars': {'cnai_simulated': True, 'ansible_connection': 'local'}, 'hosts': hosts}}}}
    per = max(1, count // 10)
    extra = {
        'bench_live_nodes': live,
        'bench_time_slicing': {'gpu-00001': 2},
        'cnai_workloads': [
            {'name': 'chat-small', 'instances': 7 * per, 'profile': '1g.18gb', 'gpu_product': 'NVIDIA H200'},
            {'name': 'chat-mid', 'instances': 2 * per, 'memory_gib': 35},
            {'name': 'embed', 'instances': 4 * per, 'memory_gib': 9},
            {'name': 'big', 'instances': per // 2 or 1, 'gpus': 4},
        ]}
    inv_path = os.path.join(directory, 'hosts.json')
    extra_path = os.path.join(directory, 'extra.json')
    with open(inv_path, 'w') as fh:
        json.dump(inventory, fh)
    with open(extra_path, 'w') as fh:
        json.dump(extra, fh)
    return inv_path, extra_path


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'))
    playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    with tempfile.TemporaryDirectory() as tmp:
        inv, extra = generate(tmp, count)
        t0 = time.time()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run([playbook, '-i', inv, '-e', '@' + extra, os.path.join(ROOT, 'tests', 'bench', 'preflight.yml')],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=600)
        elapsed = time.time() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if proc.returncode != 0:
        print(proc.stdout[-4000:])
        print('bench_preflight: ansible-playbook failed (rc %d)' % proc.returncode)
        return 1
    summary = re.search(r'BENCH [^"]*', proc.stdout)
    print('preflight + plan, %d simulated GPU nodes, one ansible-playbook run: %.1f s wall, %.1f s CPU (target < 10 s; '
          'load average %.1f on %d CPUs); %s' % (count, elapsed, cpu, os.getloadavg()[0], os.cpu_count(),
                                                 summary.group(0).strip() if summary else '?'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
