# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AI gateway (the site's Spring Boot image) as data: configuration generated from ``cnai_models`` and
the stores, and the Kubernetes objects around it (pure functions).

Inputs (design §3b):

* ``models``: ``cnai_models``; every model is served by the vllm role as Service ``<name>`` port 8000 in the
  vLLM namespace of the environment, answering to its ``served_name`` (``--served-model-name``). Embedding
  models (``cnai.platform.embedding_models``: task ``embed``, given or implied) give the embedding client and
  the vector dimension; every other model is a chat route.
* ``options``: see ``DEFAULT_OPTIONS``; ``milvus`` / ``elasticsearch`` hold per-environment endpoints as the
  store roles publish them (facts ``milvus_endpoint`` / ``elasticsearch_endpoint``); an environment without
  one gets the same names computed from its RAG namespace.

``render()`` returns what ``cnai.platform.kustomize_render`` takes: ``resources`` (the base: Deployment,
Service, PDB, HPA, ServiceAccount, monitor) and ``overlays`` (per environment: namespace, labels, the
objects whose content names other namespaces - the ConfigMap with ``application.yaml``, the HTTPRoute or
Ingress, the Gateway when the role creates it, the NetworkPolicy - and a patch that puts the configuration's
hash on the pod template so a changed configuration rolls the pods). Besides: ``config`` (the generated
configuration per environment), ``credentials`` (per environment, which keys of which store Secret the role
copies into ``ai-gateway-credentials``; never values) and ``routes``.

Secrets never appear here: the configuration refers to them as ``${ENV_VAR}`` placeholders that the
Deployment fills with ``secretKeyRef`` to ``ai-gateway-credentials`` in the gateway's namespace.

Everything raises ``AiGatewayError`` with a message that names the variable to fix.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import hashlib
import json
import re

from ansible_collections.cnai.platform.plugins.module_utils import inputs
from ansible_collections.cnai.platform.plugins.module_utils import model_sizing as ms
from ansible_collections.cnai.platform.plugins.module_utils import vllm_manifests as vm

NAME = 'ai-gateway'
CREDENTIALS_SECRET = 'ai-gateway-credentials'
CONFIG_MAP = 'ai-gateway-config'
CONFIG_KEY = 'application.yaml'
CONFIG_MOUNT = '/etc/ai-gateway'
CA_KEY = 'elasticsearch-ca.crt'
EXPOSURES = ('gateway', 'ingress', 'none')
MONITORS = ('servicemonitor', 'podmonitor', 'none')
SPRING_AI_MAJORS = (1, 2)
_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
_DNS_NAME = re.compile(r'^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$')
_DURATION = re.compile(r'^([0-9]{1,5}(h|m|s|ms)){1,4}$')
_QTY = re.compile(r'^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$')
_ENV_NAME = re.compile(r'^[A-Z_][A-Z0-9_]*$')

DEFAULT_OPTIONS = {
    'namespace': 'ai-app',
    'environments': {'dev': {'namespace': 'ai-app-dev'},
                     'staging': {'namespace': 'ai-app-staging'},
                     'production': {'namespace': 'ai-app'}},
    'image': 'registry.example.com/cnai/ai-gateway:0.0.0',
    'image_pull_policy': 'IfNotPresent',
    'port': 8080,
    'version_label': '',
    'part_of': 'cnai-platform',
    # Spring AI line of the image: 1 (base-url without /v1, the client appends /v1/...) or 2 (openai-java
    # SDK: base-url with /v1)
    'spring_ai_major': 1,
    # where the models are served (the vllm role's namespaces) and the port of their Services
    'vllm_environments': {'dev': {'namespace': 'ai-inference-dev'},
                          'staging': {'namespace': 'ai-inference-staging'},
                          'production': {'namespace': 'ai-inference'}},
    'vllm_port': 8000,
    'embedding_model': '',
    'default_chat_model': '',
    # the RAG stores' namespaces, and their endpoints per environment (from the store roles' facts)
    'rag_environments': {'dev': {'namespace': 'ai-rag-dev'},
                         'staging': {'namespace': 'ai-rag-staging'},
                         'production': {'namespace': 'ai-rag'}},
    'milvus': {},
    'elasticsearch': {},
    'milvus_enabled': True,
    'elasticsearch_enabled': True,
    'collection': 'knowledge_base',
    'es_index': '',                  # empty: the elasticsearch role's index (elasticsearch_endpoint.index)
    'es_user': 'ai-gateway',
    'credentials_secret': CREDENTIALS_SECRET,
    # OpenTelemetry: the observability role's collector (release otel-collector, OTLP HTTP 4318)
    'otlp_endpoint': 'http://otel-collector-opentelemetry-collector.monitoring.svc:4318',
    'otlp_traces': True,
    'otlp_metrics': True,
    'trace_sampling': 0.1,
    'monitoring_namespace': 'monitoring',
    'monitor': 'servicemonitor',
    'prometheus_release': 'kube-prometheus-stack',
    'scrape_interval': '30s',
    # pods and scaling
    'replicas': {'min': 2, 'max': 6},
    'cpu_target': 70,
    'cpu_request': '500m',
    'memory_request': '1Gi',
    'memory_limit': '2Gi',
    'java_tool_options': '-XX:MaxRAMPercentage=75',
    'run_as_user': 1000,
    'startup_seconds': 180,
    'extra_config': {},
    'extra_env': {},
    # exposure
    'exposure': 'gateway',
    'gateway_name': 'ai-gateway',
    'gateway_namespace': '',         # empty: the gateway's own namespace
    'gateway_section': '',
    'gateway_create': False,
    'gateway_class': '',
    'gateway_port': 443,
    'tls_secret': 'ai-gateway-tls',
    'hostnames': [],
    'request_timeout': '600s',
    'backend_timeout': '600s',
    'ingress_class': '',
    # NetworkPolicy: ingress from the Gateway's / Ingress controller's namespaces and monitoring
    'network_policy': True,
    'ingress_namespaces': [],
}


