# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnai.platform.model_sizing as a module: argument parsing, check mode equal to a run, failures as messages
(never a traceback), warnings, and ansible-doc rendering its documentation."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
from unittest import mock

import pytest

from ansible.module_utils import _internal as _mu_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cnai.platform.plugins.modules import model_sizing

MODELS = [
    {'name': 'qwen-chat', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'max_model_len': 8192,
     'replicas': {'min': 2, 'max': 8}},
    {'name': 'llama70', 'model': 'meta-llama/Llama-3.3-70B-Instruct', 'max_model_len': 16384},
    {'name': 'embed', 'model': 'BAAI/bge-m3', 'task': 'embed'},
]
PRODUCTS = ['NVIDIA H200', 'NVIDIA A100-SXM4-80GB']


def run_module(capsys, args, check_mode=False):
    module_args = dict(args)
    if check_mode:
        module_args['_ansible_check_mode'] = True
    with patch_module_args(module_args), mock.patch.object(_mu_internal, 'is_controller', False):
        with pytest.raises(SystemExit) as exc:
            model_sizing.main()
    result = json.loads(capsys.readouterr().out)
    result['_rc'] = exc.value.code
    return result


def test_run_and_check_mode_are_the_same(capsys):
    run = run_module(capsys, {'models': MODELS, 'gpu_products': PRODUCTS})
    check = run_module(capsys, {'models': MODELS, 'gpu_products': PRODUCTS}, check_mode=True)
    assert run['_rc'] == 0 and run['changed'] is False
    for key in ('models', 'workloads', 'report'):
        assert run[key] == check[key]
    assert [w['name'] for w in run['workloads']] == ['qwen-chat', 'llama70', 'embed']
    assert run['workloads'][0] == {'name': 'qwen-chat', 'instances': 8, 'memory_gib': 12.22}
    assert run['workloads'][1] == {'name': 'llama70', 'instances': 1, 'gpus': 2, 'gpu_product': 'NVIDIA H200'}
    assert run['models'][2]['embedding_dim'] == 1024
    assert any('would need 4' in w for w in run['models'][1]['warnings'])    # the A100 note
    assert 'would need 4' in json.dumps(run['warnings'])                       # also a module warning


def test_bad_input_fails_with_the_numbers(capsys):
    r = run_module(capsys, {'models': [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'replicas': {'min': 3, 'max': 1}},
                                       {'name': 'b', 'model': 'Qwen/Qwen2.5-7B', 'max_model_len': 100000}],
                            'gpu_products': PRODUCTS})
    assert r['_rc'] == 1 and r['failed'] is True
    assert 'replicas.min 3 is greater than replicas.max 1' in r['msg']
    assert 'max_model_len 100000 is longer than the model allows (32768' in r['msg']
    assert 'Traceback' not in r['msg']


def test_argspec_rejects_unknown_choices(capsys):
    r = run_module(capsys, {'models': [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B', 'quantization': 'int4'}],
                            'gpu_products': PRODUCTS})
    assert r['failed'] is True and 'int4' in r['msg'] and 'awq' in r['msg']


def test_defaults_filled_by_the_argspec_do_not_change_the_result(capsys):
    r = run_module(capsys, {'models': [{'name': 'a', 'model': 'Qwen/Qwen2.5-7B-Instruct', 'quantization': 'bf16'}],
                            'gpu_products': PRODUCTS})
    assert r['models'][0]['dtype'] == 'bfloat16' and r['models'][0]['max_num_seqs'] == 8


@pytest.mark.skipif(not shutil.which('ansible-doc', path=os.path.dirname(sys.executable)), reason='no ansible-doc')
def test_ansible_doc_renders():
    doc = shutil.which('ansible-doc', path=os.path.dirname(sys.executable))
    proc = subprocess.run([doc, '-t', 'module', '--json', 'cnai.platform.model_sizing'], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)['cnai.platform.model_sizing']
    assert data['doc']['options']['models']['suboptions']['quantization']['choices'] == \
        ['none', 'bf16', 'fp16', 'fp8', 'awq', 'gptq', 'int8']
    assert 'workloads' in data['return'] and 'vllm_quantization' in data['return']['models']['contains']


REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..'))


def _ansible(tmp_path, args, check):
    collections = os.path.join(REPO, '.cache', 'collections')
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')
    if not os.path.isdir(os.path.join(collections, 'ansible_collections', 'cnai', 'platform')) or \
            not os.path.exists(ansible):
        pytest.skip('collection link .cache/collections or the ansible binary missing (make venv creates them)')
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'),
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               ANSIBLE_NOCOLOR='1', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'))
    env.pop('PYTHONPATH', None)
    cmd = [ansible, 'localhost', '-i', 'localhost,', '-c', 'local', '-m', 'cnai.platform.model_sizing',
           '-a', json.dumps(args), '-e', 'ansible_python_interpreter=%s' % sys.executable] + (['--check'] if check else [])
    proc = subprocess.run(cmd, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False, timeout=300)
    doc = json.loads(proc.stdout)
    return proc.returncode, doc['plays'][0]['tasks'][0]['hosts']['localhost']


def test_ansible_adhoc_check_mode_and_failure(tmp_path):
    rc, task = _ansible(tmp_path, {'models': MODELS, 'gpu_products': PRODUCTS}, check=True)
    assert rc == 0 and task['changed'] is False, task
    assert task['workloads'][0] == {'name': 'qwen-chat', 'instances': 8, 'memory_gib': 12.22}
    rc, task = _ansible(tmp_path, {'models': [{'name': 'big', 'model': 'deepseek-ai/DeepSeek-V3', 'quantization': 'fp8'}],
                                   'gpu_products': ['NVIDIA A100-SXM4-40GB']}, check=False)
    assert rc != 0 and task['failed'] is True
    assert 'model big fits no GPU of the fleet' in task['msg'] and 'Traceback' not in json.dumps(task)
