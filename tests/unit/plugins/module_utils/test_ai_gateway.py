# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AI gateway's generated configuration and objects (module_utils/ai_gateway.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import copy
import json
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter.ai_gateway import FilterModule
from ansible_collections.cnai.platform.plugins.module_utils import ai_gateway as ag

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
with open(os.path.join(ROOT, 'inventories', 'local', 'group_vars', 'all.yml')) as f:
    MODELS = yaml.safe_load(f)['cnai_models']
IMAGE = 'registry.example.com/cnai/ai-gateway:1.0.0'


@pytest.fixture(scope='module')
def rendered():
    return ag.render(MODELS, {'image': IMAGE})


def _kinds(objs):
    return [(o['kind'], o['metadata']['name']) for o in objs]


def _app(rendered, env):
    cm = [o for o in rendered['overlays'][env]['resources'] if o['kind'] == 'ConfigMap'][0]
    return yaml.safe_load(cm['data']['application.yaml'])


def test_base_objects(rendered):
    assert _kinds(rendered['resources']) == [
        ('ServiceAccount', 'ai-gateway'), ('Deployment', 'ai-gateway'), ('Service', 'ai-gateway'),
        ('PodDisruptionBudget', 'ai-gateway'), ('HorizontalPodAutoscaler', 'ai-gateway'),
        ('ServiceMonitor', 'ai-gateway')]
    by_kind = dict((o['kind'], o) for o in rendered['resources'])
    svc = by_kind['Service']['spec']
    assert svc['ports'] == [{'name': 'http', 'port': 8080, 'targetPort': 'http', 'protocol': 'TCP'}]
    hpa = by_kind['HorizontalPodAutoscaler']['spec']
    assert hpa['metrics'][0]['resource'] == {'name': 'cpu', 'target': {'type': 'Utilization', 'averageUtilization': 70}}
    assert (hpa['minReplicas'], hpa['maxReplicas']) == (2, 6)
    assert by_kind['HorizontalPodAutoscaler']['apiVersion'] == 'autoscaling/v2'
    assert by_kind['PodDisruptionBudget']['spec']['maxUnavailable'] == 1
    sm = by_kind['ServiceMonitor']
    assert sm['metadata']['labels']['release'] == 'kube-prometheus-stack'
    assert sm['spec']['endpoints'][0]['path'] == '/actuator/prometheus'
    dep = by_kind['Deployment']['spec']
    assert 'replicas' not in dep  # the HPA owns it
    c = dep['template']['spec']['containers'][0]
    assert c['image'] == IMAGE
    assert c['startupProbe']['httpGet']['path'] == '/actuator/health/liveness'
    assert c['livenessProbe']['httpGet']['path'] == '/actuator/health/liveness'
    assert c['readinessProbe']['httpGet']['path'] == '/actuator/health/readiness'
    assert c['startupProbe']['failureThreshold'] * c['startupProbe']['periodSeconds'] >= 180


def test_credentials_only_through_secret_refs(rendered):
    dep = [o for o in rendered['resources'] if o['kind'] == 'Deployment'][0]
    env = dict((e['name'], e) for e in dep['spec']['template']['spec']['containers'][0]['env'])
    for name, key in (('MILVUS_USERNAME', 'milvus-username'), ('MILVUS_PASSWORD', 'milvus-password'),
                      ('ELASTICSEARCH_PASSWORD', 'elasticsearch-password')):
        assert env[name]['valueFrom']['secretKeyRef'] == {'name': 'ai-gateway-credentials', 'key': key}
    vols = dict((v['name'], v) for v in dep['spec']['template']['spec']['volumes'])
    assert vols['certs']['secret'] == {'secretName': 'ai-gateway-credentials',
                                       'items': [{'key': 'elasticsearch-ca.crt', 'path': 'elasticsearch-ca.crt'}]}
    app = _app(rendered, 'dev')
    assert app['spring']['ai']['vectorstore']['milvus']['client']['password'] == '${MILVUS_PASSWORD}'
    assert app['spring']['elasticsearch']['password'] == '${ELASTICSEARCH_PASSWORD}'
    copies = rendered['credentials']['dev']
    assert [(c['source_namespace'], c['source_secret'], c['source_key'], c['key']) for c in copies] == [
        ('ai-rag-dev', 'milvus-credentials', 'username', 'milvus-username'),
        ('ai-rag-dev', 'milvus-credentials', 'password', 'milvus-password'),
        ('ai-rag-dev', 'rag-es-gateway-user', 'password', 'elasticsearch-password'),
        ('ai-rag-dev', 'rag-es-http-certs-public', 'ca.crt', 'elasticsearch-ca.crt')]
    assert all(c['namespace'] == 'ai-app-dev' and c['secret'] == 'ai-gateway-credentials' for c in copies)


