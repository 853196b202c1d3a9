# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Elasticsearch on ECK: the rendered objects per environment, the hybrid-search index template and the
comparison that keeps its PUT idempotent."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter.elasticsearch import FilterModule
from ansible_collections.cnai.platform.plugins.module_utils import elasticsearch as es
from ansible_collections.cnai.platform.plugins.module_utils import kustomize_render as kr
from ansible_collections.cnai.platform.plugins.module_utils import model_sizing as ms

OPTS = {'version': '9.5.0', 'file_realm_secrets': ['rag-es-gateway-user'], 'roles_secrets': ['rag-es-roles']}
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


def apply_overlay(rendered, env):
    """The overlay's objects as kustomize would build them (JSON patches 'replace' only)."""
    objs = copy.deepcopy(rendered['resources'])
    for patch in rendered['overlays'][env]['patches']:
        for obj in objs:
            if obj['kind'] == patch['target']['kind'] and obj['metadata']['name'] == patch['target']['name']:
                for op in patch['patch']:
                    assert op['op'] == 'replace'
                    parts = op['path'].strip('/').split('/')
                    node = obj
                    for part in parts[:-1]:
                        node = node[part]
                    node[parts[-1]] = op['value']
    return dict((o['kind'], o) for o in objs)


def test_base_is_production_three_nodes_required_anti_affinity():
    out = es.render(OPTS)
    cr = out['resources'][0]
    assert cr['apiVersion'] == 'elasticsearch.k8s.elastic.co/v1' and cr['metadata'] == {'name': 'rag'}
    spec = cr['spec']
    assert spec['version'] == '9.5.0'
    assert spec['http'] == {'tls': {'selfSignedCertificate': {}}}
    assert spec['auth'] == {'fileRealm': [{'secretName': 'rag-es-gateway-user'}],
                            'roles': [{'secretName': 'rag-es-roles'}]}
    assert 'podDisruptionBudget' not in spec         # ECK's own default PDB
    node_set = spec['nodeSets'][0]
    assert node_set['count'] == 3
    assert node_set['config'] == {'node.store.allow_mmap': False}
    pod = node_set['podTemplate']['spec']
    assert 'initContainers' not in pod
    anti = pod['affinity']['podAntiAffinity']['requiredDuringSchedulingIgnoredDuringExecution'][0]
    assert anti == {'labelSelector': {'matchLabels': {'elasticsearch.k8s.elastic.co/cluster-name': 'rag'}},
                    'topologyKey': 'kubernetes.io/hostname'}
    assert pod['containers'][0]['resources'] == {'requests': {'cpu': '1', 'memory': '4Gi'},
                                                 'limits': {'memory': '4Gi'}}
    assert node_set['volumeClaimTemplates'] == [{'metadata': {'name': 'elasticsearch-data'}, 'spec': {
        'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': '50Gi'}}}}]
    assert out['namespaces'] == {'dev': 'ai-rag-dev', 'staging': 'ai-rag-staging', 'production': 'ai-rag'}
    assert out['nodes'] == {'dev': 1, 'staging': 3, 'production': 3}


def test_overlays_set_namespace_nodes_and_gateway_peer():
    out = es.render(OPTS)
    dev = apply_overlay(out, 'dev')
    assert out['overlays']['dev']['namespace'] == 'ai-rag-dev'
    assert out['overlays']['dev']['labels'] == {'cnai.platform/environment': 'dev'}
    ns = dev['Elasticsearch']['spec']['nodeSets'][0]
    assert ns['count'] == 1
    assert 'affinity' not in ns['podTemplate']['spec']          # preferred: ECK's default
    ingress = dev['NetworkPolicy']['spec']['ingress']
    assert ingress[0]['from'][0]['namespaceSelector']['matchLabels'] == {'kubernetes.io/metadata.name': 'ai-app-dev'}
    prod = apply_overlay(out, 'production')['NetworkPolicy']['spec']['ingress']
    assert prod[0]['from'][0]['namespaceSelector']['matchLabels'] == {'kubernetes.io/metadata.name': 'ai-app'}


