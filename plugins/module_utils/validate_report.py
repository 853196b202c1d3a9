# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report of ``playbooks/validate.yml``: what is deployed and healthy, per layer.

Pure Python, no Ansible import, fed with ``kubernetes.core.k8s_info`` ``resources`` lists (``None`` for a kind
whose API the cluster does not serve, i.e. ``api_found: false``). ``report(inputs)`` returns::

    {healthy, problems: [str], ignored: [str], summary: {layer: status}, layers: {nodes, mig, models, stores, monitors, argocd}}

Each layer has ``status``: ``healthy``, ``unhealthy`` or ``not deployed``. A layer that is absent is
``not deployed`` and a problem only when ``expect`` says it should be there. Every problem names the object
(``models: qwen-chat ai-inference-dev/qwen-chat-h200: 3/6 ready``) so that a failed run says what to look at.
Problems that start with one of ``ignore`` (e.g. ``stores: elasticsearch`` where no operator can reconcile, as on
the KWOK testbed) are listed under ``ignored`` and do not make the report unhealthy; the layer's status stays as found.

Layers:

* nodes: every Node Ready; every inventory GPU host is a Node, with its GPU product/count labels and allocatable
  GPU resources.
* mig: per GPU node, ``nvidia.com/mig.config`` against the plan (the same plan the GPU layer makes from the live
  state) and ``nvidia.com/mig.config.state`` ``success``.
* models: per model of ``cnai_models``, its vLLM Deployments ready against desired (and Available), and their
  autoscaler bounds (KEDA ScaledObject or HPA).
* stores: Milvus (workloads labelled ``milvus`` or Milvus resources in ``ai-rag*`` namespaces) and Elasticsearch
  (ECK ``Elasticsearch`` resources there: ``status.health`` green or yellow and phase Ready).
* monitors: the platform's ServiceMonitors, PodMonitors and PrometheusRules (``part-of=cnai-platform``); a PodMonitor
  for every model with a Deployment and at least one PrometheusRule when the Prometheus Operator's API is served.
* argocd: every Argo CD Application Synced and Healthy (when the CRD exists).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

HEALTHY = 'healthy'
UNHEALTHY = 'unhealthy'
ABSENT = 'not deployed'
CONFIG_LABEL = 'nvidia.com/mig.config'
STATE_LABEL = 'nvidia.com/mig.config.state'
PRODUCT_LABEL = 'nvidia.com/gpu.product'
COUNT_LABEL = 'nvidia.com/gpu.count'
INSTANCE_LABEL = 'app.kubernetes.io/instance'
NAME_LABEL = 'app.kubernetes.io/name'
DISABLED = 'all-disabled'
RAG_PREFIX = 'ai-rag'
LAYERS = ('nodes', 'mig', 'models', 'stores', 'monitors', 'argocd')
MONITOR_KINDS = ('ServiceMonitor', 'PodMonitor', 'PrometheusRule')
EXPECT_KEYS = ('models', 'milvus', 'elasticsearch', 'monitoring', 'argocd')


class ValidateError(ValueError):
    """Malformed input (not k8s_info results); the message names the field."""


def _meta(obj):
    return (obj or {}).get('metadata') or {}


def _labels(obj):
    return _meta(obj).get('labels') or {}


def _ref(obj):
    meta = _meta(obj)
    return '%s/%s' % (meta.get('namespace'), meta.get('name')) if meta.get('namespace') else meta.get('name')


def _condition(obj, ctype):
    for c in ((obj or {}).get('status') or {}).get('conditions') or []:
        if c.get('type') == ctype:
            return c.get('status') == 'True'
    return None


def _list(inputs, key, allow_none=False):
    value = inputs.get(key)
    if value is None:
        if allow_none:
            return None
        return []
    if not isinstance(value, list):
        raise ValidateError('%s must be a list of objects (k8s_info resources), got %s' % (key, type(value).__name__))
    return value


