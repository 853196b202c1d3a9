# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wiring check (module_utils/wiring.py) on the configuration the AI gateway renders."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os

import pytest
import yaml

from ansible_collections.cnai.platform.plugins.filter.ai_gateway import FilterModule
from ansible_collections.cnai.platform.plugins.module_utils import ai_gateway as ag
from ansible_collections.cnai.platform.plugins.module_utils import wiring

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
with open(os.path.join(ROOT, 'inventories', 'local', 'group_vars', 'all.yml')) as f:
    MODELS = yaml.safe_load(f)['cnai_models']
NS = 'ai-app-dev'


def _svc(ns, name, ports):
    return {'metadata': {'namespace': ns, 'name': name},
            'spec': {'type': 'ClusterIP', 'ports': [{'name': n, 'port': p} for n, p in ports]}}


def _secret(ns, name, keys):
    return {'metadata': {'namespace': ns, 'name': name}, 'data': dict((k, 'c2VjcmV0') for k in keys)}


@pytest.fixture()
def cluster():
    """What the role delivers for dev, and the Services and Secrets a healthy cluster has."""
    r = ag.render(MODELS, {'image': 'r/gw:1'})
    dep = copy.deepcopy([o for o in r['resources'] if o['kind'] == 'Deployment'][0])
    dep['metadata']['namespace'] = NS
    cm = [o for o in r['overlays']['dev']['resources'] if o['kind'] == 'ConfigMap'][0]
    route = copy.deepcopy([o for o in r['overlays']['dev']['resources'] if o['kind'] == 'HTTPRoute'][0])
    route['metadata']['namespace'] = NS
    services = [_svc('ai-inference-dev', m['name'], [('http', 8000)]) for m in MODELS]
    services += [_svc('ai-rag-dev', 'milvus', [('milvus', 19530), ('metrics', 9091)]),
                 _svc('ai-rag-dev', 'rag-es-http', [('https', 9200)]),
                 _svc('monitoring', 'otel-collector-opentelemetry-collector', [('otlp', 4317), ('otlp-http', 4318)]),
                 _svc(NS, 'ai-gateway', [('http', 8080)])]
    secrets = [_secret(NS, 'ai-gateway-credentials', ['milvus-username', 'milvus-password', 'elasticsearch-password',
                                                      'elasticsearch-ca.crt'])]
    return {'config': cm['data']['application.yaml'], 'deployment': dep, 'services': services, 'secrets': secrets,
            'routes': [route]}


def _check(c):
    return wiring.check(c['config'], c['deployment'], c['services'], c['secrets'], c['routes'])


def test_healthy_wiring_passes(cluster):
    out = _check(cluster)
    assert out['ok'], out['problems']
    assert out['external'] == []
    text = '\n'.join(out['checked'])
    for piece in ('route qwen-chat -> qwen-chat.ai-inference-dev.svc:8000 (Service ai-inference-dev/qwen-chat)',
                  'route bge-m3 -> bge-m3.ai-inference-dev.svc:8000',
                  'spring.ai.vectorstore.milvus.client -> milvus.ai-rag-dev.svc:19530',
                  'spring.elasticsearch.uris -> rag-es-http.ai-rag-dev.svc:9200',
                  'management.otlp.tracing.endpoint -> otel-collector-opentelemetry-collector.monitoring.svc:4318',
                  'env MILVUS_PASSWORD (Secret ai-app-dev/ai-gateway-credentials milvus-password)',
                  'volume certs (Secret ai-app-dev/ai-gateway-credentials elasticsearch-ca.crt)',
                  'HTTPRoute ai-app-dev/ai-gateway -> Service ai-app-dev/ai-gateway:8080'):
        assert piece in text


def test_wrong_port_names_the_route(cluster):
    cluster['config'] = cluster['config'].replace('qwen-chat.ai-inference-dev.svc:8000', 'qwen-chat.ai-inference-dev.svc:8001')
    out = _check(cluster)
    assert not out['ok']
    assert 'route qwen-chat: Service ai-inference-dev/qwen-chat has no port 8001 (it has: http 8000)' in out['problems']
    # the default route's base-url names the same endpoint
    assert 'spring.ai.openai.base-url: Service ai-inference-dev/qwen-chat has no port 8001 (it has: http 8000)' \
        in out['problems']