def test_routes_per_served_model_and_environment(rendered):
    for env, vns in (('dev', 'ai-inference-dev'), ('staging', 'ai-inference-staging'), ('production', 'ai-inference')):
        routes = _app(rendered, env)['cnai']['gateway']['routes']
        assert [(r['name'], r['model'], r['kind'], r['base-url']) for r in routes] == [
            ('qwen-chat', 'qwen2.5-7b-instruct', 'chat', 'http://qwen-chat.%s.svc:8000' % vns),
            ('qwen-32b', 'qwen2.5-32b-instruct', 'chat', 'http://qwen-32b.%s.svc:8000' % vns),
            ('llama-70b', 'llama-3.3-70b-instruct', 'chat', 'http://llama-70b.%s.svc:8000' % vns),
            ('bge-m3', 'bge-m3', 'embedding', 'http://bge-m3.%s.svc:8000' % vns)]
    app = _app(rendered, 'dev')
    openai = app['spring']['ai']['openai']
    assert openai['base-url'] == 'http://qwen-chat.ai-inference-dev.svc:8000'
    assert openai['chat'] == {'completions-path': '/v1/chat/completions', 'options': {'model': 'qwen2.5-7b-instruct'}}
    assert openai['embedding']['options'] == {'model': 'bge-m3', 'dimensions': 1024}
    assert app['spring']['ai']['vectorstore']['milvus']['embedding-dimension'] == 1024
    assert app['spring']['ai']['vectorstore']['elasticsearch']['dimensions'] == 1024
    assert app['cnai']['gateway']['embedding']['dimension'] == 1024


def test_spring_ai_2_base_url_has_v1():
    r = ag.render(MODELS, {'image': IMAGE, 'spring_ai_major': 2})
    app = _app(r, 'production')
    openai = app['spring']['ai']['openai']
    assert openai['base-url'] == 'http://qwen-chat.ai-inference.svc:8000/v1'
    assert 'completions-path' not in openai['chat'] and 'embeddings-path' not in openai['embedding']
    assert openai['embedding']['base-url'] == 'http://bge-m3.ai-inference.svc:8000/v1'
    assert all(rt['base-url'].endswith('/v1') for rt in app['cnai']['gateway']['routes'])
    assert ag.base_url('http://x.y.svc:8000/', 1) == 'http://x.y.svc:8000'


def test_store_endpoints_from_facts_and_computed(rendered):
    app = _app(rendered, 'staging')
    assert app['spring']['ai']['vectorstore']['milvus']['client']['host'] == 'milvus.ai-rag-staging.svc'
    assert app['spring']['ai']['vectorstore']['milvus']['client']['port'] == 19530
    assert app['spring']['elasticsearch']['uris'] == 'https://rag-es-http.ai-rag-staging.svc:9200'
    facts = {'milvus': {'dev': {'namespace': 'ai-rag-dev', 'service': 'milvus', 'port': 19531,
                                'host': 'milvus.ai-rag-dev.svc',
                                'secret': {'name': 'm-creds', 'username_key': 'u', 'password_key': 'p'}}},
             'elasticsearch': {'dev': {'namespace': 'ai-rag-dev', 'service': 'rag-es-http', 'port': 9200,
                                       'url': 'https://rag-es-http.ai-rag-dev.svc:9200', 'user': 'gw',
                                       'secret': {'name': 'rag-gw-user', 'key': 'gw'}, 'index': 'idx',
                                       'vector_field': 'vec',
                                       'ca_secret': {'name': 'rag-es-http-certs-public', 'key': 'ca.crt'}}}}
    r = ag.render(MODELS, dict(facts, image=IMAGE))
    app = _app(r, 'dev')
    assert app['spring']['ai']['vectorstore']['milvus']['client']['port'] == 19531
    assert app['spring']['elasticsearch']['username'] == 'gw'
    es = app['spring']['ai']['vectorstore']['elasticsearch']
    assert (es['index-name'], es['embedding-field-name']) == ('idx', 'vec')
    assert _app(r, 'staging')['spring']['ai']['vectorstore']['elasticsearch']['index-name'] == 'rag-knowledge-base'
    assert [(c['source_secret'], c['source_key']) for c in r['credentials']['dev']] == [
        ('m-creds', 'u'), ('m-creds', 'p'), ('rag-gw-user', 'gw'), ('rag-es-http-certs-public', 'ca.crt')]
    # the facts are for dev only: staging keeps the computed names
    assert r['credentials']['staging'][0]['source_secret'] == 'milvus-credentials'


