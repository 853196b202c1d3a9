# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report: each layer healthy, unhealthy (naming the object) and not deployed (a problem only when expected)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import validate_report as vr


def node(name, ready=True, labels=None, alloc=None):
    return {'metadata': {'name': name, 'labels': labels or {}},
            'status': {'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}],
                       'allocatable': alloc or {}}}


def gpu_node(name, config, state='success'):
    labels = {'nvidia.com/gpu.product': 'NVIDIA-H200', 'nvidia.com/gpu.count': '8'}
    if config:
        labels['nvidia.com/mig.config'] = config
    if state:
        labels['nvidia.com/mig.config.state'] = state
    return node(name, labels=labels, alloc={'nvidia.com/gpu': '8', 'cpu': '96'})


def deploy(model, name, ns='ai-inference-dev', replicas=2, ready=2, available=True):
    return {'kind': 'Deployment',
            'metadata': {'name': name, 'namespace': ns,
                         'labels': {'app.kubernetes.io/name': 'vllm', 'app.kubernetes.io/instance': model},
                         'annotations': {'cnai.platform/resource': 'nvidia.com/mig-1g.18gb'}},
            'spec': {'replicas': replicas},
            'status': {'readyReplicas': ready,
                       'conditions': [{'type': 'Available', 'status': 'True' if available else 'False'}]}}


def scaled(name, lo, hi, ns='ai-inference-dev'):
    return {'kind': 'ScaledObject', 'metadata': {'name': name, 'namespace': ns},
            'spec': {'scaleTargetRef': {'name': name}, 'minReplicaCount': lo, 'maxReplicaCount': hi}}


def obj(kind, name, ns, status=None, labels=None):
    return {'kind': kind, 'metadata': {'name': name, 'namespace': ns, 'labels': labels or {}}, 'status': status or {}}


def healthy_inputs():
    return {
        'nodes': [gpu_node('gpu-0', 'cnai-h200-abc'), gpu_node('gpu-1', None, None), node('cpu-0')],
        'gpu_nodes': ['gpu-0', 'gpu-1'],
        'plan': {'node_configs': {'gpu-0': 'cnai-h200-abc', 'gpu-1': 'all-disabled'}, 'strategy': 'mixed',
                 'gpus_used': 1},
        'models': [{'name': 'chat'}, {'name': 'embed'}],
        'deployments': [deploy('chat', 'chat-h200'), deploy('embed', 'embed-h200', replicas=1, ready=1)],
        'autoscalers': [scaled('chat-h200', 1, 6)],
        'rag_workloads': [],
        'custom': [{'item': {'kind': 'Milvus'}, 'api_found': False, 'resources': []},
                   {'item': {'kind': 'Elasticsearch'}, 'api_found': False, 'resources': []},
                   {'item': {'kind': 'ServiceMonitor'}, 'api_found': False, 'resources': []},
                   {'item': {'kind': 'PodMonitor'}, 'api_found': False, 'resources': []},
                   {'item': {'kind': 'PrometheusRule'}, 'api_found': False, 'resources': []},
                   {'item': {'kind': 'Application'}, 'api_found': False, 'resources': []}],
        'expect': {'models': True},
    }


def test_healthy_cluster_without_optional_layers():
    r = vr.report(healthy_inputs())
    assert r['healthy'] and r['problems'] == []
    assert r['summary'] == {'nodes': 'healthy', 'mig': 'healthy', 'models': 'healthy', 'stores': 'not deployed',
                            'monitors': 'not deployed', 'argocd': 'not deployed'}
    nodes = dict((i['name'], i) for i in r['layers']['nodes']['items'])
    assert nodes['gpu-0']['gpu'] and nodes['gpu-0']['gpu_product'] == 'NVIDIA-H200' and nodes['gpu-0']['gpu_count'] == '8'
    assert nodes['gpu-0']['allocatable'] == {'nvidia.com/gpu': '8'} and not nodes['cpu-0']['gpu']
    mig = dict((i['node'], i) for i in r['layers']['mig']['items'])
    assert mig['gpu-1'] == {'node': 'gpu-1', 'config': None, 'state': None, 'planned': 'all-disabled',
                            'at_plan': True, 'applied': True}
    chat = r['layers']['models']['items'][0]
    assert chat['model'] == 'chat' and (chat['ready'], chat['desired']) == (2, 2)
    assert chat['deployments'][0]['autoscaler'] == {'kind': 'KEDA', 'name': 'chat-h200', 'min': 1, 'max': 6}
    assert r['layers']['models']['items'][1]['deployments'][0]['autoscaler'] is None