class AiGatewayError(Exception):
    """Bad input: the message names the variable to set."""


# ------------------------------------------------------------------------------------------------
# Inputs


def _int(value, what, minimum=None, maximum=None):
    return inputs.integer(value, what, minimum, maximum, error=AiGatewayError)


def _envs(value, what):
    if not isinstance(value, dict) or not value:
        raise AiGatewayError('%s must map environment names to {namespace: ...}, got %r' % (what, value))
    out = {}
    for env, spec in value.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise AiGatewayError('%s.%s must be a mapping, got %r' % (what, env, spec))
        ns = spec.get('namespace')
        if not isinstance(ns, str) or not _DNS_LABEL.match(ns):
            raise AiGatewayError('%s.%s.namespace must be a DNS label, got %r' % (what, env, ns))
        out[str(env)] = dict(spec)
    return out


def normalize_options(options):
    opts = copy.deepcopy(DEFAULT_OPTIONS)
    for key, value in (options or {}).items():
        if key not in opts:
            raise AiGatewayError('unknown ai_gateway render option %r (known: %s)' % (key, ', '.join(sorted(opts))))
        if value is not None:
            opts[key] = value
    if not isinstance(opts['namespace'], str) or not _DNS_LABEL.match(opts['namespace']):
        raise AiGatewayError('ai_gateway_namespace must be a DNS label, got %r' % (opts['namespace'],))
    opts['environments'] = _envs(opts['environments'], 'ai_gateway_environments')
    opts['vllm_environments'] = _envs(opts['vllm_environments'], 'ai_gateway_vllm_environments')
    opts['rag_environments'] = _envs(opts['rag_environments'], 'ai_gateway_rag_environments')
    for env in opts['environments']:
        for key in ('vllm_environments', 'rag_environments'):
            if env not in opts[key]:
                raise AiGatewayError('ai_gateway_%s has no entry for environment %s (has: %s)'
                                     % (key, env, ', '.join(sorted(opts[key]))))
    image = str(opts['image'])
    if ':' not in image.rsplit('/', 1)[-1] and '@' not in image or image.endswith(':latest'):
        raise AiGatewayError('ai_gateway_image must carry a pinned tag or digest (bom.yml ai_gateway), got %r' % image)
    try:
        opts['spring_ai_major'] = int(opts['spring_ai_major'])
    except (TypeError, ValueError):
        opts['spring_ai_major'] = None
    if opts['spring_ai_major'] not in SPRING_AI_MAJORS:
        raise AiGatewayError('ai_gateway_spring_ai_major must be 1 or 2 (the Spring AI line the image is built '
                             'with), got %r' % ((options or {}).get('spring_ai_major'),))
    for key in ('port', 'vllm_port', 'gateway_port'):
        opts[key] = _int(opts[key], 'ai_gateway_' + key, 1, 65535)
    if opts['exposure'] not in EXPOSURES:
        raise AiGatewayError('ai_gateway_exposure must be one of %s (auto is resolved by the role), got %r'
                             % (', '.join(EXPOSURES), opts['exposure']))
    if opts['monitor'] not in MONITORS:
        raise AiGatewayError('ai_gateway_monitor must be one of %s (auto is resolved by the role), got %r'
                             % (', '.join(MONITORS), opts['monitor']))
    reps = opts['replicas']
    if not isinstance(reps, dict):
        raise AiGatewayError('ai_gateway_replicas must be {min: N, max: M}, got %r' % (reps,))
    rmin = _int(reps.get('min', 1), 'ai_gateway_replicas.min', 1)
    rmax = _int(reps.get('max', rmin), 'ai_gateway_replicas.max', 1)
    if rmin > rmax:
        raise AiGatewayError('ai_gateway_replicas: min (%d) is greater than max (%d)' % (rmin, rmax))
    opts['replicas'] = {'min': rmin, 'max': rmax}
    for env, spec in opts['environments'].items():
        r = spec.get('replicas')
        if r is not None:
            lo = _int((r or {}).get('min', rmin), 'ai_gateway_environments.%s.replicas.min' % env, 1)
            hi = _int((r or {}).get('max', max(lo, rmax)), 'ai_gateway_environments.%s.replicas.max' % env, 1)
            if lo > hi:
                raise AiGatewayError('ai_gateway_environments.%s.replicas: min (%d) is greater than max (%d)'
                                     % (env, lo, hi))
            spec['replicas'] = {'min': lo, 'max': hi}
        hosts = spec.get('hostnames')
        if hosts is not None:
            _hostnames(hosts, 'ai_gateway_environments.%s.hostnames' % env)
    opts['cpu_target'] = _int(opts['cpu_target'], 'ai_gateway_cpu_target', 1, 100)
    for key in ('cpu_request', 'memory_request', 'memory_limit'):
        if not _QTY.match(str(opts[key])):
            raise AiGatewayError('ai_gateway_%s must be a Kubernetes quantity (e.g. 500m, 2Gi), got %r'
                                 % (key, opts[key]))
    for key in ('request_timeout', 'backend_timeout'):
        if not _DURATION.match(str(opts[key])):
            raise AiGatewayError('ai_gateway_%s must be a Gateway API duration (e.g. 600s, 10m, 0s = none), '
                                 'got %r' % (key, opts[key]))
    if _seconds(opts['request_timeout']) and _seconds(opts['backend_timeout']) > _seconds(opts['request_timeout']):
        raise AiGatewayError('ai_gateway_backend_timeout (%s) cannot be longer than ai_gateway_request_timeout (%s)'
                             % (opts['backend_timeout'], opts['request_timeout']))
    _hostnames(opts['hostnames'], 'ai_gateway_hostnames')
    if opts['exposure'] == 'gateway' and not _DNS_LABEL.match(str(opts['gateway_name'])):
        raise AiGatewayError('ai_gateway_gateway_name must name the Gateway the HTTPRoute attaches to, got %r'
                             % (opts['gateway_name'],))
    if opts['gateway_create'] and not opts['gateway_class']:
        raise AiGatewayError('ai_gateway_gateway_create needs ai_gateway_gateway_class (the GatewayClass of the '
                             'cluster\'s Gateway API implementation)')
    if opts['gateway_create'] and opts['gateway_namespace']:
        raise AiGatewayError('ai_gateway_gateway_create makes the Gateway in the gateway\'s own namespace: leave '
                             'ai_gateway_gateway_namespace empty')
    if (opts['gateway_create'] or opts['exposure'] == 'ingress') and opts['tls_secret'] \
            and not _DNS_LABEL.match(str(opts['tls_secret'])):
        raise AiGatewayError('ai_gateway_tls_secret must be a Secret name, got %r' % (opts['tls_secret'],))
    if not isinstance(opts['ingress_namespaces'], list) or \
            not all(isinstance(n, str) and _DNS_LABEL.match(n) for n in opts['ingress_namespaces']):
        raise AiGatewayError('ai_gateway_ingress_namespaces must be a list of namespace names, got %r'
                             % (opts['ingress_namespaces'],))
    if not isinstance(opts['extra_config'], dict):
        raise AiGatewayError('ai_gateway_extra_config must be a mapping (merged into application.yaml)')
    if not isinstance(opts['extra_env'], dict) or not all(_ENV_NAME.match(str(k)) for k in opts['extra_env']):
        raise AiGatewayError('ai_gateway_extra_env must map environment variable names to values')
    try:
        sampling = float(opts['trace_sampling'])
    except (TypeError, ValueError):
        sampling = -1.0
    if not 0.0 <= sampling <= 1.0:
        raise AiGatewayError('ai_gateway_trace_sampling must be in [0, 1], got %r' % (opts['trace_sampling'],))
    opts['trace_sampling'] = sampling
    if not str(opts['otlp_endpoint']).startswith(('http://', 'https://')) and \
            (opts['otlp_traces'] or opts['otlp_metrics']):
        raise AiGatewayError('ai_gateway_otlp_endpoint must be an http(s) URL of an OTLP/HTTP receiver, got %r'
                             % (opts['otlp_endpoint'],))
    return opts


