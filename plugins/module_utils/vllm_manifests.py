# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM manifests from the models to serve, their sizing and the MIG plan (pure functions).

Inputs (design §3b):

* ``models``: ``cnai_models`` (name, model, served_name, quantization, dtype, max_model_len, max_num_seqs,
  gpu_memory_utilization, replicas {min, max}, task, spot, autoscaling, extra_args, env, ...);
* ``sizing``: ``cnai.platform.model_sizing``'s ``models`` list (``tensor_parallel``, ``vllm_quantization``,
  ``weights_gib``, ...), matched by ``name``;
* ``assignments``: ``cnai.platform.mig_plan``'s assignments (one per replica at ``replicas.max``:
  ``workload``, ``node``, ``gpu`` (int or list), ``profile``, ``resource``);
* ``node_products``: node name -> the node's ``nvidia.com/gpu.product`` label value.

``render()`` groups each model's planned replicas by (GPU product, resource, GPUs per replica); one
Deployment per group (named after the model when there is one group, suffixed with product and
resource otherwise). Each Deployment's maximum is the number of replicas the plan placed in its group,
so that at peak every planned MIG device or GPU is used and nothing more; the model's minimum is split
across its Deployments in proportion. Around them: one Service, PodDisruptionBudget, PodMonitor and
model-cache PVC per model, and one autoscaler (KEDA ScaledObject or HPA) per Deployment. The result is
what ``cnai.platform.kustomize_render`` takes: ``resources`` (the base) and ``overlays`` (per
environment: namespace, labels, and patches for what names the namespace, i.e. the trigger queries).

Everything raises ``VllmManifestError`` with a message that names the variable to fix.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import math
import re

from ansible_collections.cnai.platform.plugins.module_utils import inputs

QUANTIZATIONS = ('none', 'bf16', 'fp16', 'fp8', 'awq', 'gptq', 'int8')
DTYPES = ('auto', 'bfloat16', 'float16')
TASKS = ('generate', 'embed')
AUTOSCALERS = ('keda', 'hpa', 'none')
GPU = 'nvidia.com/gpu'
MIG_PREFIX = 'nvidia.com/mig-'
PRODUCT_LABEL = 'nvidia.com/gpu.product'
# What --quantization gets when the sizing result does not say (model_sizing's vllm_quantization wins).
# None: vLLM reads the method from the checkpoint's quantization_config (AWQ/GPTQ/FP8 checkpoints).
_FALLBACK_VLLM_QUANTIZATION = {'none': None, 'bf16': None, 'fp16': None, 'fp8': 'fp8', 'awq': None,
                               'gptq': None, 'int8': None}
_DNS_LABEL = re.compile(r'^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')
_QTY = re.compile(r'^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$')

DEFAULT_OPTIONS = {
    'namespace': 'ai-inference',
    'image': 'vllm/vllm-openai:latest',
    'image_pull_policy': 'IfNotPresent',
    'port': 8000,
    'autoscaler': 'keda',
    'prometheus_url': 'http://kube-prometheus-stack-prometheus.monitoring.svc:9090',
    'prometheus_release': 'kube-prometheus-stack',
    'podmonitor': True,
    'waiting_target': 5,
    'kv_cache_target': 0.8,
    'polling_interval': 15,
    'cooldown_period': 300,
    'scale_down_stabilization': 300,
    'hub_token_secret': '',
    'hub_token_secret_key': 'token',
    'cache_storage_class': '',
    'cache_access_mode': 'ReadWriteMany',
    'cache_size': '',
    'shm_size': '16Gi',
    'mig_cpu': '2',
    'mig_memory': '32Gi',
    'gpu_cpu': '8',
    'gpu_memory': '96Gi',
    'startup_timeout': 1800,
    'run_as_user': 2000,
    'runtime_class': '',
    'enable_prefix_caching': True,
    'termination_grace_period': 60,
    'spot_drain_seconds': 30,
    'spot_tolerations': [{'key': 'cnai.platform/capacity-type', 'operator': 'Equal', 'value': 'spot',
                          'effect': 'NoSchedule'}],
    'spot_node_label': {'key': 'cnai.platform/capacity-type', 'value': 'spot'},
    'environments': {'dev': {'namespace': 'ai-inference-dev'},
                     'staging': {'namespace': 'ai-inference-staging'},
                     'production': {'namespace': 'ai-inference'}},
    'part_of': 'cnai-platform',
    'version_label': '',
    # NetworkPolicy (issue 9): ingress to the vLLM pods only from the AI gateway's pods (the gateway namespace
    # of the same environment) and from the monitoring namespace, on the serving port
    'network_policy': False,
    'gateway_environments': {'dev': {'namespace': 'ai-app-dev'},
                             'staging': {'namespace': 'ai-app-staging'},
                             'production': {'namespace': 'ai-app'}},
    'gateway_pod_labels': {'app.kubernetes.io/name': 'ai-gateway'},
    'monitoring_namespace': 'monitoring',
}


class VllmManifestError(Exception):
    """Bad input: the message names the variable to set."""


# ------------------------------------------------------------------------------------------------
# Inputs


def _int(value, what, minimum=None):
    return inputs.integer(value, what, minimum, error=VllmManifestError)