def _status(problems, present, expected, what, layer):
    if not present:
        if expected:
            problems.append('%s: %s not deployed (expected)' % (layer, what))
            return UNHEALTHY
        return ABSENT
    return UNHEALTHY if problems else HEALTHY


# ---------------------------------------------------------------------------------------------- layers

def nodes_layer(nodes, gpu_nodes):
    problems = []
    by_name = dict((_meta(n).get('name'), n) for n in nodes)
    items = []
    for name in sorted(by_name):
        n = by_name[name]
        labels = _labels(n)
        ready = _condition(n, 'Ready')
        alloc = ((n.get('status') or {}).get('allocatable') or {})
        gpu_alloc = dict((k, alloc[k]) for k in sorted(alloc) if k.startswith('nvidia.com/'))
        item = {'name': name, 'ready': bool(ready), 'gpu': name in gpu_nodes,
                'gpu_product': labels.get(PRODUCT_LABEL), 'gpu_count': labels.get(COUNT_LABEL),
                'allocatable': gpu_alloc}
        items.append(item)
        if not ready:
            problems.append('nodes: %s is not Ready' % name)
        if name in gpu_nodes and not labels.get(PRODUCT_LABEL):
            problems.append('nodes: GPU node %s has no %s label (GPU Feature Discovery not run?)' % (name, PRODUCT_LABEL))
    for name in sorted(set(gpu_nodes) - set(by_name)):
        problems.append('nodes: GPU host %s of the inventory is not a Node of the cluster' % name)
        items.append({'name': name, 'ready': False, 'gpu': True, 'gpu_product': None, 'gpu_count': None,
                      'allocatable': {}, 'missing': True})
    return {'status': _status(problems, bool(items), True, 'Nodes', 'nodes'), 'items': items,
            'ready': sum(1 for i in items if i['ready']), 'total': len(items),
            'gpu_nodes': sorted(gpu_nodes)}, problems


def mig_layer(nodes, gpu_nodes, plan):
    problems = []
    by_name = dict((_meta(n).get('name'), n) for n in nodes)
    plan = plan or {}
    planned = plan.get('node_configs') or {}
    if plan.get('failed') or not planned:
        msg = plan.get('msg') or 'no plan'
        if gpu_nodes:
            problems.append('mig: the plan could not be made, so the nodes cannot be checked against it: %s' % msg)
    items = []
    for name in sorted(gpu_nodes):
        labels = _labels(by_name.get(name))
        config = labels.get(CONFIG_LABEL)
        state = labels.get(STATE_LABEL)
        want = planned.get(name)
        at_plan = want is not None and (config or DISABLED) == want
        # A node never configured (no label) is at all-disabled; every configured node must report success.
        applied = state == 'success' or (config is None and want == DISABLED)
        items.append({'node': name, 'config': config, 'state': state, 'planned': want, 'at_plan': at_plan,
                      'applied': applied})
        if name not in by_name:
            continue          # reported by the nodes layer
        if want is not None and not at_plan:
            problems.append('mig: %s has %s=%s, the plan says %s (run playbooks/gpu.yml)' % (name, CONFIG_LABEL, config, want))
        if not applied:
            problems.append('mig: %s %s=%s (not success)' % (name, STATE_LABEL, state))
    return {'status': _status(problems, bool(gpu_nodes), False, 'GPU nodes', 'mig'), 'items': items,
            'strategy': plan.get('strategy'), 'gpus_used': plan.get('gpus_used')}, problems


def _bounds(autoscalers):
    out = {}
    for a in autoscalers:
        spec = a.get('spec') or {}
        target = (spec.get('scaleTargetRef') or {}).get('name')
        keda = a.get('kind') == 'ScaledObject'
        out[(_meta(a).get('namespace'), target)] = {
            'kind': 'KEDA' if keda else 'HPA', 'name': _meta(a).get('name'),
            'min': spec.get('minReplicaCount', 0) if keda else spec.get('minReplicas', 1),
            'max': spec.get('maxReplicaCount', 100) if keda else spec.get('maxReplicas')}
    return out


