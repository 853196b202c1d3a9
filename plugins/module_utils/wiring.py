# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wiring check: does every endpoint a workload's configuration names exist in the cluster? (pure)

Given the configuration a workload runs with (an application.yaml as data or text), its Deployment and what
``kubernetes.core.k8s_info`` reads (Services, Secrets, HTTPRoutes/Ingresses), ``check()`` lists:

* every URL (``scheme://host[:port]``) and every ``{host, port}`` mapping of the configuration whose host is a
  cluster Service name (``svc``, ``svc.ns``, ``svc.ns.svc``, ``svc.ns.svc.cluster.local``): the Service must
  exist in that namespace and have that port (the URL's port, else the scheme's: http 80, https 443);
* every Secret the pod template refers to (``env[].valueFrom.secretKeyRef``, ``envFrom[].secretRef``, secret
  volumes and their ``items``): the Secret must exist in the Deployment's namespace with every key named;
* every ``${VAR}`` placeholder of the configuration without a default: ``VAR`` must be in the container's env;
* every backend of the HTTPRoutes/Ingresses given: the Service and its port must exist.

Each problem names the missing piece, e.g. ``route qwen-chat: Service ai-inference-dev/qwen-chat has no
port 8001 (it has: http 8000)``. Hosts outside the cluster (a dotted name not under ``.svc``) are listed as
``external``, not checked. Secret values are never read: only the names of their keys.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

_URL = re.compile(r'^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>[^/:?#\s]+)(?::(?P<port>[0-9]+))?')
_PLACEHOLDER = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_.-]*)(:[^}]*)?\}')
DEFAULT_PORTS = {'http': 80, 'https': 443, 'grpc': 80}


class WiringError(Exception):
    """Input that cannot be checked (not the wiring problems themselves, which check() returns)."""


def load_config(config):
    if isinstance(config, dict):
        return config
    if isinstance(config, str):
        if yaml is None:
            return json.loads(config)
        try:
            data = yaml.safe_load(config)
        except yaml.YAMLError as exc:
            raise WiringError('the configuration is not valid YAML: %s' % exc)
        if not isinstance(data, dict):
            raise WiringError('the configuration must be a mapping at the top, got %s' % type(data).__name__)
        return data
    raise WiringError('the configuration must be a mapping or YAML text, got %r' % (config,))


def _what(path, node_name):
    return node_name or '.'.join(path) or '(top)'


def config_refs(config):
    """Every endpoint and placeholder of the configuration, with a human name for where it is:
    ``{'endpoints': [{what, host, port, scheme}], 'placeholders': [{what, var}]}``.

    An item of a list that has a ``name`` is called ``route <name>`` when the list is ``routes``, else
    ``<list key> <name>``; anything else by its dotted path.
    """
    endpoints, placeholders = [], []

    def walk(node, path, label):
        if isinstance(node, dict):
            host, port = node.get('host'), node.get('port')
            if isinstance(host, str) and port is not None and '${' not in host:
                try:
                    endpoints.append({'what': _what(path, label), 'host': host, 'port': int(port), 'scheme': ''})
                except (TypeError, ValueError):
                    pass
            for key in sorted(node, key=str):
                walk(node[key], path + [str(key)], label)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                sub = label
                if isinstance(item, dict) and item.get('name'):
                    key = path[-1] if path else 'item'
                    sub = '%s %s' % ('route' if key == 'routes' else key, item['name'])
                walk(item, path + ['%d' % i], sub)
        elif isinstance(node, str):
            for part in [p for p in re.split(r'[,\s]+', node) if p]:
                m = _URL.match(part)
                if m:
                    scheme = m.group('scheme')
                    port = int(m.group('port')) if m.group('port') else DEFAULT_PORTS.get(scheme)
                    endpoints.append({'what': _what(path, label), 'host': m.group('host'), 'port': port,
                                      'scheme': scheme})
            for var, default in _PLACEHOLDER.findall(node):
                if not default:
                    placeholders.append({'what': _what(path, label), 'var': var})

    walk(load_config(config), [], None)
    return {'endpoints': endpoints, 'placeholders': placeholders}