def _float(value, what, low, high):
    try:
        if isinstance(value, bool):
            raise ValueError
        f = float(value)
    except (TypeError, ValueError):
        raise VllmManifestError('%s must be a number, got %r' % (what, value))
    if not low < f <= high:
        raise VllmManifestError('%s must be in (%s, %s], got %s' % (what, low, high, f))
    return f


def normalize_models(models):
    """Check ``cnai_models`` and fill defaults. Returns a list of new dicts, one per model."""
    if not isinstance(models, (list, tuple)) or not models:
        raise VllmManifestError('cnai_models must be a non-empty list of models (design §3b), got %r'
                                % (models,))
    out, seen = [], set()
    for i, raw in enumerate(models):
        if not isinstance(raw, dict):
            raise VllmManifestError('cnai_models[%d] must be a mapping, got %r' % (i, raw))
        name = raw.get('name')
        where = 'cnai_models[%d]' % i
        if not isinstance(name, str) or not _DNS_LABEL.match(name) or len(name) > 40:
            raise VllmManifestError('%s.name must be a DNS label of at most 40 characters (lowercase letters, '
                                    'digits, -), got %r' % (where, name))
        where = 'cnai_models[%s]' % name
        if name in seen:
            raise VllmManifestError('%s: the name is used twice; model names must be unique' % where)
        seen.add(name)
        m = dict(raw)
        if not isinstance(m.get('model'), str) or not m['model'].strip():
            raise VllmManifestError('%s.model must be a hub id (org/name) or a path' % where)
        m['served_name'] = m.get('served_name') or m['model']
        quant = str(m.get('quantization') or 'none').lower()
        if quant not in QUANTIZATIONS:
            raise VllmManifestError('%s.quantization must be one of %s, got %r'
                                    % (where, ', '.join(QUANTIZATIONS), m.get('quantization')))
        m['quantization'] = quant
        dtype = str(m.get('dtype') or 'auto')
        if dtype not in DTYPES:
            raise VllmManifestError('%s.dtype must be one of %s, got %r' % (where, ', '.join(DTYPES), dtype))
        m['dtype'] = dtype
        task = str(m.get('task') or 'generate')
        if task not in TASKS:
            raise VllmManifestError('%s.task must be one of %s, got %r' % (where, ', '.join(TASKS), task))
        m['task'] = task
        m['max_model_len'] = _int(m.get('max_model_len', 8192), where + '.max_model_len', 16)
        m['max_num_seqs'] = _int(m.get('max_num_seqs', 8), where + '.max_num_seqs', 1)
        m['gpu_memory_utilization'] = _float(m.get('gpu_memory_utilization', 0.90),
                                             where + '.gpu_memory_utilization', 0.0, 1.0)
        reps = m.get('replicas', {'min': 1, 'max': 1})
        if isinstance(reps, int) and not isinstance(reps, bool):
            reps = {'min': reps, 'max': reps}
        if not isinstance(reps, dict):
            raise VllmManifestError('%s.replicas must be {min: N, max: M}, got %r' % (where, reps))
        rmin = _int(reps.get('min', 1), where + '.replicas.min', 0)
        rmax = _int(reps.get('max', max(rmin, 1)), where + '.replicas.max', 1)
        if rmin > rmax:
            raise VllmManifestError('%s.replicas: min (%d) is greater than max (%d)' % (where, rmin, rmax))
        m['replicas'] = {'min': rmin, 'max': rmax}
        m['spot'] = bool(m.get('spot', False))
        auto = m.get('autoscaling') or {}
        if not isinstance(auto, dict):
            raise VllmManifestError('%s.autoscaling must be a mapping, got %r' % (where, auto))
        m['autoscaling'] = dict(auto)
        if 'waiting_target' in auto:
            _float(auto['waiting_target'], where + '.autoscaling.waiting_target', 0.0, 1e6)
        if 'kv_cache_target' in auto:
            _float(auto['kv_cache_target'], where + '.autoscaling.kv_cache_target', 0.0, 1.0)
        extra = m.get('extra_args') or []
        if not isinstance(extra, (list, tuple)) or not all(isinstance(a, (str, int, float)) for a in extra):
            raise VllmManifestError('%s.extra_args must be a list of strings, got %r' % (where, extra))
        m['extra_args'] = [str(a) for a in extra]
        env = m.get('env') or {}
        if not isinstance(env, dict):
            raise VllmManifestError('%s.env must be a mapping of name: value, got %r' % (where, env))
        m['env'] = dict((str(k), str(v)) for k, v in env.items())
        out.append(m)
    return out