def test_unhealthy_objects_are_named():
    i = healthy_inputs()
    i['nodes'][2] = node('cpu-0', ready=False)
    i['nodes'][0]['metadata']['labels']['nvidia.com/mig.config.state'] = 'failed'
    i['nodes'][1]['metadata']['labels']['nvidia.com/mig.config'] = 'all-1g.18gb'
    i['deployments'][0] = deploy('chat', 'chat-h200', replicas=6, ready=2, available=False)
    i['gpu_nodes'].append('gpu-9')
    r = vr.report(i)
    assert not r['healthy']
    assert r['problems'] == [
        'nodes: cpu-0 is not Ready',
        'nodes: GPU host gpu-9 of the inventory is not a Node of the cluster',
        'mig: gpu-0 nvidia.com/mig.config.state=failed (not success)',
        'mig: gpu-1 has nvidia.com/mig.config=all-1g.18gb, the plan says all-disabled (run playbooks/gpu.yml)',
        'mig: gpu-1 nvidia.com/mig.config.state=None (not success)',
        'models: chat ai-inference-dev/chat-h200: 2/6 ready',
    ]
    assert r['summary']['nodes'] == r['summary']['mig'] == r['summary']['models'] == 'unhealthy'
    assert r['summary']['stores'] == 'not deployed'


def test_missing_model_and_failed_plan():
    i = healthy_inputs()
    i['deployments'] = i['deployments'][:1]
    i['plan'] = {'failed': False, 'msg': 'demand does not fit: 3 GPUs short'}
    r = vr.report(i)
    assert 'models: embed has no vLLM Deployment' in r['problems']
    assert any(p.startswith('mig: the plan could not be made') and '3 GPUs short' in p for p in r['problems'])
    # Not expected (e.g. validate after the GPU layer only): no Deployments is "not deployed", not a failure.
    i = healthy_inputs()
    i['deployments'] = []
    i['expect'] = {'models': False}
    r = vr.report(i)
    assert r['healthy'] and r['summary']['models'] == 'not deployed'


def test_stores_absent_expected_present_and_unhealthy():
    i = healthy_inputs()
    i['expect'] = {'models': True, 'milvus': True}
    r = vr.report(i)
    assert r['problems'] == ['stores: Milvus not deployed (expected)'] and r['summary']['stores'] == 'unhealthy'
    i['rag_workloads'] = [
        dict(obj('Deployment', 'milvus-standalone', 'ai-rag-dev', {'readyReplicas': 1},
                 {'app.kubernetes.io/name': 'milvus', 'app.kubernetes.io/instance': 'milvus'}), spec={'replicas': 1}),
        dict(obj('StatefulSet', 'milvus-etcd', 'ai-rag-dev', {'readyReplicas': 0},
                 {'app.kubernetes.io/name': 'etcd', 'app.kubernetes.io/instance': 'milvus'}), spec={'replicas': 1}),
        dict(obj('Deployment', 'other', 'ai-rag-dev', {}, {}), spec={'replicas': 1}),           # not Milvus: ignored
        dict(obj('Deployment', 'milvus', 'elsewhere', {}, {}), spec={'replicas': 1}),           # not a RAG namespace
    ]
    i['custom'][1] = {'item': {'kind': 'Elasticsearch'}, 'api_found': True,
                      'resources': [obj('Elasticsearch', 'rag', 'ai-rag-dev')]}
    r = vr.report(i)
    assert r['problems'] == ['stores: milvus StatefulSet ai-rag-dev/milvus-etcd: 0/1 ready',
                             'stores: elasticsearch ai-rag-dev/rag: health None, phase None (no status: is the ECK '
                             'operator running?)']
    stores = dict((s['store'], s) for s in r['layers']['stores']['items'])
    assert [w['name'] for w in stores['milvus']['workloads']] == ['milvus-standalone', 'milvus-etcd']
    i['rag_workloads'][1]['status']['readyReplicas'] = 1
    i['custom'][1]['resources'][0]['status'] = {'health': 'green', 'phase': 'Ready', 'availableNodes': 1}
    r = vr.report(i)
    assert r['healthy'] and r['summary']['stores'] == 'healthy'


