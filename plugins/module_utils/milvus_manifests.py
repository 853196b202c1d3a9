# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Helm values the milvus role owns, and its NetworkPolicies, as data (filters cnai.platform.milvus_values,
cnai.platform.milvus_network_policies, cnai.platform.milvus_installed_versions).

Chart: zilliztech/milvus-helm ``milvus`` 5.x (Milvus 2.6). Layout of 2.6: one mixCoord instead of the
four coordinators, a streaming node, Woodpecker (embedded in the streaming node, on the object store) as the
message queue unless Pulsar or Kafka is asked for; index building is in the data node (no index node).

Secrets never enter the values: the chart writes ``minio.accessKey/secretKey`` into its ConfigMap, so they
are left empty and every Milvus container reads them from Secrets through environment variables, which Milvus
ranks above its configuration files (a config key ``a.bC`` is read from the variable ``A_BC`` as well:
``MINIO_ACCESS_KEY_ID`` -> ``minio.accessKeyID``); MinIO itself reads the same Secret (``existingSecret``).
The root password reaches Milvus the same way (``COMMON_SECURITY_DEFAULTROOTPASSWORD`` ->
``common.security.defaultRootPassword``), so it is in no ConfigMap and no Helm release.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

MODES = ('standalone', 'cluster')
QUEUES = ('woodpecker', 'pulsar', 'kafka')
# Milvus 2.6 components of each mode (chart value keys) that run a Milvus container
COMPONENTS = {
    'standalone': ('standalone',),
    'cluster': ('proxy', 'mixCoordinator', 'queryNode', 'dataNode', 'streamingNode'),
}
# the coordinators and nodes Milvus 2.6 no longer runs apart (mixCoord and the data node took them over)
RETIRED = ('rootCoordinator', 'queryCoordinator', 'dataCoordinator', 'indexCoordinator', 'indexNode')
QUANTITY_RE = re.compile(r'^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P|E|Ei)?$')
DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')


class MilvusValuesError(Exception):
    """Bad input; the message names the variable."""


def _secret_env(name, secret, key):
    return {'name': name, 'valueFrom': {'secretKeyRef': {'name': secret, 'key': key}}}


def _check_resources(what, res):
    if not isinstance(res, dict):
        raise MilvusValuesError('%s must be a mapping {requests: {cpu, memory}, limits: {...}} (got %r)' % (what, res))
    for section, quantities in res.items():
        if section not in ('requests', 'limits') or not isinstance(quantities, dict):
            raise MilvusValuesError('%s: only requests and limits mappings (got %s)' % (what, section))
        for k, v in quantities.items():
            if not QUANTITY_RE.match(str(v)):
                raise MilvusValuesError('%s.%s.%s is not a Kubernetes quantity (got %r)' % (what, section, k, v))


def _size(what, v):
    if not QUANTITY_RE.match(str(v)) or str(v)[-1] not in 'iGTMPEk0123456789':
        raise MilvusValuesError('%s must be a storage size such as 50Gi (got %r)' % (what, v))
    return str(v)