def normalize_options(options):
    opts = copy.deepcopy(DEFAULT_OPTIONS)
    for key, value in (options or {}).items():
        if key not in opts:
            raise VllmManifestError('unknown vLLM render option %r (known: %s)' % (key, ', '.join(sorted(opts))))
        if value is not None:
            opts[key] = value
    if opts['autoscaler'] not in AUTOSCALERS:
        raise VllmManifestError('vllm_autoscaler must be one of %s, got %r'
                                % (', '.join(AUTOSCALERS), opts['autoscaler']))
    if not _DNS_LABEL.match(str(opts['namespace'])):
        raise VllmManifestError('vllm_namespace must be a DNS label, got %r' % (opts['namespace'],))
    envs = opts['environments']
    if not isinstance(envs, dict) or not envs:
        raise VllmManifestError('vllm_environments must map environment names to {namespace: ...}')
    for env, spec in envs.items():
        ns = (spec or {}).get('namespace', opts['namespace'])
        if not _DNS_LABEL.match(str(ns)):
            raise VllmManifestError('vllm_environments.%s.namespace must be a DNS label, got %r' % (env, ns))
    for key in ('shm_size', 'mig_memory', 'gpu_memory', 'mig_cpu', 'gpu_cpu'):
        if not _QTY.match(str(opts[key])):
            raise VllmManifestError('vllm_%s must be a Kubernetes quantity (e.g. 16Gi, 4), got %r'
                                    % (key, opts[key]))
    if opts['cache_size'] and not _QTY.match(str(opts['cache_size'])):
        raise VllmManifestError('vllm_cache_size must be a Kubernetes quantity or empty, got %r'
                                % (opts['cache_size'],))
    _int(opts['startup_timeout'], 'vllm_startup_timeout', 60)
    _int(opts['port'], 'vllm_port', 1)
    if opts['network_policy']:
        gws = opts['gateway_environments']
        for env in envs:
            ns = ((gws or {}).get(env) or {}).get('namespace') if isinstance(gws, dict) else None
            if not isinstance(ns, str) or not _DNS_LABEL.match(ns):
                raise VllmManifestError('vllm_gateway_environments.%s.namespace must name the AI gateway\'s '
                                        'namespace of environment %s (a DNS label), got %r' % (env, env, ns))
        if not _DNS_LABEL.match(str(opts['monitoring_namespace'])):
            raise VllmManifestError('vllm_monitoring_namespace must be a namespace name, got %r'
                                    % (opts['monitoring_namespace'],))
        if not isinstance(opts['gateway_pod_labels'], dict) or not opts['gateway_pod_labels']:
            raise VllmManifestError('vllm_gateway_pod_labels must be a non-empty mapping of labels')
    return opts


# ------------------------------------------------------------------------------------------------
# Grouping the plan into Deployments


def product_slug(product):
    """A short DNS-friendly form of a GPU product label value: NVIDIA-A100-SXM4-80GB -> a100-sxm4-80gb."""
    s = re.sub(r'[^a-z0-9]+', '-', str(product).lower()).strip('-')
    if s.startswith('nvidia-'):
        s = s[len('nvidia-'):]
    return s or 'gpu'


def _resource_slug(resource, gpus):
    if resource.startswith(MIG_PREFIX):
        return re.sub(r'[^a-z0-9]+', '-', resource[len(MIG_PREFIX):].lower()).strip('-')
    return 'gpu' if gpus == 1 else '%dgpu' % gpus


def split_min(total_min, maxima):
    """Split a model's minimum across its Deployments in proportion to their maxima (largest remainder).

    Every share is <= its maximum; shares sum to ``total_min`` (<= sum of maxima).
    """
    total_max = sum(maxima)
    if total_min > total_max:
        raise VllmManifestError('replicas.min %d exceeds the %d planned replicas' % (total_min, total_max))
    if total_max == 0:
        return [0] * len(maxima)
    exact = [total_min * m / float(total_max) for m in maxima]
    shares = [int(math.floor(x)) for x in exact]
    left = total_min - sum(shares)
    order = sorted(range(len(maxima)), key=lambda i: (-(exact[i] - shares[i]), -maxima[i], i))
    for i in order:
        if left == 0:
            break
        if shares[i] < maxima[i]:
            shares[i] += 1
            left -= 1
    return shares


def group_assignments(models, assignments, node_products):
    """Per model, the planned groups: [{name, model, product, resource, gpus, max, min, nodes}]."""
    by_model = {}
    for a in assignments or []:
        by_model.setdefault(a.get('workload'), []).append(a)
    groups = []
    for m in models:
        mine = by_model.get(m['name'], [])
        if len(mine) < m['replicas']['max']:
            raise VllmManifestError(
                'cnai_models[%s]: the MIG plan places %d replica(s) but replicas.max is %d; the GPU layer was '
                'planned for other workloads: run playbooks/gpu.yml (or pass vllm_plan from the same model list)'
                % (m['name'], len(mine), m['replicas']['max']))
        keyed = {}
        for a in mine:
            node = a.get('node')
            if node not in node_products:
                raise VllmManifestError('the plan puts %s on node %r, which has no %s label (known nodes: %s)'
                                        % (m['name'], node, PRODUCT_LABEL, ', '.join(sorted(node_products))))
            gpus = a.get('gpu') if a.get('gpus') is None else a.get('gpus')
            n_gpus = len(gpus) if isinstance(gpus, (list, tuple)) else 1
            resource = a.get('resource') or (MIG_PREFIX + a['profile'] if a.get('profile') else GPU)
            key = (node_products[node], resource, n_gpus if resource == GPU else 1, a.get('profile'))
            keyed.setdefault(key, []).append(a)
        keys = sorted(keyed, key=lambda k: (-len(keyed[k]), k[0], k[1]))
        # the plan is made for replicas.max: never run more than that
        maxima = [len(keyed[k]) for k in keys]
        over = sum(maxima) - m['replicas']['max']
        for i in range(len(keys) - 1, -1, -1):
            cut = min(over, maxima[i] - 1)
            maxima[i] -= cut
            over -= cut
        mins = split_min(m['replicas']['min'], maxima)
        for k, mx, mn in zip(keys, maxima, mins):
            product, resource, n_gpus, profile = k
            name = m['name']
            if len(keys) > 1:
                name = '%s-%s-%s' % (m['name'], product_slug(product), _resource_slug(resource, n_gpus))
            name = name[:63].rstrip('-')
            groups.append({'name': name, 'model': m['name'], 'product': product, 'resource': resource,
                           'profile': profile, 'gpus': n_gpus, 'max': mx, 'min': mn,
                           'nodes': sorted(set(a['node'] for a in keyed[k]))})
    names = [g['name'] for g in groups]
    dup = sorted(set(n for n in names if names.count(n) > 1))
    if dup:
        raise VllmManifestError('Deployment names collide: %s; rename the models in cnai_models' % ', '.join(dup))
    return groups