def test_monitors_need_a_podmonitor_per_model_and_rules():
    i = healthy_inputs()
    label = {'app.kubernetes.io/part-of': 'cnai-platform'}
    i['custom'][3] = {'item': {'kind': 'PodMonitor'}, 'api_found': True,
                      'resources': [obj('PodMonitor', 'chat', 'ai-inference-dev', labels=label)]}
    i['custom'][2]['api_found'] = True
    i['custom'][4]['api_found'] = True
    r = vr.report(i)
    assert r['problems'] == ["monitors: no PodMonitor ai-inference-dev/embed for the model's vLLM pods",
                             'monitors: no PrometheusRule of the platform (run playbooks/operations.yml)']
    i['custom'][3]['resources'].append(obj('PodMonitor', 'embed', 'ai-inference-dev'))
    i['custom'][4]['resources'] = [obj('PrometheusRule', 'cnai-vllm', 'monitoring')]
    r = vr.report(i)
    counts = {'ServiceMonitor': 0, 'PodMonitor': 2, 'PrometheusRule': 1}
    assert r['healthy'] and r['layers']['monitors']['counts'] == counts
    # Expected but the API is not served:
    i = healthy_inputs()
    i['expect']['monitoring'] = True
    assert vr.report(i)['problems'] == ['monitors: the Prometheus Operator (monitoring.coreos.com) not deployed (expected)']


def test_argocd_applications():
    i = healthy_inputs()
    i['custom'][5] = {'item': {'kind': 'Application'}, 'api_found': True, 'resources': [
        obj('Application', 'vllm', 'argocd', {'sync': {'status': 'Synced'}, 'health': {'status': 'Healthy'}}),
        obj('Application', 'gateway', 'argocd', {'sync': {'status': 'OutOfSync'}, 'health': {'status': 'Progressing'}})]}
    r = vr.report(i)
    assert r['problems'] == ['argocd: Application argocd/gateway sync OutOfSync, health Progressing']
    i['expect']['argocd'] = True
    i['custom'][5] = {'item': {'kind': 'Application'}, 'api_found': False, 'resources': []}
    assert vr.report(i)['problems'] == ['argocd: Argo CD Applications not deployed (expected)']


def test_bad_input_is_refused():
    with pytest.raises(vr.ValidateError, match='expect must be a dict'):
        vr.report(dict(healthy_inputs(), expect={'milvus': True, 'redis': True}))
    with pytest.raises(vr.ValidateError, match='deployments must be a list'):
        vr.report(dict(healthy_inputs(), deployments={'a': 1}))
    with pytest.raises(vr.ValidateError, match='looped k8s_info'):
        vr.report(dict(healthy_inputs(), custom=[{'resources': []}]))


def test_plan_nodes_takes_the_live_config():
    planner = [{'name': 'gpu-0', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8, 'current_config': 'old'},
               {'name': 'gpu-1', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8},
               {'name': 'gpu-9', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8, 'current_config': 'kept'}]
    before = copy.deepcopy(planner)
    out = vr.plan_nodes(planner, [gpu_node('gpu-0', 'cnai-x'), gpu_node('gpu-1', None, None)])
    assert [n.get('current_config') for n in out] == ['cnai-x', None, 'kept']
    assert planner == before


def test_ignored_problems_are_reported_but_do_not_fail():
    i = healthy_inputs()
    i['custom'][1] = {'item': {'kind': 'Elasticsearch'}, 'api_found': True,
                      'resources': [obj('Elasticsearch', 'rag', 'ai-rag-dev')]}
    i['ignore'] = ['stores: elasticsearch']
    r = vr.report(i)
    assert r['healthy'] and r['problems'] == [] and r['summary']['stores'] == 'unhealthy'
    assert r['ignored'] == ['stores: elasticsearch ai-rag-dev/rag: health None, phase None (no status: is the ECK '
                            'operator running?)']
    i['deployments'] = []
    assert vr.report(i)['problems'] == ['models: chat has no vLLM Deployment', 'models: embed has no vLLM Deployment']
    with pytest.raises(vr.ValidateError, match='ignore must be a list'):
        vr.report(dict(i, ignore='stores'))