def owned_values(o):
    """Options of the role -> the chart values it owns. o: mode, message_queue, object_store_secret,
    credentials_secret, auth_enabled, resources{component}, replicas{component}, storage_class,
    standalone_storage_size, etcd_replicas, etcd_storage_size, minio_storage_size, minio_resources,
    servicemonitor (bool), prometheus_release."""
    mode = o.get('mode')
    if mode not in MODES:
        raise MilvusValuesError('milvus_mode must be standalone or cluster (got %r)' % (mode,))
    queue = o.get('message_queue', 'woodpecker')
    if queue not in QUEUES:
        raise MilvusValuesError('milvus_message_queue must be one of %s (got %r)' % (', '.join(QUEUES), queue))
    for key, var in (('object_store_secret', 'milvus_object_store_secret'),
                     ('credentials_secret', 'milvus_credentials_secret')):
        if not DNS_LABEL.match(str(o.get(key) or '')):
            raise MilvusValuesError('%s must be a Secret name (got %r)' % (var, o.get(key)))
    resources = o.get('resources') or {}
    replicas = o.get('replicas') or {}
    for comp in resources:
        if comp not in COMPONENTS['standalone'] + COMPONENTS['cluster']:
            raise MilvusValuesError('milvus_resources.%s: not a Milvus 2.6 component (%s)'
                                    % (comp, ', '.join(COMPONENTS['standalone'] + COMPONENTS['cluster'])))
        _check_resources('milvus_resources.%s' % comp, resources[comp])
    for comp, n in replicas.items():
        if comp not in COMPONENTS['cluster']:
            raise MilvusValuesError('milvus_replicas.%s: not a cluster-mode component (%s)'
                                    % (comp, ', '.join(COMPONENTS['cluster'])))
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100:
            raise MilvusValuesError('milvus_replicas.%s must be an integer from 1 to 100 (got %r)' % (comp, n))
    etcd_replicas = o.get('etcd_replicas')
    if etcd_replicas not in (1, 3, 5):
        raise MilvusValuesError('milvus_etcd_replicas must be 1, 3 or 5 (got %r)' % (etcd_replicas,))
    _check_resources('milvus_minio_resources', o.get('minio_resources') or {})

    env = [_secret_env('MINIO_ACCESS_KEY_ID', o['object_store_secret'], 'accesskey'),
           _secret_env('MINIO_SECRET_ACCESS_KEY', o['object_store_secret'], 'secretkey')]
    user_yaml = ['common:', '  security:', '    authorizationEnabled: %s' % ('true' if o.get('auth_enabled') else 'false')]
    if o.get('auth_enabled'):
        env.append(_secret_env('COMMON_SECURITY_DEFAULTROOTPASSWORD', o['credentials_secret'], 'password'))
    if queue == 'woodpecker':
        # explicit for both modes: in cluster mode the chart leaves mq unset when Pulsar is off
        user_yaml += ['mq:', '  type: woodpecker']

    storage_class = o.get('storage_class') or None
    v = {
        'cluster': {'enabled': mode == 'cluster'},
        'streaming': {'enabled': True, 'woodpecker': {'embedded': True, 'storage': {'type': 'minio'}}},
        'woodpecker': {'enabled': False},
        'pulsarv3': {'enabled': queue == 'pulsar'},
        'pulsar': {'enabled': False},
        'kafka': {'enabled': queue == 'kafka'},
        'extraConfigFiles': {'user.yaml': '\n'.join(user_yaml) + '\n'},
        'metrics': {'enabled': True, 'serviceMonitor': {
            'enabled': bool(o.get('servicemonitor')),
            'additionalLabels': {'release': o.get('prometheus_release') or 'kube-prometheus-stack'}}},
        'etcd': {'replicaCount': etcd_replicas,
                 'persistence': {'size': _size('milvus_etcd_storage_size', o.get('etcd_storage_size'))}},
        'minio': {'mode': 'standalone' if mode == 'standalone' else 'distributed',
                  'existingSecret': o['object_store_secret'], 'accessKey': '', 'secretKey': '',
                  'resources': o.get('minio_resources') or {},
                  'persistence': {'size': _size('milvus_minio_storage_size', o.get('minio_storage_size'))}},
    }
    if storage_class:
        v['etcd']['persistence']['storageClass'] = storage_class
        v['minio']['persistence']['storageClass'] = storage_class
    if mode == 'standalone':
        v['standalone'] = {'messageQueue': queue, 'extraEnv': env, 'resources': resources.get('standalone', {}),
                           'persistence': {'persistentVolumeClaim': {
                               'size': _size('milvus_standalone_storage_size', o.get('standalone_storage_size'))}}}
        if storage_class:
            v['standalone']['persistence']['persistentVolumeClaim']['storageClass'] = storage_class
    else:
        for comp in COMPONENTS['cluster']:
            v[comp] = {'extraEnv': env, 'resources': resources.get(comp, {}), 'replicas': int(replicas.get(comp, 1))}
        v['mixCoordinator']['enabled'] = True
        v['proxy']['enabled'] = True
        v['queryNode']['enabled'] = True
        v['dataNode']['enabled'] = True
        for comp in RETIRED:
            v[comp] = {'enabled': False}
    return v