def models_layer(models, deployments, autoscalers, expected):
    problems = []
    bounds = _bounds(autoscalers)
    by_model = {}
    for d in deployments:
        by_model.setdefault(_labels(d).get(INSTANCE_LABEL) or _meta(d).get('name'), []).append(d)
    names = list(models) + sorted(m for m in by_model if m not in models)
    items = []
    for model in names:
        deps = []
        for d in sorted(by_model.get(model, []), key=_ref):
            meta = _meta(d)
            st = d.get('status') or {}
            desired = int((d.get('spec') or {}).get('replicas', 1) or 0)
            ready = int(st.get('readyReplicas') or 0)
            available = _condition(d, 'Available')
            ann = meta.get('annotations') or {}
            dep = {'namespace': meta.get('namespace'), 'name': meta.get('name'), 'desired': desired, 'ready': ready,
                   'available': bool(available) if desired else True,
                   'resource': ann.get('cnai.platform/resource'),
                   'autoscaler': bounds.get((meta.get('namespace'), meta.get('name')))}
            deps.append(dep)
            if ready < desired:
                problems.append('models: %s %s: %d/%d ready' % (model, _ref(d), ready, desired))
            elif desired and not available:
                problems.append('models: %s %s: not Available' % (model, _ref(d)))
        if not deps and model in models and expected:
            problems.append('models: %s has no vLLM Deployment' % model)
        items.append({'model': model, 'in_inventory': model in models, 'deployments': deps,
                      'desired': sum(x['desired'] for x in deps), 'ready': sum(x['ready'] for x in deps)})
    present = bool(deployments)
    # Expected models without Deployments are problems already, each named: the layer is unhealthy, not absent.
    return {'status': _status(problems, present or bool(problems), False, 'vLLM Deployments', 'models'),
            'items': items}, problems


def _workload_row(obj):
    st = obj.get('status') or {}
    desired = int((obj.get('spec') or {}).get('replicas', 1) or 0)
    return {'kind': obj.get('kind'), 'namespace': _meta(obj).get('namespace'), 'name': _meta(obj).get('name'),
            'desired': desired, 'ready': int(st.get('readyReplicas') or 0)}


def _is_rag(obj):
    ns = _meta(obj).get('namespace') or ''
    return ns == RAG_PREFIX or ns.startswith(RAG_PREFIX + '-')


def _is_milvus(obj):
    labels = _labels(obj)
    return 'milvus' in (labels.get(NAME_LABEL), labels.get(INSTANCE_LABEL), labels.get('release')) or \
        (_meta(obj).get('name') or '').startswith('milvus')


def stores_layer(workloads, milvus_crs, elasticsearch_crs, expect):
    problems = []
    items = []
    # Milvus: the chart's workloads (and its etcd/MinIO, release milvus), or the operator's Milvus resources.
    mp = []
    rows = [_workload_row(w) for w in workloads if _is_rag(w) and _is_milvus(w)]
    for r in rows:
        if r['ready'] < r['desired']:
            mp.append('stores: milvus %s %s/%s: %d/%d ready' % (r['kind'], r['namespace'], r['name'], r['ready'], r['desired']))
    crs = []
    for m in [c for c in (milvus_crs or []) if _is_rag(c)]:
        st = m.get('status') or {}
        crs.append({'kind': 'Milvus', 'namespace': _meta(m).get('namespace'), 'name': _meta(m).get('name'),
                    'status': st.get('status')})
        if st.get('status') != 'Healthy':
            mp.append('stores: milvus Milvus %s: status %s' % (_ref(m), st.get('status') or 'none (no operator reconciled it)'))
    status = _status(mp, bool(rows or crs), expect.get('milvus'), 'Milvus', 'stores')
    items.append({'store': 'milvus', 'status': status, 'expected': bool(expect.get('milvus')),
                  'workloads': rows, 'resources': crs})
    problems.extend(mp)
    # Elasticsearch: ECK's Elasticsearch resources.
    ep = []
    crs = []
    for e in [c for c in (elasticsearch_crs or []) if _is_rag(c)]:
        st = e.get('status') or {}
        crs.append({'kind': 'Elasticsearch', 'namespace': _meta(e).get('namespace'), 'name': _meta(e).get('name'),
                    'health': st.get('health'), 'phase': st.get('phase'),
                    'available_nodes': st.get('availableNodes')})
        if st.get('health') not in ('green', 'yellow') or st.get('phase') != 'Ready':
            ep.append('stores: elasticsearch %s: health %s, phase %s%s'
                      % (_ref(e), st.get('health'), st.get('phase'), '' if st else ' (no status: is the ECK operator running?)'))
    status = _status(ep, bool(crs), expect.get('elasticsearch'), 'Elasticsearch', 'stores')
    items.append({'store': 'elasticsearch', 'status': status, 'expected': bool(expect.get('elasticsearch')),
                  'workloads': [], 'resources': crs})
    problems.extend(ep)
    if any(i['status'] == UNHEALTHY for i in items):
        layer = UNHEALTHY
    elif any(i['status'] == HEALTHY for i in items):
        layer = HEALTHY
    else:
        layer = ABSENT
    return {'status': layer, 'items': items}, problems