# ------------------------------------------------------------------------------------------------
# Objects


def _labels(opts, model, extra=None):
    lab = {'app.kubernetes.io/name': 'vllm', 'app.kubernetes.io/instance': model,
           'app.kubernetes.io/component': 'inference-engine', 'app.kubernetes.io/managed-by': 'cnai.platform',
           'app.kubernetes.io/part-of': opts['part_of']}
    if opts['version_label']:
        lab['app.kubernetes.io/version'] = str(opts['version_label'])
    lab.update(extra or {})
    return lab


def _meta(name, opts, model, extra_labels=None, annotations=None):
    meta = {'name': name, 'namespace': opts['namespace'], 'labels': _labels(opts, model, extra_labels)}
    if annotations:
        meta['annotations'] = annotations
    return meta


def _model_selector(model):
    return {'app.kubernetes.io/name': 'vllm', 'app.kubernetes.io/instance': model}


def vllm_args(model, sizing, tensor_parallel, opts):
    """The container args (after ``vllm serve``)."""
    args = [model['model'],
            '--served-model-name', model['served_name'],
            '--host', '0.0.0.0', '--port', str(opts['port']),
            '--max-model-len', str(model['max_model_len']),
            '--max-num-seqs', str(model['max_num_seqs']),
            '--gpu-memory-utilization', '%g' % model['gpu_memory_utilization'],
            '--tensor-parallel-size', str(tensor_parallel)]
    if 'vllm_quantization' in (sizing or {}):
        quant = sizing.get('vllm_quantization')
    else:
        quant = _FALLBACK_VLLM_QUANTIZATION[model['quantization']]
    if quant:
        args += ['--quantization', str(quant)]
    if model['dtype'] != 'auto':
        args += ['--dtype', model['dtype']]
    if model.get('kv_cache_dtype', 'auto') != 'auto':
        args += ['--kv-cache-dtype', str(model['kv_cache_dtype'])]
    if model['task'] == 'embed':
        # vLLM >= 0.10 replaced --task embed with the pooling runner (and --convert for generative bases)
        args += ['--runner', 'pooling', '--convert', 'embed']
    elif opts['enable_prefix_caching']:
        args += ['--enable-prefix-caching']
    return args + model['extra_args']


def _cache_size(model, sizing, opts):
    if opts['cache_size']:
        return str(opts['cache_size'])
    weights = float((sizing or {}).get('weights_gib') or 0) or 50.0
    # checkpoint + tokenizer + a margin, in steps of 10Gi so small sizing changes do not resize the PVC
    return '%dGi' % (int(math.ceil((weights * 1.25 + 10) / 10.0)) * 10)


def _qty_times(qty, n):
    m = re.match(r'^([0-9.]+)(.*)$', str(qty))
    value = float(m.group(1)) * n
    return ('%d' % value if value == int(value) else '%g' % value) + m.group(2)


