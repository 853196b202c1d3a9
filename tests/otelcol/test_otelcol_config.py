# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collector configuration, as the upstream chart renders it from the role's values, validated by a real
collector (`make obs-otelcol` builds it with the OpenTelemetry builder for exactly the components used and
sets OTELCOL; HELM is the testbed's helm)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest
import yaml

from ansible_collections.cnai.platform.plugins.module_utils import otel_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OTELCOL = os.environ.get('OTELCOL')
HELM = os.environ.get('HELM', 'helm')
CHART_DIR = os.environ.get('CNAI_CHART_DIR', '')
pytestmark = pytest.mark.skipif(not OTELCOL, reason='OTELCOL is not set: run `make obs-otelcol`')


def _bom():
    with open(os.path.join(ROOT, 'bom.yml')) as f:
        return yaml.safe_load(f)


def _rendered_config(tmp_path, values):
    bom = _bom()['opentelemetry_collector']
    chart = os.path.join(CHART_DIR, '%s-%s.tgz' % (bom['chart'], bom['chart_version']))
    assert os.path.exists(chart), 'CNAI_CHART_DIR must hold %s' % chart
    (tmp_path / 'values.yml').write_text(yaml.safe_dump(values))
    out = subprocess.run([HELM, 'template', 'otel-collector', chart, '--namespace', 'monitoring',
                          '-f', str(tmp_path / 'values.yml')], capture_output=True, text=True, timeout=120, check=True)
    for doc in yaml.safe_load_all(out.stdout):
        if doc and doc.get('kind') == 'ConfigMap':
            return yaml.safe_load(doc['data']['relay'])
    raise AssertionError('the chart rendered no collector ConfigMap')


def _validate(tmp_path, config):
    (tmp_path / 'config.yml').write_text(yaml.safe_dump(config))
    env = dict(os.environ, MY_POD_IP='127.0.0.1', OTEL_K8S_NODE_NAME='node-0', OTEL_K8S_NAMESPACE='monitoring',
               OTEL_K8S_NODE_IP='10.0.0.1', OTEL_K8S_POD_IP='10.0.0.2', OTEL_K8S_POD_NAME='otel-0')
    proc = subprocess.run([OTELCOL, 'validate', '--config', str(tmp_path / 'config.yml')], capture_output=True,
                          text=True, timeout=120, env=env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _role_values():
    bom = _bom()['opentelemetry_collector']
    # the same inputs roles/observability/vars/main.yml gives the filter with the role's defaults
    return otel_config.chart_values('tempo.monitoring.svc:4317', 'http://loki.monitoring.svc:3100',
                                    'http://kube-prometheus-stack-prometheus.monitoring.svc:9090',
                                    bom['image'], bom['tag'])


def test_rendered_configuration_is_valid(tmp_path):
    config = _rendered_config(tmp_path, _role_values())
    pipelines = config['service']['pipelines']
    assert sorted(pipelines) == ['logs', 'metrics', 'traces']
    for pipeline in pipelines.values():
        assert pipeline['receivers'] == ['otlp']
        assert pipeline['processors'][0] == 'memory_limiter' and pipeline['processors'][-1] == 'batch'
        assert any(p.startswith('k8s') for p in pipeline['processors'])
    assert pipelines['logs']['exporters'] == ['otlphttp/loki']
    assert config['exporters']['otlphttp/loki']['endpoint'] == 'http://loki.monitoring.svc:3100/otlp'
    assert 'loki' not in config['exporters'] and 'debug' not in config['exporters']
    assert sorted(config['receivers']) == ['otlp']
    assert 'limit_percentage' not in config['processors']['memory_limiter']
    rc, out = _validate(tmp_path, config)
    assert rc == 0, out


def test_the_removed_loki_exporter_is_rejected(tmp_path):
    config = _rendered_config(tmp_path, _role_values())
    config['exporters']['loki'] = {'endpoint': 'http://loki.monitoring.svc:3100/loki/api/v1/push'}
    config['service']['pipelines']['logs']['exporters'] = ['loki']
    rc, out = _validate(tmp_path, config)
    assert rc != 0
    assert 'loki' in out