def resolve_host(host, namespace):
    """``(service, namespace)`` for a cluster Service host name, None for a host outside the cluster."""
    h = host.lower().rstrip('.')
    for suffix in ('.svc.cluster.local', '.svc'):
        if h.endswith(suffix):
            parts = h[:-len(suffix)].split('.')
            return (parts[0], parts[1]) if len(parts) == 2 else None
    parts = h.split('.')
    if len(parts) == 1 and h not in ('localhost',):
        return (h, namespace)
    return None


def _index_services(services):
    out = {}
    for s in services or []:
        meta = s.get('metadata') or {}
        out[(meta.get('namespace'), meta.get('name'))] = s
    return out


def _ports(svc):
    return (svc.get('spec') or {}).get('ports') or []


def _port_list(svc):
    return ', '.join('%s %s' % (p.get('name', '-'), p.get('port')) for p in _ports(svc)) or 'none'


def check_endpoint(what, service, namespace, port, services_index, port_name=None):
    """None when Service ``namespace/service`` has ``port`` (a number, or ``port_name``), else the problem."""
    svc = services_index.get((namespace, service))
    if svc is None:
        return '%s: Service %s/%s does not exist' % (what, namespace, service)
    if (svc.get('spec') or {}).get('type') == 'ExternalName':
        return None
    if port_name is not None:
        if not any(p.get('name') == port_name for p in _ports(svc)):
            return '%s: Service %s/%s has no port named %s (it has: %s)' % (
                what, namespace, service, port_name, _port_list(svc))
        return None
    if not any(int(p.get('port', -1)) == int(port) for p in _ports(svc)):
        return '%s: Service %s/%s has no port %s (it has: %s)' % (what, namespace, service, port, _port_list(svc))
    return None


def secret_keys(secrets):
    """``{(namespace, name): [key, ...]}`` from k8s_info Secrets: names of keys only, never values."""
    out = {}
    for s in secrets or []:
        meta = s.get('metadata') or {}
        keys = set((s.get('data') or {}).keys()) | set((s.get('stringData') or {}).keys())
        out[(meta.get('namespace'), meta.get('name'))] = sorted(keys)
    return out


def _secret_problem(what, namespace, name, keys, index):
    have = index.get((namespace, name))
    if have is None:
        return ['%s: Secret %s/%s does not exist' % (what, namespace, name)]
    return ['%s: Secret %s/%s has no key %s' % (what, namespace, name, k) for k in keys if k not in have]


def pod_secret_refs(deployment):
    """``[{what, secret, keys}]`` the Deployment's pod template needs (optional references left out)."""
    spec = (((deployment or {}).get('spec') or {}).get('template') or {}).get('spec') or {}
    refs = []
    for c in (spec.get('containers') or []) + (spec.get('initContainers') or []):
        for e in c.get('env') or []:
            ref = (e.get('valueFrom') or {}).get('secretKeyRef')
            if ref and not ref.get('optional'):
                refs.append({'what': 'env %s' % e.get('name'), 'secret': ref.get('name'), 'keys': [ref.get('key')]})
        for e in c.get('envFrom') or []:
            ref = e.get('secretRef')
            if ref and not ref.get('optional'):
                refs.append({'what': 'envFrom of %s' % c.get('name'), 'secret': ref.get('name'), 'keys': []})
    for v in spec.get('volumes') or []:
        sec = v.get('secret')
        if sec and not sec.get('optional'):
            refs.append({'what': 'volume %s' % v.get('name'), 'secret': sec.get('secretName'),
                         'keys': [i.get('key') for i in sec.get('items') or []]})
    return refs


def _container_env(deployment):
    spec = (((deployment or {}).get('spec') or {}).get('template') or {}).get('spec') or {}
    names = set()
    for c in spec.get('containers') or []:
        names.update(e.get('name') for e in c.get('env') or [])
    return names