def deployment(group, model, sizing, opts):
    name = group['name']
    per_gpu = group['resource'] == GPU
    tp = group['gpus'] if per_gpu else 1
    count = group['gpus'] if per_gpu else 1
    cpu = _qty_times(opts['gpu_cpu'], count) if per_gpu else str(opts['mig_cpu'])
    mem = _qty_times(opts['gpu_memory'], count) if per_gpu else str(opts['mig_memory'])
    pod_labels = _labels(opts, model['name'], {'cnai.platform/deployment': name,
                                               'cnai.platform/gpu-product': group['product']})
    env = [{'name': 'HOME', 'value': '/cache'},
           {'name': 'USER', 'value': 'vllm'},
           {'name': 'HF_HOME', 'value': '/cache/huggingface'},
           {'name': 'VLLM_NO_USAGE_STATS', 'value': '1'}]
    if opts['hub_token_secret']:
        env.append({'name': 'HF_TOKEN', 'valueFrom': {'secretKeyRef': {
            'name': opts['hub_token_secret'], 'key': opts['hub_token_secret_key']}}})
    known = set(e['name'] for e in env)
    env += [{'name': k, 'value': v} for k, v in sorted(model['env'].items()) if k not in known]
    probe = {'httpGet': {'path': '/health', 'port': 'http'}}
    period = 10
    container = {
        'name': 'vllm',
        'image': opts['image'],
        'imagePullPolicy': opts['image_pull_policy'],
        'command': ['vllm', 'serve'],
        'args': vllm_args(model, sizing, tp, opts),
        'env': env,
        'ports': [{'name': 'http', 'containerPort': int(opts['port']), 'protocol': 'TCP'}],
        'resources': {'requests': {'cpu': cpu, 'memory': mem, group['resource']: str(count)},
                      'limits': {'memory': mem, group['resource']: str(count)}},
        'startupProbe': dict(probe, periodSeconds=period, timeoutSeconds=5,
                             failureThreshold=int(math.ceil(int(opts['startup_timeout']) / float(period)))),
        'readinessProbe': dict(probe, periodSeconds=period, timeoutSeconds=5, failureThreshold=3),
        'livenessProbe': dict(probe, periodSeconds=15, timeoutSeconds=10, failureThreshold=4),
        'securityContext': {'allowPrivilegeEscalation': False, 'capabilities': {'drop': ['ALL']},
                            'runAsNonRoot': True},
        'volumeMounts': [{'name': 'cache', 'mountPath': '/cache'}, {'name': 'dshm', 'mountPath': '/dev/shm'}],
    }
    affinity = {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': PRODUCT_LABEL, 'operator': 'In', 'values': [group['product']]}]}]}}}
    grace = int(opts['termination_grace_period'])
    spec = {
        'securityContext': {'runAsNonRoot': True, 'runAsUser': int(opts['run_as_user']),
                            'runAsGroup': int(opts['run_as_user']), 'fsGroup': int(opts['run_as_user']),
                            'seccompProfile': {'type': 'RuntimeDefault'}},
        'affinity': affinity,
        'containers': [container],
        'volumes': [{'name': 'cache', 'persistentVolumeClaim': {'claimName': '%s-cache' % model['name']}},
                    {'name': 'dshm', 'emptyDir': {'medium': 'Memory', 'sizeLimit': str(opts['shm_size'])}}],
    }
    if model['spot']:
        label = opts['spot_node_label']
        affinity['nodeAffinity']['preferredDuringSchedulingIgnoredDuringExecution'] = [
            {'weight': 100, 'preference': {'matchExpressions': [
                {'key': label['key'], 'operator': 'In', 'values': [str(label['value'])]}]}}]
        spec['tolerations'] = copy.deepcopy(list(opts['spot_tolerations']))
        drain = int(opts['spot_drain_seconds'])
        # the endpoint is removed first; in-flight requests finish before SIGTERM reaches vLLM
        container['lifecycle'] = {'preStop': {'exec': {'command': ['/bin/sh', '-c', 'sleep %d' % drain]}}}
        grace = max(grace, drain + 30)
    spec['terminationGracePeriodSeconds'] = grace
    if opts['runtime_class']:
        spec['runtimeClassName'] = opts['runtime_class']
    dep_spec = {
        'selector': {'matchLabels': dict(_model_selector(model['name']), **{'cnai.platform/deployment': name})},
        # The plan gives this Deployment exactly `max` MIG devices / GPU sets: a surge pod would wait for a
        # device that does not exist, so a rollout replaces pods one at a time.
        'strategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 0, 'maxUnavailable': 1}},
        'template': {'metadata': {'labels': pod_labels}, 'spec': spec},
    }
    if opts['autoscaler'] == 'none':
        dep_spec['replicas'] = group['max']
    # with an autoscaler, spec.replicas is left to it (re-applying a fixed count would undo a scale-up)
    annotations = {'cnai.platform/gpu-product': group['product'], 'cnai.platform/resource': group['resource'],
                   'cnai.platform/resource-per-replica': str(count),
                   'cnai.platform/planned-replicas': str(group['max']),
                   'cnai.platform/min-replicas': str(group['min']),
                   'cnai.platform/served-model-name': model['served_name']}
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment',
            'metadata': _meta(name, opts, model['name'], {'cnai.platform/deployment': name}, annotations),
            'spec': dep_spec}


def _trigger_queries(group, model, opts, namespace):
    sel = 'namespace="%s",model_name="%s",pod=~"%s-[a-z0-9]+-[a-z0-9]+"' % (
        namespace, model['served_name'], re.escape(group['name']))
    return ('sum(vllm:num_requests_waiting{%s})' % sel, 'avg(vllm:kv_cache_usage_perc{%s})' % sel)


def _targets(model, opts):
    auto = model['autoscaling']
    return (float(auto.get('waiting_target', opts['waiting_target'])),
            float(auto.get('kv_cache_target', opts['kv_cache_target'])))