def _hostnames(value, what):
    if not isinstance(value, list) or not all(isinstance(h, str) and _DNS_NAME.match(h) for h in value):
        raise AiGatewayError('%s must be a list of DNS names (a leading *. is allowed), got %r' % (what, value))


def _seconds(duration):
    total = 0.0
    for n, unit in re.findall(r'([0-9]+)(h|ms|m|s)', str(duration)):
        total += int(n) * {'h': 3600, 'm': 60, 's': 1, 'ms': 0.001}[unit]
    return total


# ------------------------------------------------------------------------------------------------
# Endpoints of the stores


def milvus_endpoint(namespace, given=None):
    """The milvus role's ``milvus_endpoint`` for a RAG namespace: the given fact wins, the rest is filled in
    with the names the milvus role uses."""
    ep = {'namespace': namespace, 'service': 'milvus', 'port': 19530, 'metrics_port': 9091,
          'secret': {'name': 'milvus-credentials', 'username_key': 'username', 'password_key': 'password'}}
    given = given or {}
    if not isinstance(given, dict):
        raise AiGatewayError('milvus_endpoint must be a mapping (the milvus role\'s fact), got %r' % (given,))
    for key, value in given.items():
        if key == 'secret':
            ep['secret'] = dict(ep['secret'], **(value or {}))
        elif value is not None:
            ep[key] = value
    ep['port'] = _int(ep['port'], 'milvus_endpoint.port', 1, 65535)
    ep['host'] = given.get('host') or '%s.%s.svc' % (ep['service'], ep['namespace'])
    return ep


def elasticsearch_endpoint(namespace, given=None, user='ai-gateway'):
    """The elasticsearch role's ``elasticsearch_endpoint`` for a RAG namespace (same rule as milvus)."""
    ep = {'namespace': namespace, 'service': 'rag-es-http', 'port': 9200, 'user': user,
          'secret': {'name': 'rag-es-gateway-user', 'key': 'password'}, 'index': 'rag-knowledge-base',
          'ca_secret': {'name': 'rag-es-http-certs-public', 'key': 'ca.crt'}}
    given = given or {}
    if not isinstance(given, dict):
        raise AiGatewayError('elasticsearch_endpoint must be a mapping (the elasticsearch role\'s fact), got %r'
                             % (given,))
    for key, value in given.items():
        if key in ('secret', 'ca_secret'):
            ep[key] = dict(ep[key], **(value or {}))
        elif value is not None:
            ep[key] = value
    ep['port'] = _int(ep['port'], 'elasticsearch_endpoint.port', 1, 65535)
    ep['url'] = given.get('url') or 'https://%s.%s.svc:%d' % (ep['service'], ep['namespace'], ep['port'])
    return ep


