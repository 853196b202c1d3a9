# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generated alert rules under the real promtool (`make obs-rules` installs it and sets PROMTOOL).

* `promtool check rules` on the rules generated for a model set with a generate and an embed model;
* `promtool test rules` on the generated unit tests: every alert (per model and cluster-wide) has a series
  set that fires it, with its exact labels and annotations, and one that does not;
* the tests can fail: the same tests against rules with a changed threshold or severity must fail.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest
import yaml

from ansible_collections.cnai.platform.plugins.module_utils import alert_rules as ar

PROMTOOL = os.environ.get('PROMTOOL')
pytestmark = pytest.mark.skipif(not PROMTOOL, reason='PROMTOOL is not set: run `make obs-rules`')

MODELS = [
    {'name': 'qwen7b', 'model': 'Qwen/Qwen2.5-7B-Instruct', 'served_name': 'qwen2.5-7b'},
    {'name': 'llama8b', 'model': 'meta-llama/Llama-3.1-8B-Instruct'},
    {'name': 'bge-m3', 'model': 'BAAI/bge-m3', 'task': 'embed'},
]
RUNBOOK = 'https://example.invalid/cnai/platform/blob/main/docs/runbooks.md'
OVERRIDES = {'thresholds': {'waiting_requests': 3, 'gpu_temperature_celsius': 80, 'mig_pending_minutes': 20},
             'model_thresholds': {'llama8b': {'ttft_p95_seconds': 0.75, 'kv_cache_usage': 0.8}}}


def _run(*args):
    proc = subprocess.run([PROMTOOL] + list(args), capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _write(tmp_path, rules_kw, tests_kw):
    groups = ar.build_rules(MODELS, runbook_base=RUNBOOK, **rules_kw)
    (tmp_path / 'rules.yml').write_text(yaml.safe_dump({'groups': groups}, sort_keys=False, width=1000))
    doc = ar.build_rule_tests(['rules.yml'], MODELS, runbook_base=RUNBOOK, **tests_kw)
    (tmp_path / 'tests.yml').write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    return groups, doc


@pytest.mark.parametrize('kw', [{}, OVERRIDES], ids=['defaults', 'overrides'])
def test_check_and_test_rules(tmp_path, kw):
    groups, doc = _write(tmp_path, kw, kw)
    rc, out = _run('check', 'rules', str(tmp_path / 'rules.yml'))
    assert rc == 0, out
    assert 'SUCCESS: %d rules found' % len(ar.alert_index(groups)) in out
    rc, out = _run('test', 'rules', str(tmp_path / 'tests.yml'))
    assert rc == 0, out
    assert 'SUCCESS' in out
    # every rule has exactly one firing case and one quiet case
    assert len(doc['tests']) == 2 * len(ar.alert_index(groups))


@pytest.mark.parametrize('rules_kw', [
    {'thresholds': {'waiting_requests': 50}},                       # backlog case no longer over threshold
    {'severities': {'GPUXidError': 'warning'}},                     # expected severity label differs
    {'thresholds': {'mig_pending_minutes': 90}},                    # pending case too short now
    {'model_thresholds': {'qwen7b': {'kv_cache_usage': 0.999}}},    # KV case below threshold
], ids=['threshold', 'severity', 'for', 'model-threshold'])
def test_the_tests_can_fail(tmp_path, rules_kw):
    _write(tmp_path, rules_kw, {})
    rc, out = _run('test', 'rules', str(tmp_path / 'tests.yml'))
    assert rc != 0, 'promtool accepted rules that differ from what the tests expect'
    assert 'FAILED' in out