def scaled_object(group, model, opts):
    waiting_q, kv_q = _trigger_queries(group, model, opts, opts['namespace'])
    waiting, kv = _targets(model, opts)
    auto = model['autoscaling']
    return {'apiVersion': 'keda.sh/v1alpha1', 'kind': 'ScaledObject',
            'metadata': _meta(group['name'], opts, model['name'], {'cnai.platform/deployment': group['name']}),
            'spec': {
                'scaleTargetRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': group['name']},
                'minReplicaCount': group['min'],
                'maxReplicaCount': group['max'],
                'pollingInterval': int(auto.get('polling_interval', opts['polling_interval'])),
                'cooldownPeriod': int(auto.get('cooldown_period', opts['cooldown_period'])),
                'advanced': {'horizontalPodAutoscalerConfig': {'behavior': {'scaleDown': {
                    'stabilizationWindowSeconds': int(opts['scale_down_stabilization'])}}}},
                'triggers': [
                    # queued requests per replica (AverageValue: desired = ceil(sum / target))
                    {'type': 'prometheus', 'name': 'waiting-requests', 'metricType': 'AverageValue',
                     'metadata': {'serverAddress': opts['prometheus_url'], 'query': waiting_q,
                                  'threshold': '%g' % waiting, 'activationThreshold': '0',
                                  'ignoreNullValues': 'true'}},
                    # mean KV-cache usage (Value: desired = ceil(current * usage / target))
                    {'type': 'prometheus', 'name': 'kv-cache-usage', 'metricType': 'Value',
                     'metadata': {'serverAddress': opts['prometheus_url'], 'query': kv_q,
                                  'threshold': '%g' % kv, 'ignoreNullValues': 'true'}},
                ]}}


def hpa(group, model, opts):
    waiting, kv = _targets(model, opts)
    return {'apiVersion': 'autoscaling/v2', 'kind': 'HorizontalPodAutoscaler',
            'metadata': _meta(group['name'], opts, model['name'], {'cnai.platform/deployment': group['name']}),
            'spec': {
                'scaleTargetRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': group['name']},
                # an HPA cannot go to zero without the HPAScaleToZero feature gate
                'minReplicas': max(1, group['min']),
                'maxReplicas': group['max'],
                'behavior': {'scaleDown': {'stabilizationWindowSeconds': int(opts['scale_down_stabilization'])}},
                # names as a prometheus-adapter rule exposes vllm:num_requests_waiting / vllm:kv_cache_usage_perc
                'metrics': [
                    {'type': 'Pods', 'pods': {'metric': {'name': 'vllm_num_requests_waiting'},
                                              'target': {'type': 'AverageValue', 'averageValue': '%g' % waiting}}},
                    {'type': 'Pods', 'pods': {'metric': {'name': 'vllm_kv_cache_usage_perc'},
                                              'target': {'type': 'AverageValue',
                                                         'averageValue': '%dm' % int(round(kv * 1000))}}},
                ]}}


def model_objects(model, sizing, opts):
    name = model['name']
    svc = {'apiVersion': 'v1', 'kind': 'Service', 'metadata': _meta(name, opts, name),
           'spec': {'type': 'ClusterIP', 'selector': _model_selector(name),
                    'ports': [{'name': 'http', 'port': int(opts['port']), 'targetPort': 'http', 'protocol': 'TCP'}]}}
    # maxUnavailable 1 (not minAvailable): a drain for a MIG change may always take one replica
    pdb = {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': _meta(name, opts, name),
           'spec': {'maxUnavailable': 1, 'selector': {'matchLabels': _model_selector(name)}}}
    pvc_spec = {'accessModes': [opts['cache_access_mode']],
                'resources': {'requests': {'storage': _cache_size(model, sizing, opts)}}}
    if opts['cache_storage_class']:
        pvc_spec['storageClassName'] = opts['cache_storage_class']
    pvc = {'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim', 'metadata': _meta('%s-cache' % name, opts, name),
           'spec': pvc_spec}
    objs = [svc, pdb, pvc]
    if opts['podmonitor']:
        pm_meta = _meta(name, opts, name, {'release': opts['prometheus_release']})
        objs.append({'apiVersion': 'monitoring.coreos.com/v1', 'kind': 'PodMonitor', 'metadata': pm_meta,
                     'spec': {'selector': {'matchLabels': _model_selector(name)},
                              'podMetricsEndpoints': [{'port': 'http', 'path': '/metrics', 'interval': '15s'}]}})
    return objs


def _ns_peer(namespace):
    return {'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': namespace}}}


def network_policy(opts, gateway_namespace):
    """Ingress to every vLLM pod of the namespace: from the gateway's pods (its namespace) and from the
    monitoring namespace (Prometheus scrapes /metrics on the same port), nothing else."""
    port = int(opts['port'])
    gateway = _ns_peer(gateway_namespace)
    gateway['podSelector'] = {'matchLabels': dict(opts['gateway_pod_labels'])}
    meta = {'name': 'vllm-ingress', 'namespace': opts['namespace'],
            'labels': {'app.kubernetes.io/name': 'vllm', 'app.kubernetes.io/component': 'inference-engine',
                       'app.kubernetes.io/managed-by': 'cnai.platform', 'app.kubernetes.io/part-of': opts['part_of']}}
    return {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': meta,
            'spec': {'podSelector': {'matchLabels': {'app.kubernetes.io/name': 'vllm'}},
                     'policyTypes': ['Ingress'],
                     'ingress': [{'from': [gateway], 'ports': [{'port': port, 'protocol': 'TCP'}]},
                                 {'from': [_ns_peer(opts['monitoring_namespace'])],
                                  'ports': [{'port': port, 'protocol': 'TCP'}]}]}}