def test_missing_service_and_secret_key(cluster):
    cluster['services'] = [s for s in cluster['services'] if s['metadata']['name'] != 'milvus']
    cluster['secrets'] = [_secret(NS, 'ai-gateway-credentials', ['milvus-username', 'milvus-password',
                                                                 'elasticsearch-ca.crt'])]
    out = _check(cluster)
    assert 'spring.ai.vectorstore.milvus.client: Service ai-rag-dev/milvus does not exist' in out['problems']
    assert 'env ELASTICSEARCH_PASSWORD: Secret ai-app-dev/ai-gateway-credentials has no key elasticsearch-password' \
        in out['problems']
    cluster['secrets'] = []
    out = _check(cluster)
    assert 'volume certs: Secret ai-app-dev/ai-gateway-credentials does not exist' in out['problems']


def test_placeholder_without_env(cluster):
    c = cluster['deployment']['spec']['template']['spec']['containers'][0]
    c['env'] = [e for e in c['env'] if e['name'] != 'MILVUS_PASSWORD']
    out = _check(cluster)
    assert 'spring.ai.vectorstore.milvus.client.password: ${MILVUS_PASSWORD} has no default and is not in the ' \
        'container env' in out['problems']
    # ${OPENAI_API_KEY:not-used} has a default: not a problem
    assert not [p for p in out['problems'] if 'OPENAI_API_KEY' in p]


def test_route_backend_port(cluster):
    cluster['routes'][0]['spec']['rules'][0]['backendRefs'][0]['port'] = 80
    out = _check(cluster)
    assert out['problems'] == ['HTTPRoute ai-app-dev/ai-gateway: Service ai-app-dev/ai-gateway has no port 80 '
                               '(it has: http 8080)']
    ingress = {'kind': 'Ingress', 'metadata': {'namespace': NS, 'name': 'ai-gateway'},
               'spec': {'rules': [{'http': {'paths': [{'path': '/', 'backend': {
                   'service': {'name': 'ai-gateway', 'port': {'name': 'web'}}}}]}}]}}
    out = wiring.check(cluster['config'], cluster['deployment'], cluster['services'], cluster['secrets'], [ingress])
    assert out['problems'] == ['Ingress ai-app-dev/ai-gateway: Service ai-app-dev/ai-gateway has no port named web '
                               '(it has: http 8080)']


def test_hosts():
    assert wiring.resolve_host('a.b.svc', 'x') == ('a', 'b')
    assert wiring.resolve_host('a.b.svc.cluster.local', 'x') == ('a', 'b')
    assert wiring.resolve_host('a', 'x') == ('a', 'x')
    assert wiring.resolve_host('api.example.com', 'x') is None
    assert wiring.resolve_host('localhost', 'x') is None
    refs = wiring.config_refs({'a': {'url': 'https://api.example.com/v1', 'plain': 'http://svc/x'},
                               'list': [{'name': 'n1', 'host': 'h1', 'port': '5'}]})
    assert sorted((e['what'], e['host'], e['port']) for e in refs['endpoints']) == [
        ('a.plain', 'svc', 80), ('a.url', 'api.example.com', 443), ('list n1', 'h1', 5)]


def test_external_host_listed_not_checked(cluster):
    cluster['config'] = cluster['config'].replace('http://otel-collector-opentelemetry-collector.monitoring.svc:4318',
                                                  'https://otlp.example.com')
    out = _check(cluster)
    assert out['ok']
    assert 'management.otlp.tracing.endpoint -> otlp.example.com:443' in out['external']


def test_missing_deployment_and_bad_yaml(cluster):
    out = wiring.check(cluster['config'], {}, [], [])
    assert not out['ok'] and 'Deployment to check does not exist' in out['problems'][0]
    out = wiring.check('a: [', cluster['deployment'], [], [])
    assert not out['ok'] and 'not valid YAML' in out['problems'][0]


def test_secret_values_never_returned(cluster):
    out = _check(cluster)
    assert 'c2VjcmV0' not in repr(out)
    assert wiring.secret_keys(cluster['secrets']) == {
        (NS, 'ai-gateway-credentials'): ['elasticsearch-ca.crt', 'elasticsearch-password', 'milvus-password',
                                         'milvus-username']}


def test_filter(cluster):
    out = FilterModule().filters()['ai_gateway_wiring'](cluster['config'], cluster['deployment'], cluster['services'],
                                                         cluster['secrets'], cluster['routes'])
    assert out['ok']
