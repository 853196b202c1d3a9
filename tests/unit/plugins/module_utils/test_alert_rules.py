# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alert rules generated from cnai_models: expressions, validation, runbooks, promtool test documents.
The real promtool runs on the same documents in `make obs-rules` (tests/promtool)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import alert_rules as ar

from exporter_metrics import ALL, VLLM_REMOVED, metric_names

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
MODELS = [
    {'name': 'qwen7b', 'model': 'Qwen/Qwen2.5-7B-Instruct', 'served_name': 'qwen2.5-7b'},
    {'name': 'bge-m3', 'model': 'BAAI/bge-m3', 'task': 'embed'},
]


def _rules(**kw):
    groups = ar.build_rules(MODELS, **kw)
    return [r for g in groups for r in g['rules']]


def _find(rules, alert, model=None):
    found = [r for r in rules if r['alert'] == alert and r['labels'].get('model') == model]
    assert len(found) == 1, (alert, model, found)
    return found[0]


def test_catalogue_covers_the_issue():
    names = set(ar.ALERT_NAMES)
    for required in ['VLLMQueueBacklog', 'VLLMKVCacheSaturated', 'VLLMPreemptions', 'VLLMTimeToFirstTokenHigh',
                     'VLLMEndToEndLatencyHigh', 'VLLMAbortedRequestsHigh', 'VLLMThroughputStalled',
                     'VLLMTargetDown', 'GPUXidError', 'GPUTemperatureHigh', 'GPURowRemapFailure',
                     'GPUUncorrectableECCErrors', 'GPUAllocatedButIdle', 'MIGConfigFailed',
                     'MIGConfigPendingTooLong', 'MilvusSearchLatencyHigh', 'MilvusErrorRatioHigh',
                     'GatewayHighErrorRatio', 'GatewayLatencyHigh', 'KEDAScalerErrors',
                     'VLLMAtMaxReplicasWithQueue']:
        assert required in names
    assert len(names) == len(ar.ALERT_NAMES), 'alert names must be unique'


def test_every_rule_is_complete_and_uses_real_metrics():
    rules = _rules(runbook_base='https://example.invalid/docs/runbooks.md')
    assert len(rules) == 29   # 9 per generate model, 6 per embed model, 14 cluster-wide
    for rule in rules:
        assert set(rule['annotations']) == set(['summary', 'description', 'runbook_url'])
        assert rule['annotations']['runbook_url'] == (
            'https://example.invalid/docs/runbooks.md#' + rule['alert'].lower())
        assert rule['labels']['severity'] in ar.SEVERITIES
        assert re.match(r'^\d+[smh]$', rule['for'])
        names = metric_names(rule['expr'])
        assert names, rule['expr']
        for name in names:
            assert name in ALL, '%s uses %s, which no exporter exposes' % (rule['alert'], name)
            assert name not in VLLM_REMOVED


def test_model_rules_select_the_served_name_and_thresholds():
    rules = _rules(thresholds={'waiting_requests': 4, 'gpu_temperature_celsius': 80},
                   model_thresholds={'qwen7b': {'ttft_p95_seconds': 0.5, 'scaled_object': 'qwen-scaler'}})
    backlog = _find(rules, 'VLLMQueueBacklog', 'qwen7b')
    assert backlog['expr'] == ('sum by (namespace, model_name) (vllm:num_requests_waiting{model_name="qwen2.5-7b"})'
                               ' > 4')
    assert _find(rules, 'VLLMQueueBacklog', 'bge-m3')['expr'].endswith('{model_name="BAAI/bge-m3"}) > 4')
    ttft = _find(rules, 'VLLMTimeToFirstTokenHigh', 'qwen7b')
    assert 'vllm:time_to_first_token_seconds_bucket{model_name="qwen2.5-7b"}[5m]' in ttft['expr']
    assert ttft['expr'].endswith(' > 0.5')
    assert _find(rules, 'VLLMEndToEndLatencyHigh', 'qwen7b')['expr'].endswith(' > 30')
    assert 'horizontalpodautoscaler=~"keda-hpa-qwen-scaler(-.+)?"' in _find(
        rules, 'VLLMAtMaxReplicasWithQueue', 'qwen7b')['expr']
    assert 'horizontalpodautoscaler=~"keda-hpa-bge-m3(-.+)?"' in _find(rules, 'VLLMAtMaxReplicasWithQueue',
                                                                       'bge-m3')['expr']
    # role vllm's PodMonitors are named after the models: job="<namespace>/<model>"
    assert _find(rules, 'VLLMTargetDown')['expr'] == 'up{job=~".+/(qwen7b|bge-m3)"} == 0'
    assert _find(_rules(thresholds={'vllm_job_regex': 'vllm'}), 'VLLMTargetDown')['expr'] == 'up{job=~"vllm"} == 0'
    assert _find(rules, 'GPUTemperatureHigh')['expr'] == 'DCGM_FI_DEV_GPU_TEMP > 80'
    kv = _find(rules, 'VLLMKVCacheSaturated', 'qwen7b')
    assert kv['expr'].endswith('vllm:kv_cache_usage_perc{model_name="qwen2.5-7b"}) > 0.9')
    assert 'more than 90% full' not in _find(rules, 'VLLMKVCacheSaturated', 'qwen7b')['annotations']['description']
    assert 'above 90% full' in _find(rules, 'VLLMKVCacheSaturated', 'qwen7b')['annotations']['description']


def test_embed_models_get_no_token_alerts():
    rules = _rules()
    token_alerts = ('VLLMTimeToFirstTokenHigh', 'VLLMThroughputStalled')
    models = [r['labels'].get('model') for r in rules if r['alert'] in token_alerts]
    assert models == ['qwen7b', 'qwen7b']