def monitors_layer(monitors, deployments, expected):
    problems = []
    served = any(monitors.get(k) is not None for k in MONITOR_KINDS)
    counts = dict((k, len(monitors.get(k) or [])) for k in MONITOR_KINDS)
    items = []
    for kind in MONITOR_KINDS:
        for o in sorted(monitors.get(kind) or [], key=_ref):
            items.append({'kind': kind, 'namespace': _meta(o).get('namespace'), 'name': _meta(o).get('name')})
    missing = []
    if served:
        pods = set((i['namespace'], i['name']) for i in items if i['kind'] == 'PodMonitor')
        for d in deployments:
            model = _labels(d).get(INSTANCE_LABEL)
            key = (_meta(d).get('namespace'), model)
            if model and key not in pods and '%s/%s' % key not in missing:
                missing.append('%s/%s' % key)
        for m in missing:
            problems.append('monitors: no PodMonitor %s for the model\'s vLLM pods' % m)
        if not counts['PrometheusRule']:
            problems.append('monitors: no PrometheusRule of the platform (run playbooks/operations.yml)')
    status = _status(problems, served, expected, 'the Prometheus Operator (monitoring.coreos.com)', 'monitors')
    return {'status': status, 'api_served': served, 'counts': counts, 'items': items,
            'missing_podmonitors': missing}, problems


def argocd_layer(applications, expected):
    problems = []
    items = []
    for a in sorted(applications or [], key=_ref):
        st = a.get('status') or {}
        sync = (st.get('sync') or {}).get('status')
        health = (st.get('health') or {}).get('status')
        items.append({'namespace': _meta(a).get('namespace'), 'name': _meta(a).get('name'), 'sync': sync, 'health': health})
        if sync != 'Synced' or health != 'Healthy':
            problems.append('argocd: Application %s sync %s, health %s' % (_ref(a), sync, health))
    status = _status(problems, applications is not None and bool(items), expected,
                     'Argo CD Applications', 'argocd')
    return {'status': status, 'api_served': applications is not None, 'items': items}, problems


# ---------------------------------------------------------------------------------------------- entry points