def test_no_secret_values_anywhere(rendered):
    text = json.dumps(rendered)
    assert 'stringData' not in text and '"data": {"application.yaml"' in text


def test_otlp(rendered):
    mgmt = _app(rendered, 'dev')['management']
    url = 'http://otel-collector-opentelemetry-collector.monitoring.svc:4318'
    assert mgmt['otlp']['tracing']['endpoint'] == url + '/v1/traces'
    assert mgmt['otlp']['metrics']['export']['url'] == url + '/v1/metrics'
    assert mgmt['endpoint']['health']['probes']['enabled'] is True
    assert 'prometheus' in mgmt['endpoints']['web']['exposure']['include']


def test_httproute_timeouts_and_gateway(rendered):
    route = [o for o in rendered['overlays']['dev']['resources'] if o['kind'] == 'HTTPRoute'][0]
    rule = route['spec']['rules'][0]
    assert route['spec']['parentRefs'] == [{'group': 'gateway.networking.k8s.io', 'kind': 'Gateway',
                                            'name': 'ai-gateway'}]
    assert rule['backendRefs'] == [{'kind': 'Service', 'name': 'ai-gateway', 'port': 8080}]
    assert rule['timeouts'] == {'request': '600s', 'backendRequest': '600s'}
    assert not [o for o in rendered['overlays']['dev']['resources'] if o['kind'] == 'Gateway']
    r = ag.render(MODELS, {'image': IMAGE, 'gateway_create': True, 'gateway_class': 'eg',
                           'hostnames': ['ai.example.com'], 'gateway_section': 'https'})
    gw = [o for o in r['overlays']['production']['resources'] if o['kind'] == 'Gateway'][0]
    listener = gw['spec']['listeners'][0]
    assert gw['spec']['gatewayClassName'] == 'eg'
    assert listener['protocol'] == 'HTTPS' and listener['hostname'] == 'ai.example.com'
    assert listener['tls'] == {'mode': 'Terminate', 'certificateRefs': [{'kind': 'Secret', 'name': 'ai-gateway-tls'}]}
    route = [o for o in r['overlays']['production']['resources'] if o['kind'] == 'HTTPRoute'][0]
    assert route['spec']['hostnames'] == ['ai.example.com']
    assert route['spec']['parentRefs'][0]['sectionName'] == 'https'


def test_ingress_without_controller_specifics():
    r = ag.render(MODELS, {'image': IMAGE, 'exposure': 'ingress', 'hostnames': ['ai.example.com'],
                           'ingress_class': 'traefik'})
    objs = r['overlays']['dev']['resources']
    assert not [o for o in objs if o['kind'] in ('HTTPRoute', 'Gateway')]
    ing = [o for o in objs if o['kind'] == 'Ingress'][0]
    assert ing['spec']['ingressClassName'] == 'traefik'
    assert ing['spec']['tls'] == [{'hosts': ['ai.example.com'], 'secretName': 'ai-gateway-tls'}]
    assert 'annotations' not in ing['metadata']
    assert ing['spec']['rules'][0]['http']['paths'][0]['backend'] == {
        'service': {'name': 'ai-gateway', 'port': {'name': 'http'}}}


