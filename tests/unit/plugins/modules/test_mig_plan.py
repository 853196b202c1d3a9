# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnai.platform.mig_plan as Ansible runs it: argument handling, new return keys, errors without tracebacks."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
from unittest import mock

import pytest

from ansible.module_utils import _internal as _mu_internal
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cnai.platform.plugins.module_utils import milp
from ansible_collections.cnai.platform.plugins.modules import mig_plan

NODES = [{'name': 'gpu-h200-0', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2}]


def run_module(capsys, args):
    with patch_module_args(args), mock.patch.object(_mu_internal, 'is_controller', False):
        with pytest.raises(SystemExit) as exc:
            mig_plan.main()
    result = json.loads(capsys.readouterr().out)
    result['_rc'] = exc.value.code
    return result


def test_plan_returns_optimality_and_gap(capsys):
    result = run_module(capsys, {'nodes': NODES, 'workloads': [{'name': 'chat', 'instances': 9, 'memory_gib': '16'}],
                                 'time_limit': 5})
    assert result['_rc'] == 0 and result['changed'] is False
    assert result['gpus_used'] == 2 and result['lower_bound'] == 2
    assert result['optimal'] is True and result['gap'] == 0.0 and result['time_limit'] == 5.0
    assert {a['resource'] for a in result['assignments']} == {'nvidia.com/mig-1g.18gb'}


@pytest.mark.parametrize('workload,message', [
    ({'name': 'chat', 'instances': True, 'profile': '1g.18gb'}, 'workload chat instances must be a positive integer, got True'),
    ({'name': 'chat', 'memory_gib': True}, 'workload chat memory_gib must be a number of GiB, got True'),
    ({'name': 'chat', 'instances': 10 ** 12, 'profile': '1g.18gb'}, 'more than the limit of 100000'),
    ({'name': 'Chat_1', 'profile': '1g.18gb'}, 'is not a valid Kubernetes name'),
])
def test_bad_input_fails_with_the_field_not_a_traceback(capsys, workload, message):
    result = run_module(capsys, {'nodes': NODES, 'workloads': [workload]})
    assert result['_rc'] == 1 and result['failed'] is True
    assert message in result['msg']
    assert 'Traceback' not in json.dumps(result)


def test_missing_highspy_names_the_library(capsys, monkeypatch):
    monkeypatch.setattr(milp, 'HAS_HIGHSPY', False)
    result = run_module(capsys, {'nodes': NODES, 'workloads': [{'name': 'chat', 'profile': '1g.18gb'}]})
    assert result['failed'] is True
    assert 'Failed to import the required Python library (highspy)' in result['msg']
    assert 'pip install highspy' in result['msg']