def test_network_policy_peers_and_ports():
    pol = es.render(OPTS)['resources'][1]
    assert pol['kind'] == 'NetworkPolicy' and pol['metadata']['name'] == 'rag-es'
    assert pol['spec']['policyTypes'] == ['Ingress']
    assert pol['spec']['podSelector'] == {'matchLabels': {'common.k8s.elastic.co/type': 'elasticsearch',
                                                          'elasticsearch.k8s.elastic.co/cluster-name': 'rag'}}
    gw, op, peers = pol['spec']['ingress']
    assert gw['from'][0]['podSelector'] == {'matchLabels': {'app.kubernetes.io/name': 'ai-gateway'}}
    assert gw['ports'] == [{'protocol': 'TCP', 'port': 9200}]
    assert op['from'][0]['namespaceSelector'] == {'matchLabels': {'kubernetes.io/metadata.name': 'elastic-system'}}
    assert op['from'][0]['podSelector'] == {'matchLabels': {'app.kubernetes.io/name': 'elastic-operator'}}
    assert op['ports'] == [{'protocol': 'TCP', 'port': 9200}]
    assert peers == {'from': [{'podSelector': {'matchLabels': pol['spec']['podSelector']['matchLabels']}}],
                     'ports': [{'protocol': 'TCP', 'port': 9300}]}


def test_network_policy_off():
    out = es.render(dict(OPTS, network_policy=False))
    assert [o['kind'] for o in out['resources']] == ['Elasticsearch']
    assert all(len(o['patches']) == 1 for o in out['overlays'].values())


def test_heap_storage_class_cert_and_sans():
    opts = dict(OPTS, heap='2g', memory='8Gi', storage_class='fast', cpu_limit='4', tls_secret='my-cert',
                environments={'production': {'namespace': 'ai-rag', 'gateway_namespace': 'ai-app'}})
    cr = es.render(opts)['resources'][0]
    assert cr['spec']['http'] == {'tls': {'certificate': {'secretName': 'my-cert'}}}
    node_set = cr['spec']['nodeSets'][0]
    container = node_set['podTemplate']['spec']['containers'][0]
    assert container['env'] == [{'name': 'ES_JAVA_OPTS', 'value': '-Xms2g -Xmx2g'}]
    assert container['resources']['limits'] == {'memory': '8Gi', 'cpu': '4'}
    assert node_set['volumeClaimTemplates'][0]['spec']['storageClassName'] == 'fast'
    sans = es.render(dict(OPTS, tls_subject_alt_names=['es.example.com', '10.0.0.5']))['resources'][0]
    assert sans['spec']['http']['tls']['selfSignedCertificate'] == {
        'subjectAltNames': [{'dns': 'es.example.com'}, {'ip': '10.0.0.5'}]}


def test_mmap_with_documented_init_container_only_on_request():
    cr = es.render(dict(OPTS, allow_mmap=True))['resources'][0]
    assert cr['spec']['nodeSets'][0]['config'] == {}
    assert 'initContainers' not in cr['spec']['nodeSets'][0]['podTemplate']['spec']
    cr = es.render(dict(OPTS, allow_mmap=True, max_map_count_init=True))['resources'][0]
    init = cr['spec']['nodeSets'][0]['podTemplate']['spec']['initContainers']
    assert init[0]['command'] == ['sh', '-c', 'sysctl -w vm.max_map_count=262144']