def _per_env(value, env, what):
    """A store endpoint given either for one environment ({namespace: ...}) or per environment ({dev: {...}})."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise AiGatewayError('%s must be a mapping, got %r' % (what, value))
    return value.get(env) or {}


# ------------------------------------------------------------------------------------------------
# Configuration


def base_url(url, major):
    """The ``base-url`` Spring AI wants for an OpenAI-compatible server at ``url`` (no path):
    1.x appends ``/v1/chat/completions`` (``completions-path``) itself; 2.x (openai-java SDK) wants ``/v1``."""
    url = url.rstrip('/')
    return url + '/v1' if int(major) >= 2 else url


def _merge(dst, src):
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _merge(dst[key], value)
        else:
            dst[key] = copy.deepcopy(value)
    return dst


def split_models(models, embedding_model=''):
    """(chat models, embedding models, the embedding model used) from ``cnai_models``."""
    try:
        embeds = ms.embedding_models(models)
    except ms.SizingError as exc:
        raise AiGatewayError(str(exc))
    try:
        normalized = vm.normalize_models(models)
    except vm.VllmManifestError as exc:
        raise AiGatewayError(str(exc))
    names = set(e['name'] for e in embeds)
    chats = [m for m in normalized if m['name'] not in names and m['task'] != 'embed']
    chosen = None
    if embedding_model:
        match = [e for e in embeds if e['name'] == embedding_model]
        if not match:
            raise AiGatewayError('ai_gateway_embedding_model %r is not an embedding model of cnai_models (embedding '
                                 'models: %s)' % (embedding_model, ', '.join(sorted(names)) or 'none'))
        chosen = match[0]
    elif embeds:
        chosen = embeds[0]
    return chats, embeds, chosen


def env_config(models, env, opts):
    """The generated configuration of one environment: ``{config, routes, credentials, endpoints, env}``.

    ``config`` is application.yaml as data; ``env`` the container environment it needs (secretKeyRef to
    the credentials Secret); ``credentials`` the copies the role makes into that Secret.
    """
    chats, embeds, embedding = split_models(models, opts['embedding_model'])
    if not chats:
        raise AiGatewayError('cnai_models has no chat (generate) model: the gateway needs at least one route')
    major = opts['spring_ai_major']
    vllm_ns = opts['vllm_environments'][env]['namespace']
    rag_ns = opts['rag_environments'][env]['namespace']
    secret = opts['credentials_secret']

    def model_url(name):
        return 'http://%s.%s.svc:%d' % (name, vllm_ns, opts['vllm_port'])

    default_chat = opts['default_chat_model'] or chats[0]['name']
    if default_chat not in [c['name'] for c in chats]:
        raise AiGatewayError('ai_gateway_default_chat_model %r is not a chat model of cnai_models (chat models: %s)'
                             % (default_chat, ', '.join(c['name'] for c in chats)))
    routes = []
    for c in chats:
        routes.append({'name': c['name'], 'model': c['served_name'], 'kind': 'chat',
                       'base-url': base_url(model_url(c['name']), major)})
    for e in embeds:
        routes.append({'name': e['name'], 'model': e['served_name'], 'kind': 'embedding',
                       'base-url': base_url(model_url(e['name']), major), 'dimension': e['dimension']})
    default = [r for r in routes if r['name'] == default_chat][0]
    openai = {'api-key': '${OPENAI_API_KEY:not-used}', 'base-url': default['base-url'],
              'chat': {'options': {'model': default['model']}}}
    if major == 1:
        openai['chat']['completions-path'] = '/v1/chat/completions'
    cnai = {'routes': routes, 'default-route': default_chat, 'spring-ai-major': major}
    env_vars = [{'name': 'SPRING_CONFIG_ADDITIONAL_LOCATION', 'value': 'file:%s/' % CONFIG_MOUNT}]
    credentials = []
    if embedding:
        eurl = base_url(model_url(embedding['name']), major)
        openai['embedding'] = {'base-url': eurl, 'options': {'model': embedding['served_name'],
                                                             'dimensions': embedding['dimension']}}
        if major == 1:
            openai['embedding']['embeddings-path'] = '/v1/embeddings'
        cnai['embedding'] = {'route': embedding['name'], 'model': embedding['served_name'], 'base-url': eurl,
                             'dimension': embedding['dimension']}
    spring = {'application': {'name': NAME}, 'ai': {'openai': openai}}
    vectorstore = {}
    if opts['milvus_enabled']:
        mil = milvus_endpoint(rag_ns, _per_env(opts['milvus'], env, 'ai_gateway_milvus'))
        vectorstore['milvus'] = {
            'client': {'host': mil['host'], 'port': mil['port'],
                       'username': '${MILVUS_USERNAME}', 'password': '${MILVUS_PASSWORD}'},
            'collection-name': opts['collection'], 'initialize-schema': False}
        if embedding:
            vectorstore['milvus']['embedding-dimension'] = embedding['dimension']
        credentials += [
            {'env': 'MILVUS_USERNAME', 'key': 'milvus-username', 'source_namespace': mil['namespace'],
             'source_secret': mil['secret']['name'], 'source_key': mil['secret']['username_key']},
            {'env': 'MILVUS_PASSWORD', 'key': 'milvus-password', 'source_namespace': mil['namespace'],
             'source_secret': mil['secret']['name'], 'source_key': mil['secret']['password_key']}]
        cnai['milvus'] = {'host': mil['host'], 'port': mil['port'], 'collection': opts['collection']}
    if opts['elasticsearch_enabled']:
        es = elasticsearch_endpoint(rag_ns, _per_env(opts['elasticsearch'], env, 'ai_gateway_elasticsearch'),
                                    opts['es_user'])
        spring['elasticsearch'] = {'uris': es['url'], 'username': es['user'],
                                   'password': '${ELASTICSEARCH_PASSWORD}',
                                   'restclient': {'ssl': {'bundle': 'elasticsearch'}}}
        spring['ssl'] = {'bundle': {'pem': {'elasticsearch': {'truststore': {
            'certificate': 'file:%s/certs/%s' % (CONFIG_MOUNT, CA_KEY)}}}}}
        index = opts['es_index'] or es['index']
        vectorstore['elasticsearch'] = {'index-name': index, 'initialize-schema': False, 'similarity': 'cosine'}
        if es.get('vector_field'):
            vectorstore['elasticsearch']['embedding-field-name'] = es['vector_field']
        if embedding:
            vectorstore['elasticsearch']['dimensions'] = embedding['dimension']
        credentials += [
            {'env': 'ELASTICSEARCH_PASSWORD', 'key': 'elasticsearch-password', 'source_namespace': es['namespace'],
             'source_secret': es['secret']['name'], 'source_key': es['secret']['key']},
            {'env': None, 'key': CA_KEY, 'source_namespace': es['namespace'],
             'source_secret': es['ca_secret']['name'], 'source_key': es['ca_secret']['key']}]
        cnai['elasticsearch'] = {'url': es['url'], 'index': index}
    if vectorstore:
        spring['ai']['vectorstore'] = vectorstore
    for c in credentials:
        if c['env']:
            env_vars.append({'name': c['env'], 'valueFrom': {'secretKeyRef': {'name': secret, 'key': c['key']}}})
    management = {
        'server': {'port': opts['port']},
        'endpoints': {'web': {'exposure': {'include': 'health,info,prometheus'}}},
        'endpoint': {'health': {'probes': {'enabled': True}, 'show-details': 'never'}},
        'health': {'livenessstate': {'enabled': True}, 'readinessstate': {'enabled': True}},
        'metrics': {'tags': {'application': NAME, 'environment': env}},
    }
    otlp = str(opts['otlp_endpoint']).rstrip('/')
    if opts['otlp_traces']:
        management['tracing'] = {'sampling': {'probability': opts['trace_sampling']}}
        management.setdefault('otlp', {})['tracing'] = {'endpoint': otlp + '/v1/traces'}
    if opts['otlp_metrics']:
        management.setdefault('otlp', {})['metrics'] = {'export': {'url': otlp + '/v1/metrics', 'step': '30s'}}
    config = {'server': {'port': opts['port'], 'shutdown': 'graceful'},
              'spring': spring, 'management': management, 'cnai': {'gateway': cnai}}
    _merge(config, opts['extra_config'])
    endpoints = {'vllm_namespace': vllm_ns, 'rag_namespace': rag_ns}
    if opts['milvus_enabled']:
        endpoints['milvus'] = mil
    if opts['elasticsearch_enabled']:
        endpoints['elasticsearch'] = es
    return {'config': config, 'routes': routes, 'credentials': credentials, 'env': env_vars,
            'endpoints': endpoints, 'embedding': embedding}


def config_text(config):
    """application.yaml as text (JSON is YAML; sorted keys so the hash is stable)."""
    return json.dumps(config, indent=2, sort_keys=True) + '\n'


def config_hash(config):
    return hashlib.sha256(config_text(config).encode('utf-8')).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------
# Objects


def _labels(opts, extra=None):
    lab = {'app.kubernetes.io/name': NAME, 'app.kubernetes.io/instance': NAME,
           'app.kubernetes.io/component': 'ai-gateway', 'app.kubernetes.io/managed-by': 'cnai.platform',
           'app.kubernetes.io/part-of': opts['part_of']}
    if opts['version_label']:
        lab['app.kubernetes.io/version'] = str(opts['version_label'])
    lab.update(extra or {})
    return lab


def _meta(name, opts, extra_labels=None, namespace=None):
    return {'name': name, 'namespace': namespace or opts['namespace'], 'labels': _labels(opts, extra_labels)}


SELECTOR = {'app.kubernetes.io/name': NAME, 'app.kubernetes.io/instance': NAME}
# the store pods the gateway talks to (the milvus chart's and ECK's labels)
_STORE_PODS = {'milvus': {'app.kubernetes.io/name': 'milvus'},
               'elasticsearch': {'elasticsearch.k8s.elastic.co/cluster-name': 'rag'}}


def deployment(opts, env_vars):
    port = opts['port']
    probe = {'httpGet': {'path': '/actuator/health/liveness', 'port': 'http'}}
    ready = {'httpGet': {'path': '/actuator/health/readiness', 'port': 'http'}}
    startup_failures = max(1, -(-_int(opts['startup_seconds'], 'ai_gateway_startup_seconds', 10) // 5))
    env = list(env_vars) + [{'name': 'JAVA_TOOL_OPTIONS', 'value': str(opts['java_tool_options'])}]
    known = set(e['name'] for e in env)
    env += [{'name': str(k), 'value': str(v)} for k, v in sorted(opts['extra_env'].items()) if k not in known]
    volumes = [{'name': 'config', 'configMap': {'name': CONFIG_MAP}},
               {'name': 'tmp', 'emptyDir': {}}]
    mounts = [{'name': 'config', 'mountPath': CONFIG_MOUNT, 'readOnly': True},
              {'name': 'tmp', 'mountPath': '/tmp'}]
    if opts['elasticsearch_enabled']:
        volumes.append({'name': 'certs', 'secret': {'secretName': opts['credentials_secret'],
                                                    'items': [{'key': CA_KEY, 'path': CA_KEY}]}})
        mounts.append({'name': 'certs', 'mountPath': CONFIG_MOUNT + '/certs', 'readOnly': True})
    container = {
        'name': NAME,
        'image': opts['image'],
        'imagePullPolicy': opts['image_pull_policy'],
        'env': env,
        'ports': [{'name': 'http', 'containerPort': port, 'protocol': 'TCP'}],
        'resources': {'requests': {'cpu': str(opts['cpu_request']), 'memory': str(opts['memory_request'])},
                      'limits': {'memory': str(opts['memory_limit'])}},
        'startupProbe': dict(probe, periodSeconds=5, timeoutSeconds=3, failureThreshold=startup_failures),
        'livenessProbe': dict(probe, periodSeconds=10, timeoutSeconds=3, failureThreshold=3),
        'readinessProbe': dict(ready, periodSeconds=5, timeoutSeconds=3, failureThreshold=3),
        'securityContext': {'allowPrivilegeEscalation': False, 'capabilities': {'drop': ['ALL']},
                            'readOnlyRootFilesystem': True, 'runAsNonRoot': True},
        'volumeMounts': mounts,
    }
    uid = int(opts['run_as_user'])
    spec = {'serviceAccountName': NAME,
            'securityContext': {'runAsNonRoot': True, 'runAsUser': uid, 'runAsGroup': uid, 'fsGroup': uid,
                                'seccompProfile': {'type': 'RuntimeDefault'}},
            # streams in flight get the endpoint removal plus this long to finish
            'terminationGracePeriodSeconds': 60,
            'topologySpreadConstraints': [{'maxSkew': 1, 'topologyKey': 'kubernetes.io/hostname',
                                           'whenUnsatisfiable': 'ScheduleAnyway',
                                           'labelSelector': {'matchLabels': dict(SELECTOR)}}],
            'containers': [container], 'volumes': volumes}
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': _meta(NAME, opts),
            'spec': {'selector': {'matchLabels': dict(SELECTOR)},
                     'strategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 1, 'maxUnavailable': 0}},
                     'template': {'metadata': {'labels': _labels(opts)}, 'spec': spec}}}


def base_objects(opts, env_vars):
    port = opts['port']
    objs = [
        {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': _meta(NAME, opts),
         'automountServiceAccountToken': False},
        deployment(opts, env_vars),
        {'apiVersion': 'v1', 'kind': 'Service', 'metadata': _meta(NAME, opts),
         'spec': {'type': 'ClusterIP', 'selector': dict(SELECTOR),
                  'ports': [{'name': 'http', 'port': port, 'targetPort': 'http', 'protocol': 'TCP'}]}},
        {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': _meta(NAME, opts),
         'spec': {'maxUnavailable': 1, 'selector': {'matchLabels': dict(SELECTOR)}}},
        {'apiVersion': 'autoscaling/v2', 'kind': 'HorizontalPodAutoscaler', 'metadata': _meta(NAME, opts),
         'spec': {'scaleTargetRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': NAME},
                  'minReplicas': opts['replicas']['min'], 'maxReplicas': opts['replicas']['max'],
                  'metrics': [{'type': 'Resource', 'resource': {'name': 'cpu', 'target': {
                      'type': 'Utilization', 'averageUtilization': opts['cpu_target']}}}],
                  'behavior': {'scaleDown': {'stabilizationWindowSeconds': 300}}}},
    ]
    mon_labels = {'release': opts['prometheus_release']}
    endpoint = {'port': 'http', 'path': '/actuator/prometheus', 'interval': opts['scrape_interval']}
    if opts['monitor'] == 'servicemonitor':
        objs.append({'apiVersion': 'monitoring.coreos.com/v1', 'kind': 'ServiceMonitor',
                     'metadata': _meta(NAME, opts, mon_labels),
                     'spec': {'selector': {'matchLabels': dict(SELECTOR)}, 'endpoints': [endpoint]}})
    elif opts['monitor'] == 'podmonitor':
        objs.append({'apiVersion': 'monitoring.coreos.com/v1', 'kind': 'PodMonitor',
                     'metadata': _meta(NAME, opts, mon_labels),
                     'spec': {'selector': {'matchLabels': dict(SELECTOR)}, 'podMetricsEndpoints': [endpoint]}})
    return objs


def _ns_peer(namespace, pod_labels=None):
    peer = {'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': namespace}}}
    if pod_labels:
        peer['podSelector'] = {'matchLabels': dict(pod_labels)}
    return peer


def network_policy(opts, namespace, ec):
    """The gateway's own policy: ingress from the Gateway/Ingress namespaces and monitoring on http; egress to
    vLLM (8000), the stores, DNS and the OTLP collector."""
    port = opts['port']
    from_ns = list(opts['ingress_namespaces'])
    gw_ns = opts['gateway_namespace'] or namespace
    if opts['exposure'] == 'gateway' and gw_ns not in from_ns:
        from_ns.append(gw_ns)
    ingress = [{'from': [_ns_peer(n) for n in from_ns + [opts['monitoring_namespace']]],
                'ports': [{'port': port, 'protocol': 'TCP'}]}]
    egress = [
        # DNS (kube-dns / CoreDNS in kube-system)
        {'to': [_ns_peer('kube-system')], 'ports': [{'port': 53, 'protocol': 'UDP'}, {'port': 53, 'protocol': 'TCP'}]},
        {'to': [_ns_peer(ec['endpoints']['vllm_namespace'], {'app.kubernetes.io/name': 'vllm'})],
         'ports': [{'port': opts['vllm_port'], 'protocol': 'TCP'}]},
    ]
    for store in ('milvus', 'elasticsearch'):
        ep = ec['endpoints'].get(store)
        if ep:
            pods = dict(_STORE_PODS[store])
            if store == 'elasticsearch':
                # ECK names the HTTP Service <cluster>-es-http and labels the nodes with the cluster name
                if ep['service'].endswith('-es-http'):
                    pods = {'elasticsearch.k8s.elastic.co/cluster-name': ep['service'][:-len('-es-http')]}
                else:
                    pods = None
            egress.append({'to': [_ns_peer(ep['namespace'], pods)],
                           'ports': [{'port': ep['port'], 'protocol': 'TCP'}]})
    if opts['otlp_traces'] or opts['otlp_metrics']:
        host, oport = _host_port(opts['otlp_endpoint'])
        parts = host.split('.')
        to = [_ns_peer(parts[1])] if len(parts) >= 3 and parts[2] == 'svc' else []
        rule = {'ports': [{'port': oport, 'protocol': 'TCP'}]}
        if to:
            rule['to'] = to
        egress.append(rule)
    return {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': _meta(NAME, opts),
            'spec': {'podSelector': {'matchLabels': dict(SELECTOR)}, 'policyTypes': ['Ingress', 'Egress'],
                     'ingress': ingress, 'egress': egress}}


def _host_port(url):
    m = re.match(r'^(https?)://([^/:]+)(?::([0-9]+))?', str(url))
    if not m:
        raise AiGatewayError('not an http(s) URL: %r' % (url,))
    return m.group(2), int(m.group(3) or (443 if m.group(1) == 'https' else 80))


def exposure_objects(opts, namespace, hostnames):
    port = opts['port']
    objs = []
    if opts['exposure'] == 'gateway':
        parent = {'group': 'gateway.networking.k8s.io', 'kind': 'Gateway', 'name': opts['gateway_name']}
        if opts['gateway_namespace']:
            parent['namespace'] = opts['gateway_namespace']
        if opts['gateway_section']:
            parent['sectionName'] = opts['gateway_section']
        route = {'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'HTTPRoute', 'metadata': _meta(NAME, opts),
                 'spec': {'parentRefs': [parent],
                          'rules': [{'matches': [{'path': {'type': 'PathPrefix', 'value': '/'}}],
                                     'backendRefs': [{'kind': 'Service', 'name': NAME, 'port': port}],
                                     # long answers stream for minutes (SSE): no short proxy timeout
                                     'timeouts': {'request': str(opts['request_timeout']),
                                                  'backendRequest': str(opts['backend_timeout'])}}]}}
        if hostnames:
            route['spec']['hostnames'] = list(hostnames)
        objs.append(route)
        if opts['gateway_create']:
            listener = {'name': 'https', 'protocol': 'HTTPS', 'port': opts['gateway_port'],
                        'tls': {'mode': 'Terminate', 'certificateRefs': [{'kind': 'Secret', 'name': opts['tls_secret']}]},
                        'allowedRoutes': {'namespaces': {'from': 'Same'}}}
            if len(hostnames) == 1:
                listener['hostname'] = hostnames[0]
            objs.append({'apiVersion': 'gateway.networking.k8s.io/v1', 'kind': 'Gateway',
                         'metadata': _meta(opts['gateway_name'], opts),
                         'spec': {'gatewayClassName': opts['gateway_class'], 'listeners': [listener]}})
    elif opts['exposure'] == 'ingress':
        backend = {'service': {'name': NAME, 'port': {'name': 'http'}}}
        rule_paths = {'http': {'paths': [{'path': '/', 'pathType': 'Prefix', 'backend': backend}]}}
        spec = {'rules': [dict(rule_paths, host=h) for h in hostnames] or [rule_paths]}
        if opts['ingress_class']:
            spec['ingressClassName'] = opts['ingress_class']
        if opts['tls_secret'] and hostnames:
            spec['tls'] = [{'hosts': list(hostnames), 'secretName': opts['tls_secret']}]
        objs.append({'apiVersion': 'networking.k8s.io/v1', 'kind': 'Ingress', 'metadata': _meta(NAME, opts),
                     'spec': spec})
    return objs


def render(models, options=None):
    """Everything the ai_gateway role renders. See the module docstring."""
    opts = normalize_options(options)
    envs = sorted(opts['environments'])
    per_env = dict((env, env_config(models, env, opts)) for env in envs)
    # the env list (names and secretKeyRefs) is the same in every environment: it goes to the base
    first = per_env[envs[0]]['env']
    resources = base_objects(opts, first)
    overlays, configs, credentials, routes = {}, {}, {}, {}
    for env in envs:
        spec = opts['environments'][env]
        ns = spec['namespace']
        ec = per_env[env]
        if ec['env'] != first:
            raise AiGatewayError('the credentials differ between environments (%s): give every environment the '
                                 'same stores' % env)
        cm = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': _meta(CONFIG_MAP, opts),
              'data': {CONFIG_KEY: config_text(ec['config'])}}
        extra = [cm] + exposure_objects(opts, ns, spec.get('hostnames', opts['hostnames']))
        if opts['network_policy']:
            extra.append(network_policy(opts, ns, ec))
        patches = [{'target': {'kind': 'Deployment', 'name': NAME},
                    'patch': {'spec': {'template': {'metadata': {'annotations': {
                        'cnai.platform/config-hash': config_hash(ec['config'])}}}}}}]
        reps = spec.get('replicas')
        if reps:
            patches.append({'target': {'kind': 'HorizontalPodAutoscaler', 'name': NAME}, 'patch': [
                {'op': 'replace', 'path': '/spec/minReplicas', 'value': reps['min']},
                {'op': 'replace', 'path': '/spec/maxReplicas', 'value': reps['max']}]})
        overlays[env] = {'namespace': ns, 'labels': {'cnai.platform/environment': env},
                         'resources': extra, 'patches': patches}
        configs[env] = ec['config']
        credentials[env] = [dict(c, namespace=ns, secret=opts['credentials_secret']) for c in ec['credentials']]
        routes[env] = ec['routes']
    return {'resources': resources, 'overlays': overlays, 'config': configs, 'credentials': credentials,
            'routes': routes, 'namespaces': dict((env, opts['environments'][env]['namespace']) for env in envs),
            'embedding': per_env[envs[0]]['embedding']}


def credentials_data(copies, secrets):
    """The ``data`` of the credentials Secret from the stores' Secrets (k8s_info resources, base64 values kept
    as read, never decoded), and a sentence per missing source: ``{data, missing}``."""
    index = {}
    for s in secrets or []:
        meta = s.get('metadata') or {}
        index[(meta.get('namespace'), meta.get('name'))] = s.get('data') or {}
    data, missing = {}, []
    for c in copies or []:
        src = index.get((c['source_namespace'], c['source_secret']))
        if src is None:
            missing.append('Secret %s/%s does not exist (needed for %s)'
                           % (c['source_namespace'], c['source_secret'], c['key']))
        elif c['source_key'] not in src:
            missing.append('Secret %s/%s has no key %s (needed for %s)'
                           % (c['source_namespace'], c['source_secret'], c['source_key'], c['key']))
        else:
            data[c['key']] = src[c['source_key']]
    return {'data': data, 'missing': sorted(set(missing))}


def route_line(route):
    """One line per route for the role's report: ``route qwen-chat (chat): qwen2.5-7b-instruct at <base-url>``."""
    extra = ', dimension %s' % route['dimension'] if route.get('dimension') else ''
    return 'route %s (%s): %s at %s%s' % (route['name'], route['kind'], route['model'], route['base-url'], extra)


