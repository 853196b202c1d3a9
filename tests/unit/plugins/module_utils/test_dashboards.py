# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana dashboards: every JSON loads, every query parses, every metric is one an exporter exposes."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

import pytest

from ansible_collections.cnai.platform.plugins.filter.observability import grafana_dashboards
from ansible_collections.cnai.platform.plugins.module_utils import dashboards as db

from exporter_metrics import ALL, VLLM_REMOVED, metric_names

MODELS = [{'name': 'qwen7b', 'model': 'Qwen/Qwen2.5-7B-Instruct', 'served_name': 'qwen2.5-7b'},
          {'name': 'bge-m3', 'model': 'BAAI/bge-m3', 'task': 'embed'}]
PLAN = [
    {'workload': 'qwen7b', 'instance': 0, 'node': 'gpu-h200-0', 'gpu': 0, 'profile': '1g.18gb', 'start': 0,
     'resource': 'nvidia.com/mig-1g.18gb'},
    {'workload': 'qwen7b', 'instance': 1, 'node': 'gpu-h200-0', 'gpu': 0, 'profile': '1g.18gb', 'start': 1,
     'resource': 'nvidia.com/mig-1g.18gb'},
    {'workload': 'llama70b', 'instance': 0, 'node': 'gpu-h200-1', 'gpus': [0, 1], 'profile': None, 'start': None,
     'resource': 'nvidia.com/gpu'},
]
# Grafana replaces these before the query reaches Prometheus
GRAFANA_VARS = {'$__rate_interval': '5m', '$namespace': '.*', '$model_name': '.*', '$node': '.*', '$job': '.*'}


def _substitute(expr):
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    assert '$' not in expr, 'unknown Grafana variable in %s' % expr
    return expr


def _label_values_metric(expr):
    m = re.match(r'^label_values\((.+), (\w+)\)$', expr)
    return m.group(1) if m else None


@pytest.fixture(scope='module')
def configmaps():
    return grafana_dashboards(MODELS, mig_assignments=PLAN)


def test_configmaps_for_the_sidecar(configmaps):
    assert sorted(cm['metadata']['name'] for cm in configmaps) == [
        'cnai-dashboard-gateway', 'cnai-dashboard-gpu', 'cnai-dashboard-mig-plan', 'cnai-dashboard-milvus',
        'cnai-dashboard-vllm']
    for cm in configmaps:
        assert cm['metadata']['labels'] == {'grafana_dashboard': '1'}
        assert len(cm['data']) == 1


def test_every_dashboard_loads_and_uses_the_datasource_variable(configmaps):
    for cm in configmaps:
        (key, text), = cm['data'].items()
        board = json.loads(text)
        assert key == board['uid'] + '.json'
        variables = board['templating']['list']
        assert variables[0]['type'] == 'datasource' and variables[0]['name'] == 'datasource'
        ids = [p['id'] for p in board['panels']]
        assert len(ids) == len(set(ids))
        for panel in board['panels']:
            if panel['type'] == 'row':
                continue
            assert panel['datasource'] == {'type': 'prometheus', 'uid': '${datasource}'}
            assert panel['targets']
            for target in panel['targets']:
                assert target['datasource']['uid'] == '${datasource}'


def test_every_query_parses_and_uses_real_metrics(configmaps):
    seen = set()
    for cm in configmaps:
        board = json.loads(list(cm['data'].values())[0])
        for expr in db.panel_queries(board):
            metric = _label_values_metric(expr)
            if metric:
                expr = metric
            names = metric_names(_substitute(expr))
            # only the MIG plan's constants (planned counts written as PromQL) select no metric
            assert names or expr.startswith(('label_replace(label_replace(vector(', 'vector(0)')), expr
            for name in names:
                assert name in ALL, '%s: %s is not exposed by any exporter' % (board['uid'], name)
                assert name not in VLLM_REMOVED
            seen.update(names)
    # the panels are all there
    for name in ['vllm:time_to_first_token_seconds_bucket', 'vllm:inter_token_latency_seconds_bucket',
                 'vllm:e2e_request_latency_seconds_bucket', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc',
                 'vllm:num_preemptions_total', 'vllm:generation_tokens_total', 'DCGM_FI_PROF_GR_ENGINE_ACTIVE',
                 'milvus_proxy_sq_latency_bucket', 'jvm_memory_used_bytes', 'http_server_requests_seconds_count',
                 'kube_node_status_allocatable', 'kube_pod_container_resource_requests']:
        assert name in seen, name


def test_a_query_with_a_bad_metric_would_fail():
    assert metric_names('rate(vllm_num_requests_waiting[5m])') == ['vllm_num_requests_waiting']
    assert 'vllm_num_requests_waiting' not in ALL
    with pytest.raises(Exception):
        metric_names('sum by (model_name (vllm:num_requests_waiting)')


def test_vllm_dashboard_lists_the_served_names():
    board = db.build_dashboards(MODELS)['cnai-vllm']
    var = [v for v in board['templating']['list'] if v['name'] == 'model_name'][0]
    assert var['query'] == 'qwen2.5-7b,BAAI/bge-m3'


def test_mig_panels_group_by_instance():
    board = db.build_dashboards(MODELS)['cnai-gpu']
    exprs = db.panel_queries(board)
    assert any('by (Hostname, gpu, GPU_I_PROFILE, GPU_I_ID) (DCGM_FI_PROF_GR_ENGINE_ACTIVE' in e for e in exprs)
    assert not any('DCGM_FI_DEV_GPU_UTIL' in e for e in exprs)


def test_mig_plan_counts():
    assert db.planned_counts(PLAN) == {('gpu-h200-0', 'nvidia_com_mig_1g_18gb'): 2,
                                       ('gpu-h200-1', 'nvidia_com_gpu'): 2}
    planned = db.panel_queries(db.build_dashboards(MODELS, PLAN)['cnai-mig-plan'])[0]
    assert 'label_replace(label_replace(vector(2), "node", "gpu-h200-0", "", ""), "resource", ' \
           '"nvidia_com_mig_1g_18gb", "", "")' in planned
    assert db.panel_queries(db.build_dashboards(MODELS, None)['cnai-mig-plan'])[0] == 'vector(0)'


@pytest.mark.parametrize('plan, message', [
    ('x', 'observability_mig_assignments: must be the list'),
    ([{'node': 'n'}], 'observability_mig_assignments[0]: needs node and resource'),
])
def test_bad_plan_is_rejected(plan, message):
    with pytest.raises(db.DashboardError) as err:
        db.build_dashboards(MODELS, plan)
    assert message in str(err.value)


def test_bad_model_is_rejected():
    with pytest.raises(db.DashboardError) as err:
        db.build_dashboards([{'name': 'x'}])
    assert 'has no metrics identity' in str(err.value)