def test_severity_override_and_disable():
    rules = _rules(severities={'VLLMQueueBacklog': 'critical'}, disabled=['GPUAllocatedButIdle'],
                   components=['vllm', 'gpu'])
    assert _find(rules, 'VLLMQueueBacklog', 'qwen7b')['labels']['severity'] == 'critical'
    assert not [r for r in rules if r['alert'] == 'GPUAllocatedButIdle']
    assert set(r['labels']['component'] for r in rules) == set(['vllm', 'gpu'])


@pytest.mark.parametrize('kwargs, message', [
    ({'severities': {'VLLMQueueBacklog': 'urgent'}},
     "observability_alert_severities.VLLMQueueBacklog: unknown severity 'urgent'; use one of critical, warning, info"),
    ({'severities': {'NoSuchAlert': 'warning'}}, 'observability_alert_severities.NoSuchAlert: unknown alert'),
    ({'thresholds': {'kv_cache_usage': 1.0}}, 'observability_alert_thresholds.kv_cache_usage: is a ratio between'),
    ({'thresholds': {'ttft_p95_seconds': 0}}, 'observability_alert_thresholds.ttft_p95_seconds: must be > 0'),
    ({'thresholds': {'waiting_requests': 'lots'}}, "observability_alert_thresholds.waiting_requests: must be a number"),
    ({'thresholds': {'nope': 1}}, 'observability_alert_thresholds.nope: unknown threshold'),
    ({'thresholds': {'vllm_job_regex': '(['}}, 'observability_alert_thresholds.vllm_job_regex: not a valid regular'),
    ({'thresholds': {'mig_pending_minutes': 2.5}}, 'mig_pending_minutes: must be a whole number of minutes'),
    ({'model_thresholds': {'llama': {'ttft_p95_seconds': 1}}},
     'observability_model_alert_thresholds.llama: no such model in cnai_models (has: qwen7b, bge-m3)'),
    ({'model_thresholds': {'qwen7b': {'gpu_temperature_celsius': 1}}},
     'observability_model_alert_thresholds.qwen7b.gpu_temperature_celsius: unknown threshold'),
    ({'disabled': ['Nope']}, "observability_alerts_disabled: unknown alert 'Nope'"),
    ({'components': ['redis']}, "observability_alert_components: unknown component 'redis'"),
])
def test_bad_input_names_the_variable(kwargs, message):
    with pytest.raises(ar.AlertRulesError) as err:
        ar.build_rules(MODELS, **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize('models, message', [
    ([{'name': 'x'}], 'cnai_models[0] (x): has no metrics identity: set served_name'),
    ([{'name': 'Bad_Name', 'model': 'm'}], "cnai_models[0].name: must be a DNS label"),
    ([{'name': 'a', 'model': 'm', 'task': 'rerank'}], "cnai_models[0] (a).task: must be one of generate, embed"),
    ([{'name': 'a', 'model': 'm'}, {'name': 'a', 'model': 'n'}], "cnai_models[1] (a).name: 'a' is listed twice"),
    ([{'name': 'a', 'served_name': 'x"y'}], 'must not contain quotes'),
    ('qwen', 'cnai_models: must be a list of models'),
])
def test_models_without_metrics_identity_are_rejected(models, message):
    with pytest.raises(ar.AlertRulesError) as err:
        ar.build_rules(models)
    assert message in str(err.value)


def test_runbook_has_one_section_per_alert():
    with open(os.path.join(ROOT, 'docs', 'runbooks.md')) as f:
        text = f.read()
    headings = re.findall(r'^## (\S+)$', text, re.M)
    assert sorted(headings) == sorted(ar.ALERT_NAMES)
    for name in ar.ALERT_NAMES:
        section = text.split('## %s\n' % name, 1)[1].split('\n## ', 1)[0]
        for part in ('**Meaning**', '**Impact**', '**Diagnosis**', '**Mitigation**'):
            assert part in section, (name, part)


def test_rule_tests_have_a_firing_and_a_quiet_case_per_rule():
    doc = ar.build_rule_tests(['rules.yml'], MODELS)
    rules = _rules()
    assert len(doc['tests']) == 2 * len(rules)
    fired = {}
    for test in doc['tests']:
        case = test['alert_rule_test'][0]
        for exp in case['exp_alerts']:
            fired[(case['alertname'], exp['exp_labels'].get('model'))] = exp
        for series in test['input_series']:
            assert metric_names(series['series'])[0] in ALL
    assert set(fired) == set((r['alert'], r['labels'].get('model')) for r in rules)
    exp = fired[('VLLMQueueBacklog', 'qwen7b')]
    assert exp['exp_labels'] == {'namespace': 'ai', 'model_name': 'qwen2.5-7b', 'severity': 'warning',
                                 'component': 'vllm', 'model': 'qwen7b'}
    assert exp['exp_annotations']['summary'] == 'vLLM queue backlog for qwen2.5-7b'


def test_histogram_cases_straddle_the_threshold():
    series = ar._histogram_series('m_bucket', 2.0, True, 'a="b"')
    counts = dict((s.split('le="')[1].rstrip('"}'), int(v.split('+')[1].split('x')[0])) for s, v in series)
    assert counts == {'0.5': 6, '1': 6, '4': 60, '8': 60, '+Inf': 60}
    quiet = ar._histogram_series('m_bucket', 2.0, False, 'a="b"')
    counts = dict((s.split('le="')[1].rstrip('"}'), int(v.split('+')[1].split('x')[0])) for s, v in quiet)
    assert counts == {'0.5': 0, '1': 60, '4': 60, '8': 60, '+Inf': 60}