def network_policies(o):
    """The NetworkPolicies of the Milvus namespace, base (production) plus one overlay per environment.

    o: release, environments {env: {namespace, gateway_namespace}}, namespace (base), gateway_namespace (base),
    gateway_labels, monitoring_namespace, port, metrics_port. Returns {'resources': [...], 'overlays': {...}}.

    Policies (each selects pods of this release only):
    - milvus: Milvus pods accept the gateway on the gRPC port, the monitoring namespace on the metrics
      port, and every pod of the release (coordinators, nodes, proxies talk to each other on many ports);
    - milvus-etcd: etcd accepts the pods of the release (Milvus and its etcd peers);
    - milvus-minio: MinIO accepts the pods of the release and its own peers (chart labels app=minio,
      release=<release>)."""
    release = o.get('release', 'milvus')
    if not DNS_LABEL.match(release):
        raise MilvusValuesError('milvus_release_name must be a DNS label (got %r)' % (release,))
    envs = o.get('environments') or {}
    for env, e in envs.items():
        for key in ('namespace', 'gateway_namespace'):
            if not DNS_LABEL.match(str((e or {}).get(key) or '')):
                raise MilvusValuesError('milvus_environments.%s.%s must be a namespace name (got %r)'
                                        % (env, key, (e or {}).get(key)))
    instance = {'app.kubernetes.io/instance': release}
    minio_peers = {'podSelector': {'matchLabels': {'app': 'minio', 'release': release}}}
    own = {'podSelector': {'matchLabels': instance}}

    def milvus_ingress(gateway_ns):
        return [
            {'from': [{'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': gateway_ns}},
                       'podSelector': {'matchLabels': dict(o.get('gateway_labels') or {})}}],
             'ports': [{'protocol': 'TCP', 'port': int(o.get('port', 19530))}]},
            {'from': [{'namespaceSelector': {'matchLabels': {
                'kubernetes.io/metadata.name': o.get('monitoring_namespace', 'monitoring')}}}],
             'ports': [{'protocol': 'TCP', 'port': int(o.get('metrics_port', 9091))}]},
            {'from': [own]},
        ]

    def policy(name, selector, ingress):
        return {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',
                'metadata': {'name': name, 'labels': {'app.kubernetes.io/name': 'milvus',
                                                      'app.kubernetes.io/instance': release,
                                                      'app.kubernetes.io/managed-by': 'cnai.platform'}},
                'spec': {'podSelector': {'matchLabels': selector}, 'policyTypes': ['Ingress'], 'ingress': ingress}}

    resources = [
        policy(release, dict(instance, **{'app.kubernetes.io/name': 'milvus'}),
               milvus_ingress(o.get('gateway_namespace', 'ai-app'))),
        policy(release + '-etcd', dict(instance, **{'app.kubernetes.io/name': 'etcd'}), [{'from': [own]}]),
        policy(release + '-minio', {'app': 'minio', 'release': release}, [{'from': [own, minio_peers]}]),
    ]
    overlays = {}
    for env, e in sorted(envs.items()):
        overlays[env] = {
            'namespace': e['namespace'],
            'patches': [{'target': {'kind': 'NetworkPolicy', 'name': release},
                         'patch': {'spec': {'ingress': milvus_ingress(e['gateway_namespace'])}}}],
        }
    return {'resources': resources, 'overlays': overlays}


def installed_versions(workloads, images=('milvusdb/milvus',)):
    """Milvus versions the cluster runs now: the tags of Milvus images in Deployments/StatefulSets (k8s_info
    resources). The seed's hand-written 2.4 manifests count as well as a Helm release."""
    out = []
    for w in workloads or []:
        spec = ((w.get('spec') or {}).get('template') or {}).get('spec') or {}
        for c in (spec.get('containers') or []) + (spec.get('initContainers') or []):
            image = str(c.get('image') or '')
            repo, _, tag = image.rpartition(':')
            if '/' in tag or not repo:
                continue
            if any(repo == i or repo.endswith('/' + i) for i in images):
                out.append(tag)
    return sorted(set(out))
