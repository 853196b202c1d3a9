# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import milvus_manifests as mm

BASE = {'mode': 'standalone', 'message_queue': 'woodpecker', 'object_store_secret': 'milvus-minio-credentials',
        'credentials_secret': 'milvus-credentials', 'auth_enabled': True,
        'resources': {'standalone': {'requests': {'cpu': '1', 'memory': '4Gi'}}}, 'replicas': {'proxy': 2},
        'storage_class': '', 'standalone_storage_size': '50Gi', 'etcd_replicas': 1, 'etcd_storage_size': '10Gi',
        'minio_storage_size': '100Gi', 'minio_resources': {'requests': {'memory': '2Gi'}}, 'servicemonitor': True,
        'prometheus_release': 'kps'}


def values(**kw):
    o = dict(BASE)
    o.update(kw)
    return mm.owned_values(o)


def test_standalone_woodpecker():
    v = values()
    assert v['cluster'] == {'enabled': False}
    assert v['standalone']['messageQueue'] == 'woodpecker'
    assert v['streaming']['woodpecker'] == {'embedded': True, 'storage': {'type': 'minio'}}
    assert v['pulsarv3'] == {'enabled': False} and v['kafka'] == {'enabled': False} and v['woodpecker'] == {'enabled': False}
    assert v['minio']['mode'] == 'standalone' and v['etcd']['replicaCount'] == 1
    assert v['standalone']['persistence']['persistentVolumeClaim'] == {'size': '50Gi'}
    assert v['metrics']['serviceMonitor'] == {'enabled': True, 'additionalLabels': {'release': 'kps'}}
    assert 'proxy' not in v and 'mixCoordinator' not in v


def test_no_secret_in_values_and_env_from_secrets():
    v = values()
    assert v['minio']['accessKey'] == '' and v['minio']['secretKey'] == ''
    assert v['minio']['existingSecret'] == 'milvus-minio-credentials'
    env = dict((e['name'], e['valueFrom']['secretKeyRef']) for e in v['standalone']['extraEnv'])
    assert env == {'MINIO_ACCESS_KEY_ID': {'name': 'milvus-minio-credentials', 'key': 'accesskey'},
                   'MINIO_SECRET_ACCESS_KEY': {'name': 'milvus-minio-credentials', 'key': 'secretkey'},
                   'COMMON_SECURITY_DEFAULTROOTPASSWORD': {'name': 'milvus-credentials', 'key': 'password'}}
    assert 'authorizationEnabled: true' in v['extraConfigFiles']['user.yaml']
    v = values(auth_enabled=False)
    assert 'authorizationEnabled: false' in v['extraConfigFiles']['user.yaml']
    assert [e['name'] for e in v['standalone']['extraEnv']] == ['MINIO_ACCESS_KEY_ID', 'MINIO_SECRET_ACCESS_KEY']


def test_cluster_layout_of_2_6():
    v = values(mode='cluster', etcd_replicas=3, resources={'queryNode': {'limits': {'memory': '16Gi'}}},
               replicas={'queryNode': 3, 'proxy': 2})
    assert v['cluster'] == {'enabled': True}
    for comp in ('proxy', 'mixCoordinator', 'queryNode', 'dataNode', 'streamingNode'):
        assert [e['name'] for e in v[comp]['extraEnv']][:2] == ['MINIO_ACCESS_KEY_ID', 'MINIO_SECRET_ACCESS_KEY']
    for comp in mm.RETIRED:
        assert v[comp] == {'enabled': False}
    assert v['queryNode']['replicas'] == 3 and v['queryNode']['resources'] == {'limits': {'memory': '16Gi'}}
    assert v['mixCoordinator']['replicas'] == 1 and v['mixCoordinator']['enabled'] is True
    assert v['minio']['mode'] == 'distributed' and v['etcd']['replicaCount'] == 3
    assert 'mq:\n  type: woodpecker' in v['extraConfigFiles']['user.yaml']
    assert 'standalone' not in v


@pytest.mark.parametrize('queue, on', [('pulsar', 'pulsarv3'), ('kafka', 'kafka')])
def test_other_queues(queue, on):
    v = values(mode='cluster', etcd_replicas=3, message_queue=queue)
    assert v[on] == {'enabled': True}
    assert 'mq:' not in v['extraConfigFiles']['user.yaml']


def test_storage_class_reaches_every_pvc():
    v = values(storage_class='fast')
    assert v['etcd']['persistence']['storageClass'] == 'fast'
    assert v['minio']['persistence']['storageClass'] == 'fast'
    assert v['standalone']['persistence']['persistentVolumeClaim']['storageClass'] == 'fast'