def test_network_policy(rendered):
    pol = [o for o in rendered['overlays']['dev']['resources'] if o['kind'] == 'NetworkPolicy'][0]['spec']
    assert pol['policyTypes'] == ['Ingress', 'Egress']
    ingress_ns = [p['namespaceSelector']['matchLabels']['kubernetes.io/metadata.name'] for p in pol['ingress'][0]['from']]
    assert ingress_ns == ['ai-app-dev', 'monitoring']
    egress = dict((r['ports'][0]['port'], r) for r in pol['egress'])
    assert sorted(egress) == [53, 4318, 8000, 9200, 19530]
    assert egress[8000]['to'][0] == {'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 'ai-inference-dev'}},
                                     'podSelector': {'matchLabels': {'app.kubernetes.io/name': 'vllm'}}}
    assert egress[19530]['to'][0]['namespaceSelector']['matchLabels']['kubernetes.io/metadata.name'] == 'ai-rag-dev'
    assert egress[9200]['to'][0]['podSelector'] == {'matchLabels': {'elasticsearch.k8s.elastic.co/cluster-name': 'rag'}}
    assert egress[4318]['to'][0]['namespaceSelector']['matchLabels']['kubernetes.io/metadata.name'] == 'monitoring'
    r = ag.render(MODELS, {'image': IMAGE, 'network_policy': False})
    assert not [o for o in r['overlays']['dev']['resources'] if o['kind'] == 'NetworkPolicy']


def test_overlays_namespace_replicas_and_config_hash(rendered):
    ov = rendered['overlays']
    assert dict((e, ov[e]['namespace']) for e in ov) == {'dev': 'ai-app-dev', 'staging': 'ai-app-staging',
                                                         'production': 'ai-app'}
    hashes = set()
    for env in ov:
        patch = ov[env]['patches'][0]
        assert patch['target'] == {'kind': 'Deployment', 'name': 'ai-gateway'}
        hashes.add(patch['patch']['spec']['template']['metadata']['annotations']['cnai.platform/config-hash'])
    assert len(hashes) == 3
    r = ag.render(MODELS, {'image': IMAGE, 'environments': {
        'dev': {'namespace': 'ai-app-dev', 'replicas': {'min': 1, 'max': 2}}, 'production': {'namespace': 'ai-app'}}})
    assert r['overlays']['dev']['patches'][1]['patch'] == [
        {'op': 'replace', 'path': '/spec/minReplicas', 'value': 1},
        {'op': 'replace', 'path': '/spec/maxReplicas', 'value': 2}]
    assert len(r['overlays']['production']['patches']) == 1


def test_stores_off():
    r = ag.render(MODELS, {'image': IMAGE, 'milvus_enabled': False, 'elasticsearch_enabled': False,
                           'otlp_traces': False, 'otlp_metrics': False})
    assert r['credentials']['dev'] == []
    app = _app(r, 'dev')
    assert 'vectorstore' not in app['spring']['ai'] and 'elasticsearch' not in app['spring']
    dep = [o for o in r['resources'] if o['kind'] == 'Deployment'][0]
    assert not [v for v in dep['spec']['template']['spec']['volumes'] if v['name'] == 'certs']


def test_credentials_data():
    b64 = base64.b64encode(b'x').decode()
    copies = ag.render(MODELS, {'image': IMAGE})['credentials']['dev']
    secrets = [{'metadata': {'namespace': 'ai-rag-dev', 'name': 'milvus-credentials'},
                'data': {'username': b64, 'password': b64}},
               {'metadata': {'namespace': 'ai-rag-dev', 'name': 'rag-es-http-certs-public'}, 'data': {'tls.crt': b64}}]
    out = ag.credentials_data(copies, secrets)
    assert out['data'] == {'milvus-username': b64, 'milvus-password': b64}
    assert out['missing'] == [
        'Secret ai-rag-dev/rag-es-gateway-user does not exist (needed for elasticsearch-password)',
        'Secret ai-rag-dev/rag-es-http-certs-public has no key ca.crt (needed for elasticsearch-ca.crt)']