def _ready(obj):
    st, spec = obj.get('status') or {}, obj.get('spec') or {}
    return '%s/%s' % (st.get('readyReplicas', 0), spec.get('replicas', 1))


def status_lines(configmaps, milvus_workloads=None, elasticsearches=None):
    """What the RAG layer runs, read from the cluster, one line each: the Milvus workloads (ready/desired), the
    Elasticsearch resources (ECK's health, nodes, version), then the routes of every gateway's live configuration
    (its ConfigMap's application.yaml). For ``services_status.yml`` and ``make demo``."""
    lines = []
    for d in milvus_workloads or []:
        m = d.get('metadata') or {}
        lines.append('milvus %s/%s: ready %s' % (m.get('namespace'), m.get('name'), _ready(d)))
    for es in elasticsearches or []:
        m, st = es.get('metadata') or {}, es.get('status') or {}
        lines.append('elasticsearch %s/%s: health %s, %s node(s) available, version %s'
                     % (m.get('namespace'), m.get('name'), st.get('health', 'unknown'), st.get('availableNodes', 0),
                        st.get('version') or (es.get('spec') or {}).get('version', '?')))
    for cm in configmaps or []:
        m = cm.get('metadata') or {}
        try:
            import yaml   # pylint: disable=import-outside-toplevel  # PyYAML ships with ansible-core
            gw = ((yaml.safe_load((cm.get('data') or {}).get('application.yaml') or '') or {}).get('cnai') or {}).get('gateway') or {}
        except Exception as exc:  # pylint: disable=broad-except  # a hand-edited ConfigMap: say so, do not fail
            lines.append('gateway %s/%s: application.yaml unreadable (%s)' % (m.get('namespace'), m.get('name'), exc))
            continue
        for route in gw.get('routes') or []:
            lines.append('gateway %s: %s' % (m.get('namespace'), route_line(route)))
        for store in ('milvus', 'elasticsearch'):
            s = gw.get(store) or {}
            if s:
                where = s.get('url') or '%s:%s' % (s.get('host'), s.get('port'))
                lines.append('gateway %s: %s at %s' % (m.get('namespace'), store, where))
    return lines
