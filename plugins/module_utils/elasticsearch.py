# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Elasticsearch for RAG on ECK: the objects the elasticsearch role renders, the index template for
hybrid search, and the comparison that keeps applying it idempotent.

``render(options)`` returns what ``cnai.platform.kustomize_render`` takes (design section 3b): the base
(the production shape) and one overlay per environment (namespace, node count, resources, heap, storage,
anti-affinity, and the NetworkPolicy peers of that environment's gateway namespace):

- ``Elasticsearch`` (``elasticsearch.k8s.elastic.co/v1``): security stays on (ECK's default; settings that
  would turn it or TLS off are refused), HTTP TLS from ECK (self-signed, or a given certificate Secret),
  users from the file realm (``spec.auth.fileRealm``) and roles (``spec.auth.roles``) Secrets the role keeps
  out of the tree, ``node.store.allow_mmap: false`` unless mmap is wanted (then, optionally, ECK's
  documented ``sysctl`` init container). The PodDisruptionBudget is ECK's own default (one per cluster).
- ``NetworkPolicy``: ingress to the Elasticsearch pods only from the gateway (9200), the ECK operator
  (9200), and the cluster's own nodes (9300).

``index_template(options)`` is the body of ``PUT _index_template/<name>``; ``template_differs`` compares it
with what ``GET _index_template/<name>`` returned. Everything is pure; errors are ``ElasticsearchError``
with a message naming the input to fix.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import re

API_VERSION = 'elasticsearch.k8s.elastic.co/v1'
NODESET = 'default'
DATA_VOLUME = 'elasticsearch-data'          # the claim name ECK mounts as the data directory
HTTP_PORT = 9200
TRANSPORT_PORT = 9300
ES_TYPE_LABEL = 'common.k8s.elastic.co/type'
ES_CLUSTER_LABEL = 'elasticsearch.k8s.elastic.co/cluster-name'
MAX_MAP_COUNT = 262144
ENV_KEYS = ('namespace', 'gateway_namespace', 'nodes', 'cpu', 'cpu_limit', 'memory', 'heap', 'storage',
            'storage_class', 'anti_affinity')
ANTI_AFFINITY = ('required', 'preferred', 'none')
VECTOR_INDEX_TYPES = ('hnsw', 'int8_hnsw', 'int4_hnsw', 'bbq_hnsw')
SIMILARITIES = ('cosine', 'dot_product', 'l2_norm', 'max_inner_product')
_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
_VERSION = re.compile(r'^(\d+)\.(\d+)\.(\d+)$')
_QUANTITY = re.compile(r'^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$')
_HEAP = re.compile(r'^(\d+)([mMgG])$')
_UNITS = {None: 1, 'k': 1000, 'M': 1000 ** 2, 'G': 1000 ** 3, 'T': 1000 ** 4,
          'Ki': 1024, 'Mi': 1024 ** 2, 'Gi': 1024 ** 3, 'Ti': 1024 ** 4}
# settings that would turn security or TLS off, or that ECK manages itself
_SECURITY_OFF = {
    'xpack.security.enabled': 'security must stay on (the seed ran with it off)',
    'xpack.security.http.ssl.enabled': 'HTTP TLS must stay on (ECK provides the certificates)',
    'xpack.security.transport.ssl.enabled': 'transport TLS must stay on (ECK provides the certificates)',
}

DEFAULTS = {
    'name': 'rag',
    'version': '',
    'image': '',
    'namespace': 'ai-rag',
    'environments': {
        'dev': {'namespace': 'ai-rag-dev', 'gateway_namespace': 'ai-app-dev', 'nodes': 1},
        'staging': {'namespace': 'ai-rag-staging', 'gateway_namespace': 'ai-app-staging', 'nodes': 3},
        'production': {'namespace': 'ai-rag', 'gateway_namespace': 'ai-app', 'nodes': 3,
                       'anti_affinity': 'required'},
    },
    # per-node sizing; every environment may override any of these
    'nodes': 3,
    'cpu': '1',
    'cpu_limit': '',
    'memory': '4Gi',
    'heap': '',                    # empty: Elasticsearch sizes its heap from the container's memory limit
    'storage': '50Gi',
    'storage_class': '',
    'anti_affinity': 'preferred',  # preferred: ECK's default (a preferred anti-affinity per host)
    'allow_mmap': False,
    'max_map_count_init': False,
    'config': {},
    'tls_secret': '',
    'tls_subject_alt_names': [],
    'file_realm_secrets': [],
    'roles_secrets': [],
    'network_policy': True,
    'gateway_pod_labels': {'app.kubernetes.io/name': 'ai-gateway'},
    'operator_namespace': 'elastic-system',
    'operator_pod_labels': {'app.kubernetes.io/name': 'elastic-operator'},
    'extra_ingress': [],
}


class ElasticsearchError(Exception):
    """Bad input; the message names the variable to fix."""


def _bool(value, where):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', 'yes', 'on', '1'):
        return True
    if text in ('false', 'no', 'off', '0', ''):
        return False
    raise ElasticsearchError('%s must be true or false, got %r' % (where, value))


# --------------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------------
def quantity_bytes(value, where):
    """Bytes of a Kubernetes memory quantity (``4Gi``, ``512Mi``, ``2G``)."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ElasticsearchError('%s must be a memory quantity such as 4Gi or 512Mi, got %r' % (where, value))
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def heap_bytes(value, where):
    match = _HEAP.match(str(value).strip())
    if not match:
        raise ElasticsearchError('%s must be a JVM heap size such as 2g or 1536m, got %r' % (where, value))
    return int(match.group(1)) * (1024 ** 3 if match.group(2) in 'gG' else 1024 ** 2)


def _flatten(config, prefix=''):
    out = {}
    for key, value in (config or {}).items():
        name = '%s.%s' % (prefix, key) if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def check_config(config):
    """Errors for extra Elasticsearch settings that would turn security or TLS off (dotted or nested)."""
    if not isinstance(config, dict):
        return ['elasticsearch_config must be a mapping of Elasticsearch settings']
    errors = []
    for key, value in sorted(_flatten(config).items()):
        if key in _SECURITY_OFF and str(value).lower() in ('false', 'no', 'off', '0'):
            errors.append('elasticsearch_config sets %s: %s - refused: %s' % (key, value, _SECURITY_OFF[key]))
        if key == 'node.store.allow_mmap':
            errors.append('elasticsearch_config sets node.store.allow_mmap: set elasticsearch_allow_mmap instead')
    return errors


def _env_settings(opts, env):
    spec = opts['environments'][env]
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ElasticsearchError('elasticsearch_environments.%s must be a mapping, got %r' % (env, spec))
    unknown = sorted(set(spec) - set(ENV_KEYS))
    if unknown:
        raise ElasticsearchError('elasticsearch_environments.%s: unknown keys %s (allowed: %s)'
                                 % (env, ', '.join(unknown), ', '.join(ENV_KEYS)))
    where = 'elasticsearch_environments.%s' % env
    out = dict((k, spec.get(k, opts.get(k))) for k in ENV_KEYS)
    out['namespace'] = spec.get('namespace') or opts['namespace']
    out['gateway_namespace'] = spec.get('gateway_namespace') or ''
    for key in ('namespace', 'gateway_namespace'):
        if not _DNS_LABEL.match(out[key] or ''):
            raise ElasticsearchError('%s.%s must be a DNS label (a namespace), got %r' % (where, key, out[key]))
    try:
        out['nodes'] = int(out['nodes'])
    except (TypeError, ValueError):
        raise ElasticsearchError('%s.nodes must be an integer, got %r' % (where, out['nodes']))
    if out['nodes'] < 1:
        raise ElasticsearchError('%s.nodes must be at least 1, got %d' % (where, out['nodes']))
    if out['anti_affinity'] not in ANTI_AFFINITY:
        raise ElasticsearchError('%s.anti_affinity must be one of %s, got %r'
                                 % (where, ', '.join(ANTI_AFFINITY), out['anti_affinity']))
    memory = quantity_bytes(out['memory'], '%s.memory (elasticsearch_memory)' % where)
    quantity_bytes(out['storage'], '%s.storage (elasticsearch_storage)' % where)
    if out['heap']:
        heap = heap_bytes(out['heap'], '%s.heap (elasticsearch_heap)' % where)
        if heap * 2 > memory:
            raise ElasticsearchError(
                '%s: heap %s is more than half of memory %s; Elasticsearch needs the rest for the file system '
                'cache and off-heap structures (vectors): lower the heap or raise the memory'
                % (where, out['heap'], out['memory']))
    for key in ('cpu', 'cpu_limit', 'memory', 'heap', 'storage', 'storage_class'):
        out[key] = str(out[key] or '')
    if not out['cpu']:
        raise ElasticsearchError('%s.cpu (elasticsearch_cpu) must be set, e.g. "1"' % where)
    return out


def normalize_options(options):
    """Defaults filled in, every input checked; raises ``ElasticsearchError`` listing what to fix."""
    opts = copy.deepcopy(DEFAULTS)
    for key, value in (options or {}).items():
        if key not in DEFAULTS:
            raise ElasticsearchError('unknown option %s (known: %s)' % (key, ', '.join(sorted(DEFAULTS))))
        if value is not None:
            opts[key] = value
    if not _DNS_LABEL.match(str(opts['name'])):
        raise ElasticsearchError('elasticsearch_name must be a DNS label, got %r' % opts['name'])
    match = _VERSION.match(str(opts['version']))
    if not match:
        raise ElasticsearchError('elasticsearch_version must be a release such as 9.5.0 (bom.yml '
                                 'elasticsearch.version), got %r' % opts['version'])
    if int(match.group(1)) < 8:
        raise ElasticsearchError('elasticsearch_version %s: this role needs Elasticsearch 8 or 9 (dense_vector '
                                 'with HNSW index options)' % opts['version'])
    if not isinstance(opts['environments'], dict) or not opts['environments']:
        raise ElasticsearchError('elasticsearch_environments must map environment names to {namespace, nodes, ...}')
    errors = check_config(opts['config'])
    if errors:
        raise ElasticsearchError('; '.join(errors))
    for key in ('allow_mmap', 'max_map_count_init', 'network_policy'):
        opts[key] = _bool(opts[key], 'elasticsearch_' + key)
    if opts['max_map_count_init'] and not opts['allow_mmap']:
        raise ElasticsearchError('elasticsearch_max_map_count_init needs elasticsearch_allow_mmap: true (without '
                                 'mmap, vm.max_map_count does not matter)')
    for key in ('file_realm_secrets', 'roles_secrets', 'tls_subject_alt_names', 'extra_ingress'):
        if not isinstance(opts[key], list):
            raise ElasticsearchError('%s must be a list' % key)
    opts['env'] = dict((env, _env_settings(opts, env)) for env in sorted(opts['environments']))
    return opts


# --------------------------------------------------------------------------------------------------
# objects
# --------------------------------------------------------------------------------------------------
def _node_set(opts, env):
    """The one nodeSet of an environment (all roles on every node: master, data, ingest)."""
    es = opts['env'][env]
    config = dict(_flatten(opts['config']))
    if not opts['allow_mmap']:
        config['node.store.allow_mmap'] = False
    resources = {'requests': {'cpu': es['cpu'], 'memory': es['memory']}, 'limits': {'memory': es['memory']}}
    if es['cpu_limit']:
        resources['limits']['cpu'] = es['cpu_limit']
    container = {'name': 'elasticsearch', 'resources': resources}
    if es['heap']:
        container['env'] = [{'name': 'ES_JAVA_OPTS', 'value': '-Xms%s -Xmx%s' % (es['heap'], es['heap'])}]
    pod_spec = {'containers': [container]}
    if opts['max_map_count_init']:
        # ECK's documented alternative when mmap is wanted and the hosts do not set vm.max_map_count:
        # a privileged init container (ECK fills in the Elasticsearch image). Only on request.
        pod_spec['initContainers'] = [{
            'name': 'sysctl',
            'securityContext': {'privileged': True, 'runAsUser': 0},
            'command': ['sh', '-c', 'sysctl -w vm.max_map_count=%d' % MAX_MAP_COUNT],
        }]
    if es['anti_affinity'] == 'required':
        pod_spec['affinity'] = {'podAntiAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': [{
            'labelSelector': {'matchLabels': {ES_CLUSTER_LABEL: opts['name']}},
            'topologyKey': 'kubernetes.io/hostname'}]}}
    elif es['anti_affinity'] == 'none':
        pod_spec['affinity'] = {}        # ECK: an empty affinity drops its default preferred anti-affinity
    claim = {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': es['storage']}}}
    if es['storage_class']:
        claim['storageClassName'] = es['storage_class']
    return {
        'name': NODESET,
        'count': es['nodes'],
        'config': config,
        'podTemplate': {'spec': pod_spec},
        'volumeClaimTemplates': [{'metadata': {'name': DATA_VOLUME}, 'spec': claim}],
    }


def elasticsearch_object(opts, env):
    tls = {}
    if opts['tls_secret']:
        tls['certificate'] = {'secretName': opts['tls_secret']}
    else:
        tls['selfSignedCertificate'] = {}
        if opts['tls_subject_alt_names']:
            tls['selfSignedCertificate']['subjectAltNames'] = [
                {'dns': n} if not re.match(r'^[\d.:]+$', n) else {'ip': n} for n in opts['tls_subject_alt_names']]
    spec = {
        'version': opts['version'],
        'http': {'tls': tls},
        'auth': {
            'fileRealm': [{'secretName': s} for s in opts['file_realm_secrets']],
            'roles': [{'secretName': s} for s in opts['roles_secrets']],
        },
        'nodeSets': [_node_set(opts, env)],
    }
    if opts['image']:
        spec['image'] = opts['image']
    return {'apiVersion': API_VERSION, 'kind': 'Elasticsearch', 'metadata': {'name': opts['name']}, 'spec': spec}


def network_policy_ingress(opts, env):
    es_pods = {ES_TYPE_LABEL: 'elasticsearch', ES_CLUSTER_LABEL: opts['name']}
    rules = [
        {'from': [{'namespaceSelector': {'matchLabels': {
            'kubernetes.io/metadata.name': opts['env'][env]['gateway_namespace']}},
            'podSelector': {'matchLabels': dict(opts['gateway_pod_labels'])}}],
         'ports': [{'protocol': 'TCP', 'port': HTTP_PORT}]},
        {'from': [{'namespaceSelector': {'matchLabels': {
            'kubernetes.io/metadata.name': opts['operator_namespace']}},
            'podSelector': {'matchLabels': dict(opts['operator_pod_labels'])}}],
         'ports': [{'protocol': 'TCP', 'port': HTTP_PORT}]},
        {'from': [{'podSelector': {'matchLabels': es_pods}}],
         'ports': [{'protocol': 'TCP', 'port': TRANSPORT_PORT}]},
    ]
    return rules + copy.deepcopy(opts['extra_ingress'])


def network_policy(opts, env):
    return {
        'apiVersion': 'networking.k8s.io/v1',
        'kind': 'NetworkPolicy',
        'metadata': {'name': '%s-es' % opts['name']},
        'spec': {
            'podSelector': {'matchLabels': {ES_TYPE_LABEL: 'elasticsearch', ES_CLUSTER_LABEL: opts['name']}},
            'policyTypes': ['Ingress'],
            'ingress': network_policy_ingress(opts, env),
        },
    }


def render(options, base_environment='production'):
    """``{resources, overlays, namespaces, nodes}`` for kustomize_render: the base is ``base_environment``'s
    shape (the first environment when it is not defined); each overlay replaces the nodeSet and the
    NetworkPolicy's ingress with its own."""
    opts = normalize_options(options)
    envs = sorted(opts['env'])
    base_env = base_environment if base_environment in opts['env'] else envs[0]
    es = elasticsearch_object(opts, base_env)
    resources = [es]
    if opts['network_policy']:
        resources.append(network_policy(opts, base_env))
    overlays = {}
    for env in envs:
        patches = [{'target': {'kind': 'Elasticsearch', 'name': opts['name']},
                    'patch': [{'op': 'replace', 'path': '/spec/nodeSets', 'value': [_node_set(opts, env)]}]}]
        if opts['network_policy']:
            patches.append({'target': {'kind': 'NetworkPolicy', 'name': '%s-es' % opts['name']},
                            'patch': [{'op': 'replace', 'path': '/spec/ingress',
                                       'value': network_policy_ingress(opts, env)}]})
        overlays[env] = {'namespace': opts['env'][env]['namespace'],
                         'labels': {'cnai.platform/environment': env},
                         'patches': patches}
    return {
        'resources': resources,
        'overlays': overlays,
        'namespaces': dict((env, opts['env'][env]['namespace']) for env in envs),
        'nodes': dict((env, opts['env'][env]['nodes']) for env in envs),
    }


def endpoint(name, namespace, user, secret_name, secret_key='password', port=HTTP_PORT, extra=None):
    """The ``elasticsearch_endpoint`` fact (CONTRACTS): ECK's HTTP Service ``<name>-es-http`` and its CA."""
    service = '%s-es-http' % name
    out = {
        'namespace': namespace,
        'service': service,
        'port': port,
        'url': 'https://%s.%s.svc:%d' % (service, namespace, port),
        'user': user,
        'secret': {'name': secret_name, 'key': secret_key},
        'ca_secret': {'name': '%s-es-http-certs-public' % name, 'key': 'ca.crt'},
    }
    out.update(extra or {})
    return out


def roles_yaml_data(role, index_patterns, index_privileges, cluster_privileges):
    """The ``roles.yml`` ECK reads from a ``spec.auth.roles`` Secret: one role limited to the RAG indices."""
    if not index_patterns:
        raise ElasticsearchError('elasticsearch_index_patterns must name at least one index pattern')
    return {role: {'cluster': list(cluster_privileges or []),
                   'indices': [{'names': list(index_patterns), 'privileges': list(index_privileges)}]}}


# --------------------------------------------------------------------------------------------------
# index template
# --------------------------------------------------------------------------------------------------
TEMPLATE_DEFAULTS = {
    'index_patterns': ['rag-*'],
    'priority': 200,
    'dimension': None,
    'similarity': 'cosine',
    'index_type': 'hnsw',
    'm': 16,
    'ef_construction': 100,
    'shards': 1,
    'replicas': 1,
    'text_field': 'text',
    'vector_field': 'embedding',
    'analyzer': 'standard',
    'embedding_model': '',
}


def index_template(options):
    """Body of ``PUT _index_template/<name>`` for hybrid search: BM25 on ``text`` plus kNN on a
    ``dense_vector`` of the embedding model's dimension (indexed, HNSW), with source and timestamp fields."""
    opts = dict(TEMPLATE_DEFAULTS)
    for key, value in (options or {}).items():
        if key not in TEMPLATE_DEFAULTS:
            raise ElasticsearchError('index template: unknown option %s (known: %s)'
                                     % (key, ', '.join(sorted(TEMPLATE_DEFAULTS))))
        if value is not None:
            opts[key] = value
    try:
        dims = int(opts['dimension'])
    except (TypeError, ValueError):
        raise ElasticsearchError('index template: the vector dimension is missing (cnai_models needs an embedding '
                                 'model, e.g. BAAI/bge-m3 -> 1024, or set elasticsearch_vector_dimension)')
    if not 1 <= dims <= 4096:
        raise ElasticsearchError('index template: dense_vector dims must be 1..4096, got %d' % dims)
    if opts['similarity'] not in SIMILARITIES:
        raise ElasticsearchError('index template: similarity must be one of %s, got %r'
                                 % (', '.join(SIMILARITIES), opts['similarity']))
    if opts['index_type'] not in VECTOR_INDEX_TYPES:
        raise ElasticsearchError('index template: vector index type must be one of %s, got %r'
                                 % (', '.join(VECTOR_INDEX_TYPES), opts['index_type']))
    if opts['index_type'] == 'int4_hnsw' and dims % 2:
        raise ElasticsearchError('index template: int4_hnsw needs an even dimension, got %d' % dims)
    patterns = opts['index_patterns']
    if not isinstance(patterns, list) or not patterns:
        raise ElasticsearchError('index template: index_patterns must be a non-empty list')
    for key in ('m', 'ef_construction', 'shards', 'priority'):
        opts[key] = int(opts[key])
    opts['replicas'] = int(opts['replicas'])
    if opts['m'] < 2 or opts['ef_construction'] < opts['m']:
        raise ElasticsearchError('index template: HNSW needs m >= 2 and ef_construction >= m, got m=%d '
                                 'ef_construction=%d' % (opts['m'], opts['ef_construction']))
    meta = {'managed_by': 'cnai.platform', 'description': 'RAG hybrid search: BM25 text + kNN dense_vector'}
    if opts['embedding_model']:
        meta['embedding_model'] = str(opts['embedding_model'])
    return {
        'index_patterns': list(patterns),
        'priority': opts['priority'],
        '_meta': meta,
        'template': {
            'settings': {'number_of_shards': opts['shards'], 'number_of_replicas': opts['replicas']},
            'mappings': {
                'dynamic': 'strict',
                'properties': {
                    opts['text_field']: {'type': 'text', 'analyzer': opts['analyzer']},
                    opts['vector_field']: {
                        'type': 'dense_vector', 'dims': dims, 'index': True, 'similarity': opts['similarity'],
                        'index_options': {'type': opts['index_type'], 'm': opts['m'],
                                          'ef_construction': opts['ef_construction']}},
                    'source': {'type': 'keyword'},
                    'timestamp': {'type': 'date'},
                    'metadata': {'type': 'object', 'enabled': False},
                },
            },
        },
    }


def _settings_flat(settings):
    """``{index.number_of_shards: "1"}``: ES answers GET with nested ``index`` settings and string values."""
    flat = {}
    for key, value in _flatten(settings or {}).items():
        key = key if key.startswith('index.') else 'index.' + key
        flat[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return flat


def current_template(get_response, name):
    """The template named ``name`` from a ``GET _index_template/<name>`` answer (None when absent)."""
    for entry in (get_response or {}).get('index_templates') or []:
        if entry.get('name') == name:
            return entry.get('index_template') or {}
    return None


def template_differences(desired, current):
    """Keys of ``desired`` whose value differs from ``current`` (the stored template), as dotted names.
    Settings are compared the way ES stores them; keys ES adds that we do not set are ignored."""
    if current is None:
        return ['(absent)']
    diffs = []
    for key in sorted(desired):
        if key == 'template':
            want, have = desired['template'], current.get('template') or {}
            if _settings_flat(want.get('settings')) != _settings_flat(have.get('settings')):
                diffs.append('template.settings')
            if want.get('mappings') != have.get('mappings'):
                diffs.append('template.mappings')
            for sub in sorted(set(want) - {'settings', 'mappings'}):
                if want[sub] != have.get(sub):
                    diffs.append('template.' + sub)
        elif desired[key] != current.get(key):
            diffs.append(key)
    return diffs