def report(inputs):
    """The run report from k8s_info results (see the module docstring for the keys of ``inputs``).

    ``inputs``: ``nodes``, ``gpu_nodes`` (node names of the inventory's GPU hosts), ``plan`` (the mig_plan result,
    or a failed one with ``msg``), ``models`` (cnai_models names), ``deployments`` (vLLM), ``autoscalers``
    (ScaledObjects and HPAs), ``rag_workloads`` (Deployments and StatefulSets), ``milvus``/``elasticsearch``
    (their custom resources or None), ``monitors`` ({kind: objects or None}), ``applications`` (or None) -- or,
    for those, ``custom``: the results of one looped k8s_info over the kinds (:func:`custom_resources`) --
    ``expect`` ({models, milvus, elasticsearch, monitoring, argocd}: absent means a problem), ``ignore`` (problem
    prefixes reported under ``ignored``, not failing).
    """
    if not isinstance(inputs, dict):
        raise ValidateError('inputs must be a dict, got %s' % type(inputs).__name__)
    expect = inputs.get('expect') or {}
    if not isinstance(expect, dict) or set(expect) - set(EXPECT_KEYS):
        raise ValidateError('expect must be a dict with keys among %s, got %r' % (', '.join(EXPECT_KEYS), expect))
    models = [m['name'] if isinstance(m, dict) else m for m in (inputs.get('models') or [])]
    nodes = _list(inputs, 'nodes')
    gpu_nodes = list(inputs.get('gpu_nodes') or [])
    deployments = _list(inputs, 'deployments')
    monitors = inputs.get('monitors') or {}
    if not isinstance(monitors, dict):
        raise ValidateError('monitors must be a dict kind -> objects, got %s' % type(monitors).__name__)
    custom = custom_resources(inputs.get('custom'))
    for key, kind in (('milvus', 'Milvus'), ('elasticsearch', 'Elasticsearch'), ('applications', 'Application')):
        if key not in inputs and kind in custom:
            inputs = dict(inputs, **{key: custom[kind]})
    if not monitors and any(k in custom for k in MONITOR_KINDS):
        monitors = dict((k, custom.get(k)) for k in MONITOR_KINDS)
    layers = {}
    problems = []
    for name, (layer, probs) in (
            ('nodes', nodes_layer(nodes, gpu_nodes)),
            ('mig', mig_layer(nodes, gpu_nodes, inputs.get('plan'))),
            ('models', models_layer(models, deployments, _list(inputs, 'autoscalers'),
                                    expect.get('models', True))),
            ('stores', stores_layer(_list(inputs, 'rag_workloads'), _list(inputs, 'milvus', True),
                                    _list(inputs, 'elasticsearch', True), expect)),
            ('monitors', monitors_layer(monitors, deployments, expect.get('monitoring', False))),
            ('argocd', argocd_layer(_list(inputs, 'applications', True), expect.get('argocd', False)))):
        layers[name] = layer
        problems.extend(probs)
    ignore = inputs.get('ignore') or []
    if not isinstance(ignore, list) or not all(isinstance(x, str) and x for x in ignore):
        raise ValidateError('ignore must be a list of non-empty strings (problem prefixes), got %r' % (ignore,))
    ignored = [p for p in problems if any(p.startswith(x) for x in ignore)]
    problems = [p for p in problems if p not in ignored]
    return {'healthy': not problems, 'problems': problems, 'ignored': ignored,
            'summary': dict((k, layers[k]['status']) for k in LAYERS), 'layers': layers}


def custom_resources(results):
    """kind -> resources (None where the API is not served) from the ``results`` of a looped k8s_info whose items
    have ``kind``."""
    out = {}
    for r in results or []:
        if not isinstance(r, dict) or not isinstance(r.get('item'), dict) or 'kind' not in r['item']:
            raise ValidateError('custom must be the results of a looped k8s_info whose items have kind, got %r'
                                % (r if not isinstance(r, dict) else sorted(r),))
        out[r['item']['kind']] = r.get('resources') if r.get('api_found', True) else None
    return out


def plan_nodes(planner_nodes, live_nodes):
    """The planner's nodes (``gpu_planner_nodes`` without live Nodes) with each present Node's live
    ``nvidia.com/mig.config`` as ``current_config``: the plan the GPU layer would make now, even when a GPU host
    is missing from the cluster (that is the nodes layer's finding, not a reason to stop)."""
    live = dict((_meta(n).get('name'), _labels(n).get(CONFIG_LABEL)) for n in live_nodes or [])
    out = []
    for n in planner_nodes or []:
        n = dict(n)
        if n.get('name') in live:
            if live[n['name']]:
                n['current_config'] = live[n['name']]
            else:
                n.pop('current_config', None)
        out.append(n)
    return out
