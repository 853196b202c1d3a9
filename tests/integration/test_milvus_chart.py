# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The values the milvus role owns (cnai.platform.milvus_values), rendered by the REAL pinned chart with
`helm template` (no cluster): both modes, so that the cluster mode, which molecule/milvus does not install
(time), is checked against the chart's templates too - the Milvus 2.6 components, the Secrets reaching every
Milvus container, no secret in the ConfigMap, Woodpecker as the message queue, PVC sizes.

Needs the packaged chart (CNAI_CHART_DIR, ../shared/charts) and the testbed's helm (.cache/testbed/bin);
skipped when either is missing.
"""
import os
import subprocess

import pytest
import yaml

from ansible_collections.cnai.platform.plugins.module_utils.milvus_manifests import owned_values

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _pin():
    with open(os.path.join(ROOT, 'bom.yml')) as f:
        return yaml.safe_load(f)['milvus']


def _helm():
    env = {}
    with open(os.path.join(ROOT, 'tools', 'testbed', 'versions.env')) as f:
        for line in f:
            if '=' in line and not line.startswith('#'):
                k, v = line.strip().split('=', 1)
                env[k] = v
    return os.path.join(ROOT, '.cache', 'testbed', 'bin', 'helm-' + env.get('HELM_VERSION', ''), 'helm')


CHART = os.path.join(os.environ.get('CNAI_CHART_DIR') or os.path.join(ROOT, '..', 'shared', 'charts'),
                     'milvus-%s.tgz' % _pin()['chart_version'])
HELM = _helm()
pytestmark = pytest.mark.skipif(not (os.path.exists(CHART) and os.access(HELM, os.X_OK)),
                                reason='needs %s and %s' % (CHART, HELM))

OPTS = {'message_queue': 'woodpecker', 'object_store_secret': 'milvus-minio-credentials',
        'credentials_secret': 'milvus-credentials', 'auth_enabled': True, 'storage_class': '',
        'standalone_storage_size': '7Gi', 'etcd_storage_size': '3Gi', 'minio_storage_size': '11Gi',
        'minio_resources': {}, 'servicemonitor': False, 'prometheus_release': 'kube-prometheus-stack',
        'replicas': {'queryNode': 3}, 'resources': {'queryNode': {'requests': {'cpu': '2', 'memory': '8Gi'}}}}


def render(mode, tmp_path, **kw):
    opts = dict(OPTS, mode=mode, etcd_replicas=1 if mode == 'standalone' else 3)
    opts.update(kw)
    values = tmp_path / 'values.yaml'
    values.write_text(yaml.safe_dump(owned_values(opts)))
    out = subprocess.run([HELM, 'template', 'milvus', CHART, '-n', 'ai-rag', '-f', str(values)],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs, kind):
    return dict((d['metadata']['name'], d) for d in docs if d['kind'] == kind)


def milvus_containers(docs):
    for d in docs:
        if d['kind'] in ('Deployment', 'StatefulSet') and \
                d['spec']['template']['metadata']['labels'].get('app.kubernetes.io/name') == 'milvus':
            for c in d['spec']['template']['spec']['containers']:
                if 'milvusdb/milvus:' in c['image']:
                    yield d['metadata']['name'], c


def check_secrets(docs):
    n = 0
    for name, c in milvus_containers(docs):
        refs = dict((e['name'], e['valueFrom']['secretKeyRef']) for e in c.get('env', []) if 'valueFrom' in e
                    and 'secretKeyRef' in e['valueFrom'])
        assert refs['MINIO_ACCESS_KEY_ID'] == {'name': 'milvus-minio-credentials', 'key': 'accesskey'}, name
        assert refs['MINIO_SECRET_ACCESS_KEY'] == {'name': 'milvus-minio-credentials', 'key': 'secretkey'}, name
        assert refs['COMMON_SECURITY_DEFAULTROOTPASSWORD'] == {'name': 'milvus-credentials', 'key': 'password'}, name
        n += 1
    cm = by_kind(docs, 'ConfigMap')['milvus']['data']
    default = yaml.safe_load(cm['default.yaml'])
    assert default['minio']['accessKeyID'] is None and default['minio']['secretAccessKey'] is None
    assert 'minioadmin' not in ''.join(cm.values())
    assert not [d for d in docs if d['kind'] == 'Secret']            # MinIO uses existingSecret
    user = yaml.safe_load(cm['user.yaml'])
    assert user['common']['security']['authorizationEnabled'] is True
    return n, default, user


def test_standalone(tmp_path):
    docs = render('standalone', tmp_path)
    deps, sts = by_kind(docs, 'Deployment'), by_kind(docs, 'StatefulSet')
    assert sorted(deps) == ['milvus-minio', 'milvus-standalone'] and sorted(sts) == ['milvus-etcd']
    n, default, user = check_secrets(docs)
    assert n == 1
    assert default['mq']['type'] == 'woodpecker' and user['mq']['type'] == 'woodpecker'
    pvcs = by_kind(docs, 'PersistentVolumeClaim')
    assert pvcs['milvus']['spec']['resources']['requests']['storage'] == '7Gi'
    assert pvcs['milvus-minio']['spec']['resources']['requests']['storage'] == '11Gi'
    assert sts['milvus-etcd']['spec']['volumeClaimTemplates'][0]['spec']['resources']['requests']['storage'] == '3Gi'
    assert 'ServiceMonitor' not in [d['kind'] for d in docs]


def test_cluster_is_milvus_2_6_layout(tmp_path):
    docs = render('cluster', tmp_path, servicemonitor=True)
    deps, sts = by_kind(docs, 'Deployment'), by_kind(docs, 'StatefulSet')
    assert sorted(deps) == ['milvus-datanode', 'milvus-mixcoord', 'milvus-proxy', 'milvus-querynode',
                            'milvus-streamingnode']
    assert sorted(sts) == ['milvus-etcd', 'milvus-minio']           # no Pulsar, no Kafka, no Woodpecker service
    assert sts['milvus-etcd']['spec']['replicas'] == 3
    n, default, user = check_secrets(docs)
    assert n == 5
    assert user['mq']['type'] == 'woodpecker'
    assert deps['milvus-querynode']['spec']['replicas'] == 3
    qn = deps['milvus-querynode']['spec']['template']['spec']['containers'][0]
    assert qn['resources'] == {'requests': {'cpu': '2', 'memory': '8Gi'}}
    sm = by_kind(docs, 'ServiceMonitor')['milvus']
    assert sm['metadata']['labels']['release'] == 'kube-prometheus-stack'


def test_cluster_with_pulsar(tmp_path):
    docs = render('cluster', tmp_path, message_queue='pulsar')
    cm = yaml.safe_load(by_kind(docs, 'ConfigMap')['milvus']['data']['default.yaml'])
    assert cm['mq']['type'] == 'pulsar'
    assert any(d['metadata']['name'].startswith('milvus-pulsarv3-') for d in docs if d['kind'] == 'StatefulSet')