def _overlays(groups, models_by_name, opts):
    overlays = {}
    for env in sorted(opts['environments']):
        spec = opts['environments'][env] or {}
        ns = spec.get('namespace', opts['namespace'])
        patches = []
        if opts['autoscaler'] == 'keda' and ns != opts['namespace']:
            for g in groups:
                waiting_q, kv_q = _trigger_queries(g, models_by_name[g['model']], opts, ns)
                patches.append({'target': {'kind': 'ScaledObject', 'name': g['name']}, 'patch': [
                    {'op': 'replace', 'path': '/spec/triggers/0/metadata/query', 'value': waiting_q},
                    {'op': 'replace', 'path': '/spec/triggers/1/metadata/query', 'value': kv_q}]})
        cap = spec.get('max_replicas')
        if cap is not None and opts['autoscaler'] != 'none':
            cap = _int(cap, 'vllm_environments.%s.max_replicas' % env, 1)
            for g in groups:
                if g['max'] <= cap:
                    continue
                kind = 'ScaledObject' if opts['autoscaler'] == 'keda' else 'HorizontalPodAutoscaler'
                if kind == 'ScaledObject':
                    lo, hi = 'minReplicaCount', 'maxReplicaCount'
                else:
                    lo, hi = 'minReplicas', 'maxReplicas'
                low = min(g['min'], cap) if kind == 'ScaledObject' else max(1, min(g['min'], cap))
                patches.append({'target': {'kind': kind, 'name': g['name']}, 'patch': [
                    {'op': 'replace', 'path': '/spec/%s' % lo, 'value': low},
                    {'op': 'replace', 'path': '/spec/%s' % hi, 'value': cap}]})
        overlay = {'namespace': ns, 'labels': {'cnai.platform/environment': env}}
        if patches:
            overlay['patches'] = patches
        if opts['network_policy']:
            # the gateway's namespace differs per environment: the policy lives in the overlay
            overlay['resources'] = [network_policy(opts, opts['gateway_environments'][env]['namespace'])]
        if cap is not None and opts['autoscaler'] == 'none':
            overlay['replicas'] = [{'name': g['name'], 'count': min(g['max'], int(cap))} for g in groups]
        overlays[env] = overlay
    return overlays


def render(models, sizing, assignments, node_products, options=None):
    """Everything the vLLM role renders. See the module docstring."""
    opts = normalize_options(options)
    models = normalize_models(models)
    sizing_by_name = {}
    for s in sizing or []:
        if isinstance(s, dict) and s.get('name'):
            sizing_by_name[s['name']] = s
    if not isinstance(node_products, dict) or not node_products:
        raise VllmManifestError('no GPU node carries the %s label: is the GPU layer (playbooks/gpu.yml) '
                                'rolled out?' % PRODUCT_LABEL)
    for m in models:
        s = sizing_by_name.get(m['name'])
        if s:
            # what the sizing computed with (its defaults, the task read from the architecture) is what runs
            for key in ('max_model_len', 'max_num_seqs', 'gpu_memory_utilization', 'task'):
                if s.get(key) is not None:
                    m[key] = s[key]
            if s.get('dtype') in DTYPES:
                m['dtype'] = s['dtype']
            if s.get('kv_cache_dtype') and s['kv_cache_dtype'] != 'auto':
                m['kv_cache_dtype'] = s['kv_cache_dtype']
    groups = group_assignments(models, assignments, node_products)
    by_name = dict((m['name'], m) for m in models)
    resources = []
    for m in models:
        mine = [g for g in groups if g['model'] == m['name']]
        s = sizing_by_name.get(m['name'], {})
        for g in mine:
            resources.append(deployment(g, m, s, opts))
            if opts['autoscaler'] == 'keda':
                resources.append(scaled_object(g, m, opts))
            elif opts['autoscaler'] == 'hpa':
                resources.append(hpa(g, m, opts))
        resources.extend(model_objects(m, s, opts))
    return {'resources': resources, 'overlays': _overlays(groups, by_name, opts), 'deployments': groups,
            'namespaces': dict((env, (spec or {}).get('namespace', opts['namespace']))
                               for env, spec in opts['environments'].items())}


# ------------------------------------------------------------------------------------------------
# The live cluster as the role reads it


def node_products(nodes):
    """Node name -> its nvidia.com/gpu.product label, for the nodes (k8s_info resources) that have one."""
    out = {}
    for n in nodes or []:
        labels = (n.get('metadata') or {}).get('labels') or {}
        if labels.get(PRODUCT_LABEL):
            out[n['metadata']['name']] = labels[PRODUCT_LABEL]
    return out


def nodes_not_at_plan(nodes, node_configs, config_label='nvidia.com/mig.config',
                      state_label='nvidia.com/mig.config.state'):
    """Planned nodes whose live config label is not the planned one or whose state is not success."""
    live = dict((n['metadata']['name'], (n['metadata'].get('labels') or {})) for n in nodes or [])
    bad = []
    for name in sorted(node_configs or {}):
        labels = live.get(name)
        if labels is None:
            bad.append('%s: not in the cluster' % name)
            continue
        have, state = labels.get(config_label, ''), labels.get(state_label, '')
        if have != node_configs[name] or state != 'success':
            bad.append('%s: %s/%s, planned %s' % (name, have or 'unset', state or 'no state', node_configs[name]))
    return bad


def unavailable(deployments):
    """Names of Deployments whose Available condition is not True."""
    out = []
    for d in deployments or []:
        conds = (d.get('status') or {}).get('conditions') or []
        if not any(c.get('type') == 'Available' and c.get('status') == 'True' for c in conds):
            out.append(d['metadata']['name'])
    return sorted(out)


