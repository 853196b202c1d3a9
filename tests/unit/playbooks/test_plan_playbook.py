# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/plan.yml on bad inventories: each stops with a message naming the group or variable to set."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
LOCAL = {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}
WORKLOADS = [{'name': 'a', 'instances': 1, 'memory_gib': 10}]


def run_plan(tmp_path, inventory):
    inv = tmp_path / 'hosts.json'
    inv.write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inv),
                           '-e', 'cnai_plan_dir=%s' % tmp_path, os.path.join(ROOT, 'playbooks', 'plan.yml')],
                          env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    return proc.returncode, proc.stdout


@pytest.mark.parametrize('inventory,message', [
    ({'all': {'hosts': LOCAL, 'vars': {'cnai_workloads': WORKLOADS}}},
     'plan.yml needs the GPU hosts in the inventory group gpu_nodes (it has none)'),
    ({'all': {'hosts': LOCAL, 'children': {'gpu_nodes': {'hosts': {'g1': {'cnai_gpu_product': 'NVIDIA H200',
                                                                          'cnai_gpu_count': 8, 'cnai_simulated': True}}}}}},
     'plan.yml needs cnai_models (the models to serve'),
    ({'all': {'hosts': LOCAL, 'vars': {'cnai_workloads': WORKLOADS},
              'children': {'gpu_nodes': {'hosts': {'g1': {'gpu_product': 'NVIDIA H200', 'gpu_count': 8,
                                                          'cnai_simulated': True}}}}}},
     'these host variables are no longer read; rename them: gpu_count -> cnai_gpu_count (hosts: g1); '
     'gpu_product -> cnai_gpu_product (hosts: g1)'),
])
def test_bad_inventories_name_what_to_set(tmp_path, inventory, message):
    rc, out = run_plan(tmp_path, inventory)
    assert rc != 0
    assert message in ' '.join(out.split()), out[-3000:]
    assert 'is undefined' not in out


MODELS = [{'name': 'chat', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'replicas': {'min': 1, 'max': 3}}]


def test_models_are_sized_then_planned(tmp_path):
    inventory = {'all': {'hosts': LOCAL, 'vars': {'cnai_models': MODELS},
                         'children': {'gpu_nodes': {'hosts': {'g1': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8,
                                                                     'cnai_simulated': True}}}}}}
    rc, out = run_plan(tmp_path, inventory)
    assert rc == 0, out[-3000:]
    plan = yaml.safe_load((tmp_path / 'plan.yaml').read_text())
    # Qwen2.5-7B AWQ at the default 8k x 8 sequences needs 12.22 GiB: one 1g.18gb per replica, three replicas
    assert [(a['workload'], a['profile']) for a in plan['assignments']] == [('chat', '1g.18gb')] * 3
    assert 'chat' in (tmp_path / 'report.txt').read_text().split('\n')[0]


def test_a_good_inventory_plans(tmp_path):
    inventory = {'all': {'hosts': LOCAL, 'vars': {'cnai_workloads': WORKLOADS},
                         'children': {'gpu_nodes': {'hosts': {'g1': {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8,
                                                                     'cnai_simulated': True}}}}}}
    rc, out = run_plan(tmp_path, inventory)
    assert rc == 0, out[-3000:]
    assert (tmp_path / 'mig-config.yaml').exists() and 'g1' in (tmp_path / 'plan.yaml').read_text()