def route_backends(routes):
    """``[{what, service, namespace, port, port_name}]`` of HTTPRoutes and Ingresses (k8s_info resources)."""
    out = []
    for r in routes or []:
        meta = r.get('metadata') or {}
        ns, kind = meta.get('namespace'), r.get('kind')
        what = '%s %s/%s' % (kind, ns, meta.get('name'))
        spec = r.get('spec') or {}
        if kind == 'HTTPRoute':
            for rule in spec.get('rules') or []:
                for b in rule.get('backendRefs') or []:
                    if b.get('kind', 'Service') == 'Service' and b.get('group', '') in ('', 'core'):
                        out.append({'what': what, 'service': b.get('name'), 'namespace': b.get('namespace', ns),
                                    'port': b.get('port'), 'port_name': None})
        elif kind == 'Ingress':
            backends = [spec.get('defaultBackend')] if spec.get('defaultBackend') else []
            for rule in spec.get('rules') or []:
                backends += [p.get('backend') for p in ((rule.get('http') or {}).get('paths') or [])]
            for b in backends:
                svc = (b or {}).get('service')
                if svc:
                    port = svc.get('port') or {}
                    out.append({'what': what, 'service': svc.get('name'), 'namespace': ns,
                                'port': port.get('number'), 'port_name': port.get('name')})
    return out


def check(config, deployment, services, secrets, routes=None):
    """The wiring of one workload. Returns ``{ok, problems, checked, external}``; ``problems`` lists one
    sentence per missing piece. ``secrets`` may be k8s_info Secrets or ``secret_keys()``'s result."""
    problems, checked, external = [], [], []
    if not isinstance(deployment, dict) or not (deployment.get('metadata') or {}).get('name'):
        # returned, not raised: the role calls this under no_log (Secrets are inputs), where an error is hidden
        return {'ok': False, 'problems': ['the Deployment to check does not exist (is the workload delivered?)'],
                'checked': [], 'external': []}
    namespace = deployment['metadata'].get('namespace')
    svc_index = _index_services(services)
    sec_index = secrets if isinstance(secrets, dict) else secret_keys(secrets)
    try:
        refs = config_refs(config)
    except WiringError as exc:
        return {'ok': False, 'problems': [str(exc)], 'checked': [], 'external': []}
    for ep in refs['endpoints']:
        target = resolve_host(ep['host'], namespace)
        label = '%s -> %s:%s' % (ep['what'], ep['host'], ep['port'])
        if target is None:
            external.append(label)
            continue
        if ep['port'] is None:
            problems.append('%s: no port in %s://%s and no default port for %s' % (
                ep['what'], ep['scheme'], ep['host'], ep['scheme']))
            continue
        problem = check_endpoint(ep['what'], target[0], target[1], ep['port'], svc_index)
        if problem:
            problems.append(problem)
        else:
            checked.append('%s (Service %s/%s)' % (label, target[1], target[0]))
    env = _container_env(deployment)
    for ph in refs['placeholders']:
        if ph['var'] not in env:
            problems.append('%s: ${%s} has no default and is not in the container env' % (ph['what'], ph['var']))
    for ref in pod_secret_refs(deployment):
        found = _secret_problem(ref['what'], namespace, ref['secret'], [k for k in ref['keys'] if k], sec_index)
        problems.extend(found)
        if not found:
            checked.append('%s (Secret %s/%s %s)' % (ref['what'], namespace, ref['secret'],
                                                     ','.join(k for k in ref['keys'] if k) or 'all keys'))
    for b in route_backends(routes):
        problem = check_endpoint(b['what'], b['service'], b['namespace'], b['port'], svc_index, b['port_name'])
        if problem:
            problems.append(problem)
        else:
            checked.append('%s -> Service %s/%s:%s' % (b['what'], b['namespace'], b['service'],
                                                       b['port'] if b['port_name'] is None else b['port_name']))
    return {'ok': not problems, 'problems': problems, 'checked': checked, 'external': external}