@pytest.mark.parametrize('change, message', [
    ({'config': {'xpack.security.enabled': False}}, 'xpack.security.enabled: False - refused: security must stay on'),
    ({'config': {'xpack': {'security': {'http': {'ssl': {'enabled': 'false'}}}}}},
     'xpack.security.http.ssl.enabled: false - refused'),
    ({'config': {'node.store.allow_mmap': True}}, 'set elasticsearch_allow_mmap instead'),
    ({'version': '9.5'}, 'must be a release such as 9.5.0'),
    ({'version': '7.17.0'}, 'needs Elasticsearch 8 or 9'),
    ({'max_map_count_init': True}, 'needs elasticsearch_allow_mmap: true'),
    ({'heap': '3g', 'memory': '4Gi'}, 'heap 3g is more than half of memory 4Gi'),
    ({'heap': '2GB'}, 'must be a JVM heap size'),
    ({'memory': 'lots'}, 'must be a memory quantity'),
    ({'environments': {'dev': {'nodes': 0}}}, 'elasticsearch_environments.dev.nodes must be at least 1'),
    ({'environments': {'dev': {'replicas': 1}}}, 'unknown keys replicas'),
    ({'environments': {'dev': {'anti_affinity': 'hard'}}}, 'anti_affinity must be one of'),
    ({'environments': {'dev': {'namespace': 'Bad_NS'}}}, 'namespace must be a DNS label'),
    ({'colour': 'red'}, 'unknown option colour'),
])
def test_bad_inputs_name_the_variable(change, message):
    opts = dict(OPTS, **change)
    if 'environments' in change:
        env = dict({'gateway_namespace': 'ai-app-dev'}, **change['environments']['dev'])
        opts['environments'] = {'dev': env}
    with pytest.raises(es.ElasticsearchError, match=message):
        es.render(opts)


def test_filter_wraps_errors():
    with pytest.raises(AnsibleFilterError, match='^elasticsearch: elasticsearch_version'):
        FilterModule().filters()['elasticsearch_manifests']({'version': ''})


def test_index_template_from_the_embedding_model_of_cnai_models():
    models = [{'name': 'qwen', 'model': 'Qwen/Qwen2.5-7B-Instruct'},
              {'name': 'bge-m3', 'model': 'BAAI/bge-m3', 'task': 'embed'}]
    embed = ms.embedding_models(models)[0]
    body = es.index_template({'dimension': embed['dimension'], 'embedding_model': embed['name'], 'replicas': 0})
    vector = body['template']['mappings']['properties']['embedding']
    assert vector == {'type': 'dense_vector', 'dims': 1024, 'index': True, 'similarity': 'cosine',
                      'index_options': {'type': 'hnsw', 'm': 16, 'ef_construction': 100}}
    props = body['template']['mappings']['properties']
    assert props['text'] == {'type': 'text', 'analyzer': 'standard'}
    assert props['source'] == {'type': 'keyword'} and props['timestamp'] == {'type': 'date'}
    assert body['template']['mappings']['dynamic'] == 'strict'
    assert body['template']['settings'] == {'number_of_shards': 1, 'number_of_replicas': 0}
    assert body['index_patterns'] == ['rag-*'] and body['priority'] == 200
    assert body['_meta']['embedding_model'] == 'bge-m3'


@pytest.mark.parametrize('change, message', [
    ({'dimension': None}, 'the vector dimension is missing'),
    ({'dimension': 5000}, 'dims must be 1..4096'),
    ({'similarity': 'jaccard'}, 'similarity must be one of'),
    ({'index_type': 'flat_ivf'}, 'vector index type must be one of'),
    ({'index_type': 'int4_hnsw', 'dimension': 3}, 'int4_hnsw needs an even dimension'),
    ({'m': 32, 'ef_construction': 16}, 'ef_construction >= m'),
    ({'index_patterns': []}, 'index_patterns must be a non-empty list'),
])
def test_index_template_bad_inputs(change, message):
    with pytest.raises(es.ElasticsearchError, match=message):
        es.index_template(dict({'dimension': 1024}, **change))


def as_stored(body):
    """The template as GET _index_template returns it: nested index settings with string values."""
    stored = copy.deepcopy(body)
    settings = stored['template'].pop('settings')
    stored['template']['settings'] = {'index': dict((k, str(v)) for k, v in settings.items())}
    stored['composed_of'] = []
    return {'index_templates': [{'name': 'cnai-rag', 'index_template': stored}]}