def misplaced_pods(pods, deployments, nodes):
    """Pods of the given Deployments that are not scheduled, or run on a node whose GPU product is not the
    Deployment's planned one (annotation cnai.platform/gpu-product) or that does not advertise the planned
    resource (annotation cnai.platform/resource)."""
    by_node = dict((n['metadata']['name'], n) for n in nodes or [])
    out = []
    for d in deployments or []:
        ann = d['metadata'].get('annotations') or {}
        product, resource = ann.get('cnai.platform/gpu-product'), ann.get('cnai.platform/resource')
        sel = ((d.get('spec') or {}).get('selector') or {}).get('matchLabels') or {}
        for p in pods or []:
            meta = p['metadata']
            if meta.get('namespace') != d['metadata'].get('namespace') or meta.get('deletionTimestamp'):
                continue
            if not all((meta.get('labels') or {}).get(k) == v for k, v in sel.items()):
                continue
            node_name = (p.get('spec') or {}).get('nodeName')
            node = by_node.get(node_name)
            if node is None:
                out.append('%s: not scheduled' % meta['name'])
                continue
            have = (node['metadata'].get('labels') or {}).get(PRODUCT_LABEL)
            alloc = (node.get('status') or {}).get('allocatable') or {}
            if have != product:
                out.append('%s: on %s (%s), planned %s' % (meta['name'], node_name, have, product))
            elif resource and str(alloc.get(resource, '0')) in ('0', ''):
                out.append('%s: %s advertises no %s' % (meta['name'], node_name, resource))
    return out


def group_line(group):
    what = group['resource'] + (' x%d' % group['gpus'] if group['resource'] == GPU else '')
    return '%s (%s): replicas %d..%d, each %s on %s, nodes %s' % (
        group['name'], group['model'], group['min'], group['max'], what, group['product'], ', '.join(group['nodes']))


# ------------------------------------------------------------------------------------------------
# What runs where (verify and `make demo`)


def status_table(deployments, pods, nodes, autoscalers):
    """Rows and a printable table of the live state: per Deployment, replicas, resource, nodes, product,
    autoscaler bounds. Inputs are k8s_info ``resources`` lists."""
    node_product = dict((n['metadata']['name'], (n['metadata'].get('labels') or {}).get(PRODUCT_LABEL, '-'))
                        for n in nodes or [])
    bounds = {}
    for a in autoscalers or []:
        spec = a.get('spec') or {}
        target = (spec.get('scaleTargetRef') or {}).get('name')
        lo = spec.get('minReplicaCount', spec.get('minReplicas', 0 if a.get('kind') == 'ScaledObject' else 1))
        hi = spec.get('maxReplicaCount', spec.get('maxReplicas', '-'))
        bounds[(a['metadata'].get('namespace'), target)] = '%s..%s (%s)' % (
            lo, hi, 'KEDA' if a.get('kind') == 'ScaledObject' else 'HPA')
    rows = []
    for d in sorted(deployments or [], key=lambda x: (x['metadata'].get('namespace', ''), x['metadata']['name'])):
        meta = d['metadata']
        ann = meta.get('annotations') or {}
        sel = (d.get('spec', {}).get('selector') or {}).get('matchLabels') or {}
        mine = [p for p in pods or [] if p['metadata'].get('namespace') == meta.get('namespace')
                and all((p['metadata'].get('labels') or {}).get(k) == v for k, v in sel.items())
                and not p['metadata'].get('deletionTimestamp')]
        on = sorted(set(p.get('spec', {}).get('nodeName') or '(pending)' for p in mine))
        status = d.get('status') or {}
        rows.append({
            'namespace': meta.get('namespace'), 'deployment': meta['name'],
            'model': (meta.get('labels') or {}).get('app.kubernetes.io/instance', meta['name']),
            'served_name': ann.get('cnai.platform/served-model-name', ''),
            'ready': int(status.get('readyReplicas') or 0), 'replicas': int(d.get('spec', {}).get('replicas') or 0),
            'resource': '%s x%s' % (ann.get('cnai.platform/resource', '?'),
                                    ann.get('cnai.platform/resource-per-replica', '?')),
            'planned_product': ann.get('cnai.platform/gpu-product', '?'),
            'nodes': on,
            'products': sorted(set(node_product.get(n, '-') for n in on if n != '(pending)')),
            'bounds': bounds.get((meta.get('namespace'), meta['name']), 'fixed'),
        })
    head = ('DEPLOYMENT', 'READY', 'RESOURCE', 'NODES', 'GPU PRODUCT', 'AUTOSCALE')
    lines_data = [(r['deployment'], '%d/%d' % (r['ready'], r['replicas']), r['resource'],
                   ','.join(r['nodes']) or '-', ','.join(r['products']) or '-', r['bounds']) for r in rows]
    widths = [max([len(head[i])] + [len(x[i]) for x in lines_data]) for i in range(len(head))]
    fmt = '  '.join('%%-%ds' % w for w in widths)
    lines = [fmt % head] + [fmt % x for x in lines_data]
    return {'rows': rows, 'table': '\n'.join(line.rstrip() for line in lines)}