@pytest.mark.parametrize('options, message', [
    ({'spring_ai_major': 3}, r'ai_gateway_spring_ai_major must be 1 or 2'),
    ({'image': 'registry.example.com/ai-gateway:latest'}, r'ai_gateway_image must carry a pinned tag'),
    ({'image': 'registry.example.com:5000/ai-gateway'}, r'ai_gateway_image must carry a pinned tag'),
    ({'exposure': 'nginx'}, r'ai_gateway_exposure must be one of'),
    ({'monitor': 'auto'}, r'ai_gateway_monitor must be one of'),
    ({'replicas': {'min': 3, 'max': 2}}, r'ai_gateway_replicas: min \(3\) is greater than max \(2\)'),
    ({'request_timeout': '10 minutes'}, r'ai_gateway_request_timeout must be a Gateway API duration'),
    ({'request_timeout': '60s', 'backend_timeout': '120s'}, r'ai_gateway_backend_timeout \(120s\) cannot be longer'),
    ({'gateway_create': True}, r'ai_gateway_gateway_create needs ai_gateway_gateway_class'),
    ({'hostnames': ['Not A Host']}, r'ai_gateway_hostnames must be a list of DNS names'),
    ({'embedding_model': 'qwen-chat'}, r"ai_gateway_embedding_model 'qwen-chat' is not an embedding model"),
    ({'default_chat_model': 'bge-m3'}, r"ai_gateway_default_chat_model 'bge-m3' is not a chat model"),
    ({'vllm_environments': {'dev': {'namespace': 'x'}}}, r'ai_gateway_vllm_environments has no entry for environment'),
    ({'cpu_request': 'lots'}, r'ai_gateway_cpu_request must be a Kubernetes quantity'),
    ({'bogus': 1}, r"unknown ai_gateway render option 'bogus'"),
    ({'milvus': {'dev': {'port': 'x'}}}, r'milvus_endpoint.port must be an integer'),
])
def test_bad_options(options, message):
    with pytest.raises(ag.AiGatewayError, match=message):
        ag.render(MODELS, dict({'image': IMAGE}, **options))


def test_bad_models():
    only_embed = [m for m in MODELS if m['name'] == 'bge-m3']
    with pytest.raises(ag.AiGatewayError, match='no chat'):
        ag.render(only_embed, {'image': IMAGE})
    bad = copy.deepcopy(MODELS)
    bad[0]['name'] = 'Bad_Name'
    with pytest.raises(ag.AiGatewayError, match=r'cnai_models'):
        ag.render(bad, {'image': IMAGE})


def test_filters():
    f = FilterModule().filters()
    assert set(f) == {'ai_gateway_manifests', 'ai_gateway_credentials', 'ai_gateway_wiring', 'ai_gateway_route_line',
                      'ai_gateway_status_lines'}
    with pytest.raises(AnsibleFilterError, match='^ai_gateway: ai_gateway_spring_ai_major'):
        f['ai_gateway_manifests'](MODELS, {'image': IMAGE, 'spring_ai_major': 0})
    r = f['ai_gateway_manifests'](MODELS, {'image': IMAGE})
    assert f['ai_gateway_route_line'](r['routes']['dev'][3]) == \
        'route bge-m3 (embedding): bge-m3 at http://bge-m3.ai-inference-dev.svc:8000, dimension 1024'


def test_status_lines_from_live_objects():
    cm = {'metadata': {'namespace': 'ai-app-dev', 'name': 'ai-gateway-config'},
          'data': {'application.yaml': 'cnai:\n  gateway:\n    routes:\n'
                   '    - {name: chat, kind: chat, model: m, base-url: "http://chat.ns.svc:8000"}\n'
                   '    milvus: {host: milvus.ai-rag-dev.svc, port: 19530}\n'}}
    bad = {'metadata': {'namespace': 'x', 'name': 'y'}, 'data': {'application.yaml': 'a: [unclosed'}}
    milvus = [{'metadata': {'namespace': 'ai-rag-dev', 'name': 'milvus-standalone'},
               'spec': {'replicas': 1}, 'status': {'readyReplicas': 1}}]
    es = [{'metadata': {'namespace': 'ai-rag-dev', 'name': 'rag'}, 'spec': {'version': '9.5.0'},
           'status': {'health': 'green', 'availableNodes': 1}}]
    lines = ag.status_lines([cm, bad], milvus, es)
    assert lines[:2] == ['milvus ai-rag-dev/milvus-standalone: ready 1/1',
                         'elasticsearch ai-rag-dev/rag: health green, 1 node(s) available, version 9.5.0']
    assert 'gateway ai-app-dev: route chat (chat): m at http://chat.ns.svc:8000' in lines
    assert 'gateway ai-app-dev: milvus at milvus.ai-rag-dev.svc:19530' in lines
    assert any(line.startswith('gateway x/y: application.yaml unreadable') for line in lines)
    assert ag.status_lines([]) == []
