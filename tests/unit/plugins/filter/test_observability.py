# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnai.platform observability filters: objects labelled for the installed Prometheus, collector values."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter.observability import (
    FilterModule, observability_objects, otel_collector_values, prometheus_monitor_labels, prometheus_rules,
    prometheus_unselected)

MODELS = [{'name': 'qwen', 'model': 'Qwen/Qwen2.5-7B-Instruct'}]
PROM = {'metadata': {'name': 'p', 'namespace': 'monitoring'}, 'spec': {
    'serviceMonitorSelector': {'matchLabels': {'release': 'cnai-kps'}}, 'serviceMonitorNamespaceSelector': {},
    'podMonitorSelector': {'matchLabels': {'release': 'cnai-kps'}}, 'podMonitorNamespaceSelector': {},
    'ruleSelector': {'matchLabels': {'release': 'cnai-kps'}}, 'ruleNamespaceSelector': {}}}
SM = [{'name': 'cnai-milvus', 'namespace': 'rag', 'selector': {'app.kubernetes.io/name': 'milvus'}, 'port': 'metrics'}]


def test_filters_are_registered():
    assert set(FilterModule().filters()) == set([
        'prometheus_rules', 'grafana_dashboards', 'prometheus_monitor_labels', 'prometheus_unselected',
        'otel_collector_values', 'observability_objects'])


def test_objects_carry_the_derived_labels_and_are_selected():
    labels = prometheus_monitor_labels(PROM)
    rules = prometheus_rules(MODELS, labels={'app.kubernetes.io/part-of': 'cnai-platform'})
    out = observability_objects(rules, [], SM, labels, ['dev', 'production'])
    kinds = [(o['kind'], o['metadata']['name']) for o in out['resources']]
    assert ('ServiceMonitor', 'cnai-milvus') in kinds and ('PrometheusRule', 'cnai-vllm') in kinds
    for obj in out['resources']:
        assert obj['metadata']['labels']['release'] == 'cnai-kps'
    sm = [o for o in out['resources'] if o['kind'] == 'ServiceMonitor'][0]
    assert sm['spec'] == {'namespaceSelector': {'matchNames': ['rag']},
                          'selector': {'matchLabels': {'app.kubernetes.io/name': 'milvus'}},
                          'endpoints': [{'port': 'metrics', 'path': '/metrics', 'interval': '30s'}]}
    assert out['overlays'] == {'dev': {'labels': {'cnai.platform/environment': 'dev'}},
                               'production': {'labels': {'cnai.platform/environment': 'production'}}}
    for obj in out['resources']:
        obj['metadata']['namespace'] = 'monitoring'
    assert prometheus_unselected(out['resources'], PROM, []) == []
    # the input rules are not modified
    assert 'release' not in rules[0]['metadata']['labels']


def test_a_hard_coded_release_label_would_be_caught():
    obj = {'kind': 'PodMonitor', 'metadata': {'name': 'qwen', 'namespace': 'ai',
                                              'labels': {'release': 'kube-prometheus-stack'}}}
    out = prometheus_unselected([obj], PROM, [{'metadata': {'name': 'ai', 'labels': {}}}])
    assert len(out) == 1 and out[0].startswith('PodMonitor ai/qwen: labels')


@pytest.mark.parametrize('monitors, message', [
    ([{'name': 'x', 'namespace': 'n', 'selector': {'a': 'b'}}], 'observability_service_monitors[0]: port is required'),
    (SM + SM, 'duplicate objects ServiceMonitor/cnai-milvus'),
])
def test_bad_service_monitors(monitors, message):
    with pytest.raises(AnsibleFilterError) as err:
        observability_objects([], [], monitors, prometheus_monitor_labels(PROM), ['dev'])
    assert message in str(err.value)


def test_bad_severity_through_the_filter():
    with pytest.raises(AnsibleFilterError) as err:
        prometheus_rules(MODELS, severities={'GPUXidError': 'page'})
    assert "observability_alert_severities.GPUXidError: unknown severity 'page'" in str(err.value)


def test_collector_values():
    v = otel_collector_values('http://kps-prometheus.monitoring.svc:9090', 'tempo.monitoring.svc:4317',
                              'http://loki.monitoring.svc:3100', 'repo/otel', '0.165.0', memory_limit_mib=500)
    cfg = v['config']
    assert v['mode'] == 'deployment' and v['image'] == {'repository': 'repo/otel', 'tag': '0.165.0'}
    assert cfg['exporters']['otlphttp/loki'] == {'endpoint': 'http://loki.monitoring.svc:3100/otlp'}
    assert cfg['exporters']['otlphttp/prometheus'] == {
        'metrics_endpoint': 'http://kps-prometheus.monitoring.svc:9090/api/v1/otlp/v1/metrics'}
    assert cfg['exporters']['otlp/tempo']['endpoint'] == 'tempo.monitoring.svc:4317'
    assert cfg['processors']['memory_limiter'] == {'check_interval': '1s', 'limit_mib': 500, 'spike_limit_mib': 100,
                                                   'limit_percentage': None, 'spike_limit_percentage': None}
    assert cfg['exporters']['debug'] is None and cfg['receivers']['jaeger'] is None
    assert v['resources'] == {'limits': {'memory': '625Mi'}}
    for name, pipeline in cfg['service']['pipelines'].items():
        assert pipeline['processors'] == ['memory_limiter', 'k8s_attributes', 'batch'], name


@pytest.mark.parametrize('kwargs, message', [
    ({'tempo_endpoint': 'http://tempo:4317'}, "observability_otel_tempo_endpoint: must be host:port"),
    ({'loki_endpoint': 'loki:3100'}, 'observability_otel_loki_endpoint: must be an http(s) URL'),
    ({'memory_limit_mib': 10}, 'observability_otel_memory_limit_mib: must be >= 64'),
    ({'mode': 'sidecar'}, 'observability_otel_mode: must be deployment, daemonset or statefulset'),
])
def test_collector_values_bad_input(kwargs, message):
    args = dict(tempo_endpoint='tempo:4317', loki_endpoint='http://loki:3100', image_repository='r', image_tag='1')
    args.update(kwargs)
    with pytest.raises(AnsibleFilterError) as err:
        otel_collector_values('http://p:9090', **args)
    assert message in str(err.value)