def test_template_differences_idempotent_and_detects_changes():
    body = es.index_template({'dimension': 1024})
    assert es.template_differences(body, es.current_template({}, 'cnai-rag')) == ['(absent)']
    assert es.template_differences(body, es.current_template(as_stored(body), 'cnai-rag')) == []
    other = es.index_template({'dimension': 768})
    assert es.template_differences(other, es.current_template(as_stored(body), 'cnai-rag')) == ['template.mappings']
    more = es.index_template({'dimension': 1024, 'replicas': 2, 'priority': 300})
    assert es.template_differences(more, es.current_template(as_stored(body), 'cnai-rag')) == [
        'priority', 'template.settings']
    f = FilterModule().filters()['elasticsearch_template_differences']
    assert f(body, as_stored(body), 'cnai-rag') == [] and f(body, as_stored(body), 'other') == ['(absent)']


def test_endpoint_and_roles():
    ep = es.endpoint('rag', 'ai-rag-dev', 'ai-gateway', 'rag-es-gateway-user', extra={'index': 'rag-kb'})
    assert ep == {'namespace': 'ai-rag-dev', 'service': 'rag-es-http', 'port': 9200,
                  'url': 'https://rag-es-http.ai-rag-dev.svc:9200', 'user': 'ai-gateway',
                  'secret': {'name': 'rag-es-gateway-user', 'key': 'password'},
                  'ca_secret': {'name': 'rag-es-http-certs-public', 'key': 'ca.crt'}, 'index': 'rag-kb'}
    assert es.roles_yaml_data('r', ['rag-*'], ['read'], ['monitor']) == {
        'r': {'cluster': ['monitor'], 'indices': [{'names': ['rag-*'], 'privileges': ['read']}]}}
    with pytest.raises(es.ElasticsearchError, match='at least one index pattern'):
        es.roles_yaml_data('r', [], ['read'], [])


KUSTOMIZE = os.path.join(ROOT, '.cache', 'testbed', 'bin', 'kustomize-v5.8.2', 'kustomize')


@pytest.mark.skipif(not os.path.exists(KUSTOMIZE), reason='kustomize not built (make testbed-build)')
def test_overlays_build_with_real_kustomize(tmp_path):
    out = es.render(OPTS)
    built = kr.render(str(tmp_path), out['resources'], 'ai-rag', out['overlays'],
                      {'app.kubernetes.io/part-of': 'cnai-platform'}, KUSTOMIZE)
    assert built['changed']
    objs = kr.kustomize_build(KUSTOMIZE, str(tmp_path / 'overlays' / 'dev'))
    by_kind = dict((o['kind'], o) for o in objs)
    assert by_kind['Elasticsearch']['metadata']['namespace'] == 'ai-rag-dev'
    assert by_kind['Elasticsearch']['spec']['nodeSets'][0]['count'] == 1
    assert by_kind['NetworkPolicy']['spec']['ingress'][0]['from'][0]['namespaceSelector']['matchLabels'] == {
        'kubernetes.io/metadata.name': 'ai-app-dev'}
    # labels reach the objects, never the NetworkPolicy's selectors
    assert by_kind['NetworkPolicy']['metadata']['labels']['cnai.platform/environment'] == 'dev'
    assert 'cnai.platform/environment' not in by_kind['NetworkPolicy']['spec']['podSelector']['matchLabels']


def test_booleans_given_as_strings():
    out = es.render(dict(OPTS, allow_mmap='False', network_policy='true'))
    assert out['resources'][0]['spec']['nodeSets'][0]['config'] == {'node.store.allow_mmap': False}
    with pytest.raises(es.ElasticsearchError, match='elasticsearch_allow_mmap must be true or false'):
        es.render(dict(OPTS, allow_mmap='maybe'))
