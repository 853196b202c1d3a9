# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parameter counts of the sizing formula against transformers' exact counts.

The fixture was produced on the GPU host by tests/hardware/param_counts.py (transformers builds each
architecture from its config on the meta device, no weights; ``sum(p.numel() for p in model.parameters())``).
Tolerance: none, the counts must be equal. The fixture also keeps the config each count was made from, so a
change to the built-in table without re-running the script fails here.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import model_sizing as ms
from ansible_collections.cnai.platform.plugins.module_utils.model_sizing_data import ARCHITECTURES

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'model_sizing',
                       'param_counts.json')
with open(FIXTURE) as _f:
    COUNTS = json.load(_f)


def test_fixture_says_how_it_was_made():
    assert COUNTS['command'].startswith('python3 tests/hardware/param_counts.py')
    assert COUNTS['transformers'] and COUNTS['torch']


@pytest.mark.parametrize('key', sorted(ARCHITECTURES))
def test_every_builtin_architecture_equals_transformers(key):
    rec = COUNTS['models'].get(key)
    assert rec is not None, '%s has no transformers count: re-run tests/hardware/param_counts.py' % key
    assert rec['config'] == ARCHITECTURES[key]['config'], 'table changed since the count: re-run the script'
    assert rec['task'] == ARCHITECTURES[key]['task']
    assert rec['params'] is not None, rec.get('error')
    arch = ms.Arch(dict(ARCHITECTURES[key]['config']), ARCHITECTURES[key]['task'])
    assert arch.params['total'] == rec['params']


@pytest.mark.parametrize('key', sorted(k for k in COUNTS['models'] if k.startswith('variant/')))
def test_formula_branches_equal_transformers(key):
    """Configs outside the table: attention/MLP biases, no head_dim + tied, MoE sparse step and mlp_only
    layers, MLA without q_lora and two shared experts, an untied decoder embedder."""
    rec = COUNTS['models'][key]
    assert ms.Arch(dict(rec['config']), rec['task']).params['total'] == rec['params']


def test_the_check_can_fail():
    """A one-off change in the config changes the count: the comparison above is not vacuous."""
    cfg = dict(ARCHITECTURES['Qwen/Qwen2.5-7B']['config'], num_key_value_heads=8)
    assert ms.Arch(cfg, 'generate').params['total'] != COUNTS['models']['Qwen/Qwen2.5-7B']['params']


def test_known_published_sizes():
    """Sanity against the model cards' rounded sizes."""
    got = dict((k, COUNTS['models'][k]['params']) for k in COUNTS['models'])
    assert round(got['Qwen/Qwen2.5-7B'] / 1e9, 2) == 7.62
    assert round(got['meta-llama/Llama-3.1-8B'] / 1e9, 2) == 8.03
    assert round(got['meta-llama/Llama-3.1-70B'] / 1e9, 1) == 70.6
    assert round(got['deepseek-ai/DeepSeek-V3'] / 1e9) == 671
    assert round(got['Qwen/Qwen3-30B-A3B'] / 1e9, 1) == 30.5
    assert round(got['BAAI/bge-m3'] / 1e6) == 567
    assert round(got['nomic-ai/nomic-embed-text-v1.5'] / 1e6) == 137