@pytest.mark.parametrize('kw, needle', [
    ({'mode': 'distributed'}, 'milvus_mode must be standalone or cluster'),
    ({'message_queue': 'rocksmq'}, 'milvus_message_queue must be one of'),
    ({'object_store_secret': 'Bad_Name'}, 'milvus_object_store_secret must be a Secret name'),
    ({'credentials_secret': ''}, 'milvus_credentials_secret must be a Secret name'),
    ({'resources': {'indexNode': {}}}, 'milvus_resources.indexNode: not a Milvus 2.6 component'),
    ({'resources': {'standalone': {'requests': {'cpu': 'lots'}}}}, "milvus_resources.standalone.requests.cpu is not a Kubernetes quantity (got 'lots')"),
    ({'resources': {'standalone': {'asks': {}}}}, 'only requests and limits'),
    ({'replicas': {'standalone': 2}}, 'milvus_replicas.standalone: not a cluster-mode component'),
    ({'replicas': {'proxy': 0}}, 'milvus_replicas.proxy must be an integer from 1 to 100'),
    ({'replicas': {'proxy': True}}, 'milvus_replicas.proxy must be an integer'),
    ({'etcd_replicas': 2}, 'milvus_etcd_replicas must be 1, 3 or 5'),
    ({'standalone_storage_size': 'big'}, 'milvus_standalone_storage_size must be a storage size'),
    ({'minio_storage_size': '10m'}, 'milvus_minio_storage_size must be a storage size'),
])
def test_bad_values_name_the_variable(kw, needle):
    with pytest.raises(mm.MilvusValuesError) as err:
        values(**kw)
    assert needle in str(err.value)


ENVS = {'dev': {'namespace': 'ai-rag-dev', 'gateway_namespace': 'ai-app-dev'},
        'production': {'namespace': 'ai-rag', 'gateway_namespace': 'ai-app'}}


def test_network_policies():
    out = mm.network_policies({'release': 'milvus', 'environments': ENVS, 'gateway_namespace': 'ai-app',
                               'gateway_labels': {'app.kubernetes.io/name': 'ai-gateway'},
                               'monitoring_namespace': 'monitoring'})
    pols = dict((p['metadata']['name'], p) for p in out['resources'])
    assert sorted(pols) == ['milvus', 'milvus-etcd', 'milvus-minio']
    m = pols['milvus']['spec']
    assert m['podSelector'] == {'matchLabels': {'app.kubernetes.io/instance': 'milvus', 'app.kubernetes.io/name': 'milvus'}}
    assert m['ingress'][0] == {'from': [{'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 'ai-app'}},
                                         'podSelector': {'matchLabels': {'app.kubernetes.io/name': 'ai-gateway'}}}],
                               'ports': [{'protocol': 'TCP', 'port': 19530}]}
    assert m['ingress'][1]['ports'] == [{'protocol': 'TCP', 'port': 9091}]
    assert m['ingress'][2] == {'from': [{'podSelector': {'matchLabels': {'app.kubernetes.io/instance': 'milvus'}}}]}
    assert pols['milvus-minio']['spec']['podSelector'] == {'matchLabels': {'app': 'minio', 'release': 'milvus'}}
    assert pols['milvus-minio']['spec']['ingress'][0]['from'][1] == {'podSelector': {'matchLabels': {'app': 'minio', 'release': 'milvus'}}}
    assert pols['milvus-etcd']['spec']['podSelector']['matchLabels']['app.kubernetes.io/name'] == 'etcd'
    dev = out['overlays']['dev']
    assert dev['namespace'] == 'ai-rag-dev'
    assert json.dumps(dev['patches']).count('ai-app-dev') == 1
    assert dev['patches'][0]['target'] == {'kind': 'NetworkPolicy', 'name': 'milvus'}


def test_network_policies_bad_environment():
    with pytest.raises(mm.MilvusValuesError) as err:
        mm.network_policies({'release': 'milvus', 'environments': {'dev': {'namespace': 'ai-rag-dev'}}})
    assert 'milvus_environments.dev.gateway_namespace must be a namespace name' in str(err.value)


def test_installed_versions():
    def wl(*images):
        return {'spec': {'template': {'spec': {'containers': [{'image': i} for i in images]}}}}
    assert mm.installed_versions([wl('milvusdb/milvus:v2.4.17'), wl('docker.io/milvusdb/milvus:v2.5.16', 'busybox:1'),
                                  wl('milvusdb/etcd:3.5.25-r1'), wl('registry:5000/milvusdb/milvus'),
                                  wl('milvusdb/milvus-operator:v1.3.8')]) == ['v2.4.17', 'v2.5.16']
    assert mm.installed_versions([]) == []
