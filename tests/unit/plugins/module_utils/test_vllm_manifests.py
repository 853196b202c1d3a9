# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM manifests from models + sizing + a real MIG plan (mig_planner), and the status table."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter.vllm import FilterModule
from ansible_collections.cnai.platform.plugins.module_utils import mig_planner
from ansible_collections.cnai.platform.plugins.module_utils import vllm_manifests as vm

NODES = [
    {'name': 'gpu-h200-0', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8},
    {'name': 'gpu-h200-1', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8},
    {'name': 'gpu-a100-0', 'gpu_product': 'NVIDIA A100-SXM4-80GB', 'gpu_count': 4},
]
PRODUCTS = {'gpu-h200-0': 'NVIDIA-H200', 'gpu-h200-1': 'NVIDIA-H200', 'gpu-a100-0': 'NVIDIA-A100-SXM4-80GB'}

MODELS = [
    {'name': 'qwen-chat', 'model': 'Qwen/Qwen2.5-7B-Instruct-AWQ', 'served_name': 'qwen2.5-7b-instruct',
     'quantization': 'awq', 'dtype': 'float16', 'max_model_len': 8192, 'max_num_seqs': 8,
     'replicas': {'min': 2, 'max': 6}, 'autoscaling': {'waiting_target': 4}},
    {'name': 'qwen-32b', 'model': 'Qwen/Qwen2.5-32B-Instruct', 'quantization': 'fp8', 'max_model_len': 16384,
     'max_num_seqs': 4, 'replicas': {'min': 1, 'max': 2}},
    {'name': 'llama-70b', 'model': 'meta-llama/Llama-3.3-70B-Instruct', 'quantization': 'bf16',
     'dtype': 'bfloat16', 'max_model_len': 32768, 'replicas': {'min': 1, 'max': 2}, 'spot': True},
    {'name': 'bge-m3', 'model': 'BAAI/bge-m3', 'task': 'embed', 'replicas': {'min': 1, 'max': 3}},
]
# What model_sizing returns for them (the fields this renderer reads)
SIZING = [
    {'name': 'qwen-chat', 'weights_gib': 5.2, 'tensor_parallel': 1, 'vllm_quantization': None},
    {'name': 'qwen-32b', 'weights_gib': 30.3, 'tensor_parallel': 1, 'vllm_quantization': 'fp8'},
    {'name': 'llama-70b', 'weights_gib': 131.5, 'tensor_parallel': 2, 'vllm_quantization': None},
    {'name': 'bge-m3', 'weights_gib': 1.1, 'tensor_parallel': 1, 'vllm_quantization': None,
     'embedding_dim': 1024},
]
WORKLOADS = [
    {'name': 'qwen-chat', 'instances': 6, 'memory_gib': 14},
    {'name': 'qwen-32b', 'instances': 2, 'memory_gib': 55},
    {'name': 'llama-70b', 'instances': 2, 'gpus': 2, 'gpu_product': 'NVIDIA H200'},
    {'name': 'bge-m3', 'instances': 3, 'memory_gib': 6},
]
OPTS = {'image': 'vllm/vllm-openai:v0.27.1', 'hub_token_secret': 'hf-token'}


@pytest.fixture(scope='module')
def plan():
    return mig_planner.plan(NODES, WORKLOADS, 'mixed')


@pytest.fixture(scope='module')
def rendered(plan):
    return vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, OPTS)


def _objs(rendered, kind):
    return dict((o['metadata']['name'], o) for o in rendered['resources'] if o['kind'] == kind)


def _arg(args, flag):
    return args[args.index(flag) + 1]


def test_one_deployment_per_model_and_group_with_planned_maxima(rendered, plan):
    deps = _objs(rendered, 'Deployment')
    groups = rendered['deployments']
    assert sorted(deps) == sorted(g['name'] for g in groups)
    for m in MODELS:
        mine = [g for g in groups if g['model'] == m['name']]
        assert sum(g['max'] for g in mine) == m['replicas']['max']
        assert sum(g['min'] for g in mine) == m['replicas']['min']
        planned = [a for a in plan['assignments'] if a['workload'] == m['name']]
        for g in mine:
            on = [a for a in planned if PRODUCTS[a['node']] == g['product'] and a['resource'] == g['resource']]
            assert len(on) == g['max']


def test_resources_and_affinity_follow_the_plan(rendered, plan):
    deps = _objs(rendered, 'Deployment')
    for g in rendered['deployments']:
        spec = deps[g['name']]['spec']['template']['spec']
        res = spec['containers'][0]['resources']
        want = str(g['gpus']) if g['resource'] == vm.GPU else '1'
        assert res['limits'][g['resource']] == want and res['requests'][g['resource']] == want
        terms = spec['affinity']['nodeAffinity']['requiredDuringSchedulingIgnoredDuringExecution']
        expr = terms['nodeSelectorTerms'][0]['matchExpressions'][0]
        assert expr == {'key': 'nvidia.com/gpu.product', 'operator': 'In', 'values': [g['product']]}
        assert deps[g['name']]['spec']['strategy']['rollingUpdate'] == {'maxSurge': 0, 'maxUnavailable': 1}
        # with KEDA the autoscaler owns spec.replicas
        assert 'replicas' not in deps[g['name']]['spec']
    llama = [g for g in rendered['deployments'] if g['model'] == 'llama-70b']
    assert [g['resource'] for g in llama] == [vm.GPU] and llama[0]['gpus'] == 2
    assert llama[0]['product'] == 'NVIDIA-H200'
    assert all(g['resource'].startswith(vm.MIG_PREFIX) for g in rendered['deployments'] if g['model'] != 'llama-70b')


def test_vllm_args(rendered):
    deps = _objs(rendered, 'Deployment')
    chat = deps['qwen-chat'] if 'qwen-chat' in deps else [d for n, d in deps.items() if n.startswith('qwen-chat')][0]
    c = chat['spec']['template']['spec']['containers'][0]
    assert c['command'] == ['vllm', 'serve'] and c['image'] == 'vllm/vllm-openai:v0.27.1'
    a = c['args']
    assert a[0] == 'Qwen/Qwen2.5-7B-Instruct-AWQ'
    assert _arg(a, '--served-model-name') == 'qwen2.5-7b-instruct'
    assert _arg(a, '--max-model-len') == '8192' and _arg(a, '--max-num-seqs') == '8'
    assert _arg(a, '--gpu-memory-utilization') == '0.9' and _arg(a, '--tensor-parallel-size') == '1'
    assert _arg(a, '--dtype') == 'float16'
    assert '--quantization' not in a          # sizing says: auto-detected from the AWQ checkpoint
    assert '--enable-prefix-caching' in a
    llama = [d for n, d in deps.items() if n.startswith('llama-70b')][0]['spec']['template']['spec']
    la = llama['containers'][0]['args']
    assert _arg(la, '--tensor-parallel-size') == '2'
    q32 = [d for n, d in deps.items() if n.startswith('qwen-32b')][0]['spec']['template']['spec']
    assert _arg(q32['containers'][0]['args'], '--quantization') == 'fp8'
    bge = [d for n, d in deps.items() if n.startswith('bge-m3')][0]['spec']['template']['spec']
    ba = bge['containers'][0]['args']
    assert _arg(ba, '--runner') == 'pooling' and _arg(ba, '--convert') == 'embed'
    assert '--enable-prefix-caching' not in ba and '--task' not in ba


def test_pod_security_probes_volumes_and_token(rendered):
    for d in _objs(rendered, 'Deployment').values():
        spec = d['spec']['template']['spec']
        c = spec['containers'][0]
        env = dict((e['name'], e) for e in c['env'])
        assert env['HOME']['value'] == '/cache' and env['USER']['value'] == 'vllm'
        assert env['HF_TOKEN']['valueFrom'] == {'secretKeyRef': {'name': 'hf-token', 'key': 'token'}}
        assert spec['securityContext']['runAsNonRoot'] is True and spec['securityContext']['runAsUser'] == 2000
        for p in ('startupProbe', 'readinessProbe', 'livenessProbe'):
            assert c[p]['httpGet'] == {'path': '/health', 'port': 'http'}
        assert c['startupProbe']['periodSeconds'] * c['startupProbe']['failureThreshold'] >= 1800
        vols = dict((v['name'], v) for v in spec['volumes'])
        assert vols['dshm']['emptyDir']['medium'] == 'Memory'
        model = d['metadata']['labels']['app.kubernetes.io/instance']
        assert vols['cache']['persistentVolumeClaim']['claimName'] == model + '-cache'


def test_no_token_without_secret(plan):
    r = vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {'hub_token_secret': ''})
    for d in _objs(r, 'Deployment').values():
        assert 'HF_TOKEN' not in [e['name'] for e in d['spec']['template']['spec']['containers'][0]['env']]


def test_spot_tolerations_affinity_prestop(rendered):
    for name, d in _objs(rendered, 'Deployment').items():
        spec = d['spec']['template']['spec']
        spot = name.startswith('llama-70b')
        assert ('tolerations' in spec) == spot
        assert ('lifecycle' in spec['containers'][0]) == spot
        pref = spec['affinity']['nodeAffinity'].get('preferredDuringSchedulingIgnoredDuringExecution')
        assert bool(pref) == spot
        if spot:
            assert spec['containers'][0]['lifecycle']['preStop']['exec']['command'][-1] == 'sleep 30'
            assert spec['terminationGracePeriodSeconds'] >= 60


def test_scaled_objects(rendered):
    sos = _objs(rendered, 'ScaledObject')
    for g in rendered['deployments']:
        so = sos[g['name']]['spec']
        assert so['scaleTargetRef']['name'] == g['name']
        assert (so['minReplicaCount'], so['maxReplicaCount']) == (g['min'], g['max'])
        waiting, kv = so['triggers']
        assert waiting['metadata']['query'].startswith('sum(vllm:num_requests_waiting{namespace="ai-inference",')
        assert kv['metadata']['query'].startswith('avg(vllm:kv_cache_usage_perc{')
        assert 'pod=~"%s-[a-z0-9]+-[a-z0-9]+"' % g['name'].replace('-', r'\-') in waiting['metadata']['query'] \
            or 'pod=~"%s-[a-z0-9]+-[a-z0-9]+"' % g['name'] in waiting['metadata']['query']
        assert kv['metricType'] == 'Value' and waiting['metricType'] == 'AverageValue'
        target = '4' if g['model'] == 'qwen-chat' else '5'
        assert waiting['metadata']['threshold'] == target
    for o in rendered['resources']:
        assert 'gpu_cache_usage_perc' not in repr(o) and 'vllm_num_requests' not in repr(o)


def test_per_model_objects(rendered):
    for kind in ('Service', 'PodDisruptionBudget', 'PodMonitor'):
        assert sorted(_objs(rendered, kind)) == sorted(m['name'] for m in MODELS)
    pm = _objs(rendered, 'PodMonitor')['qwen-chat']
    assert pm['metadata']['labels']['release'] == 'kube-prometheus-stack'
    assert pm['spec']['podMetricsEndpoints'][0]['port'] == 'http'
    assert _objs(rendered, 'PodDisruptionBudget')['bge-m3']['spec']['maxUnavailable'] == 1
    pvcs = _objs(rendered, 'PersistentVolumeClaim')
    assert pvcs['llama-70b-cache']['spec']['resources']['requests']['storage'] == '180Gi'
    assert pvcs['bge-m3-cache']['spec']['accessModes'] == ['ReadWriteMany']
    assert all(o['metadata']['namespace'] == 'ai-inference' for o in rendered['resources'])


def test_overlays_patch_namespace_in_queries(rendered):
    ov = rendered['overlays']
    assert sorted(ov) == ['dev', 'production', 'staging']
    assert ov['production']['namespace'] == 'ai-inference' and 'patches' not in ov['production']
    dev = ov['dev']
    assert dev['namespace'] == 'ai-inference-dev'
    assert dev['labels'] == {'cnai.platform/environment': 'dev'}
    assert len(dev['patches']) == len(rendered['deployments'])
    assert all('namespace="ai-inference-dev"' in p['patch'][0]['value'] for p in dev['patches'])


def test_env_cap(plan):
    envs = {'dev': {'namespace': 'x-dev', 'max_replicas': 1}, 'production': {}}
    r = vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {'environments': envs})
    caps = [p for p in r['overlays']['dev']['patches'] if p['patch'][0]['path'] == '/spec/minReplicaCount']
    assert caps and all(p['patch'][1]['value'] == 1 for p in caps)
    assert r['overlays']['production']['namespace'] == 'ai-inference'


def test_hpa_and_none(plan):
    r = vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {'autoscaler': 'hpa'})
    hpas = _objs(r, 'HorizontalPodAutoscaler')
    assert not _objs(r, 'ScaledObject')
    for g in r['deployments']:
        h = hpas[g['name']]['spec']
        assert h['maxReplicas'] == g['max'] and h['minReplicas'] == max(1, g['min'])
        assert h['metrics'][0]['pods']['metric']['name'] == 'vllm_num_requests_waiting'
    r = vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {'autoscaler': 'none', 'podmonitor': False})
    assert not _objs(r, 'HorizontalPodAutoscaler') and not _objs(r, 'PodMonitor')
    for g in r['deployments']:
        assert _objs(r, 'Deployment')[g['name']]['spec']['replicas'] == g['max']


def test_split_across_products():
    # 9 replicas of one profile-size: more than one H200 GPU holds (7 x 1g.18gb), A100 takes the rest
    nodes = [{'name': 'h', 'gpu_product': 'NVIDIA H200', 'gpu_count': 1},
             {'name': 'a', 'gpu_product': 'NVIDIA A100-SXM4-80GB', 'gpu_count': 1}]
    p = mig_planner.plan(nodes, [{'name': 'chat', 'instances': 9, 'memory_gib': 9}], 'mixed')
    models = [{'name': 'chat', 'model': 'org/m', 'replicas': {'min': 3, 'max': 9}}]
    r = vm.render(models, [], p['assignments'], {'h': 'NVIDIA-H200', 'a': 'NVIDIA-A100-SXM4-80GB'})
    groups = r['deployments']
    assert len(groups) == 2
    assert sorted(g['product'] for g in groups) == ['NVIDIA-A100-SXM4-80GB', 'NVIDIA-H200']
    assert all(g['name'].startswith('chat-') for g in groups)
    assert sum(g['max'] for g in groups) == 9 and sum(g['min'] for g in groups) == 3
    names = [g['name'] for g in groups]
    assert any('a100-sxm4-80gb' in n for n in names) and any(n.startswith('chat-h200-') for n in names)


@pytest.mark.parametrize('total,maxima,want', [
    (2, [4, 2], [1, 1]), (3, [6, 3], [2, 1]), (0, [3, 1], [0, 0]), (4, [2, 2], [2, 2]), (1, [1, 1, 1], [1, 0, 0]),
])
def test_split_min(total, maxima, want):
    assert vm.split_min(total, maxima) == want


@pytest.mark.parametrize('change,message', [
    ({'quantization': 'int3'}, 'quantization must be one of'),
    ({'replicas': {'min': 4, 'max': 2}}, 'min (4) is greater than max (2)'),
    ({'task': 'chat'}, 'task must be one of'),
    ({'name': 'Bad_Name'}, 'name must be a DNS label'),
    ({'gpu_memory_utilization': 1.5}, 'gpu_memory_utilization must be in'),
    ({'max_model_len': 'long'}, 'max_model_len must be an integer'),
    ({'model': ''}, 'model must be a hub id'),
    ({'extra_args': '--enforce-eager'}, 'extra_args must be a list'),
])
def test_bad_models(change, message):
    models = copy.deepcopy(MODELS)
    models[0].update(change)
    with pytest.raises(vm.VllmManifestError, match=message.replace('(', r'\(').replace(')', r'\)')):
        vm.normalize_models(models)


def test_duplicate_and_empty():
    with pytest.raises(vm.VllmManifestError, match='used twice'):
        vm.normalize_models([MODELS[0], MODELS[0]])
    with pytest.raises(vm.VllmManifestError, match='non-empty list'):
        vm.normalize_models([])


def test_plan_for_other_workloads_fails(plan):
    short = [a for a in plan['assignments'] if not (a['workload'] == 'qwen-chat' and a['instance'] >= 4)]
    with pytest.raises(vm.VllmManifestError, match=r'places 4 replica\(s\) but replicas.max is 6'):
        vm.render(MODELS, SIZING, short, PRODUCTS)
    with pytest.raises(vm.VllmManifestError, match='no nvidia.com/gpu.product label'):
        vm.render(MODELS, SIZING, plan['assignments'], {'gpu-h200-0': 'NVIDIA-H200'})
    with pytest.raises(vm.VllmManifestError, match='is the GPU layer'):
        vm.render(MODELS, SIZING, plan['assignments'], {})


def test_bad_options(plan):
    with pytest.raises(vm.VllmManifestError, match='vllm_autoscaler'):
        vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {'autoscaler': 'vpa'})
    with pytest.raises(vm.VllmManifestError, match='unknown vLLM render option'):
        vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {'imagee': 'x'})
    with pytest.raises(vm.VllmManifestError, match='vllm_shm_size'):
        vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {'shm_size': 'lots'})


def test_deterministic(plan):
    a = vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, OPTS)
    b = vm.render(copy.deepcopy(MODELS), SIZING, list(reversed(plan['assignments'])), PRODUCTS, OPTS)
    assert a == b


def test_filters_wrap_errors(plan):
    f = FilterModule().filters()
    assert f['vllm_models'](MODELS)[3]['task'] == 'embed'
    with pytest.raises(AnsibleFilterError, match='^vllm: cnai_models'):
        f['vllm_models']([{'name': 'x', 'model': 'm', 'quantization': 'q4'}])
    r = f['vllm_manifests'](MODELS, SIZING, plan['assignments'], PRODUCTS, OPTS)
    assert r['resources']


def test_status_table(rendered):
    deps = [copy.deepcopy(d) for d in rendered['resources'] if d['kind'] == 'Deployment']
    for d in deps:
        d['spec']['replicas'] = 1
        d['status'] = {'readyReplicas': 1}
    first = deps[0]
    pod = {'metadata': {'namespace': 'ai-inference', 'labels': first['spec']['template']['metadata']['labels']},
           'spec': {'nodeName': 'gpu-h200-0'}}
    nodes = [{'metadata': {'name': 'gpu-h200-0', 'labels': {'nvidia.com/gpu.product': 'NVIDIA-H200'}}}]
    sos = [o for o in rendered['resources'] if o['kind'] == 'ScaledObject']
    t = vm.status_table(deps, [pod], nodes, sos)
    row = t['rows'][[r['deployment'] for r in t['rows']].index(first['metadata']['name'])]
    assert row['nodes'] == ['gpu-h200-0'] and row['products'] == ['NVIDIA-H200']
    assert row['bounds'].endswith('(KEDA)') and row['ready'] == 1
    assert t['table'].splitlines()[0].startswith('DEPLOYMENT')
    assert len(t['table'].splitlines()) == len(deps) + 1


def _node(name, product, config=None, state=None, alloc=None):
    labels = {'nvidia.com/gpu.product': product}
    if config:
        labels['nvidia.com/mig.config'] = config
    if state:
        labels['nvidia.com/mig.config.state'] = state
    return {'metadata': {'name': name, 'labels': labels}, 'status': {'allocatable': alloc or {}}}


def test_live_cluster_helpers(rendered):
    nodes = [_node('a', 'NVIDIA-H200', 'c1', 'success', {'nvidia.com/mig-1g.18gb': '7'}),
             _node('b', 'NVIDIA-H200', 'c2', 'pending'), {'metadata': {'name': 'cpu'}}]
    assert vm.node_products(nodes) == {'a': 'NVIDIA-H200', 'b': 'NVIDIA-H200'}
    assert vm.nodes_not_at_plan(nodes, {'a': 'c1', 'b': 'c2', 'z': 'c3'}) == [
        'b: c2/pending, planned c2', 'z: not in the cluster']
    assert vm.nodes_not_at_plan(nodes, {'a': 'c9'}) == ['a: c1/success, planned c9']
    line = vm.group_line(rendered['deployments'][0])
    assert 'replicas' in line and 'NVIDIA-H200' in line


def test_unavailable_and_misplaced(rendered):
    deps = [copy.deepcopy(d) for d in rendered['resources'] if d['kind'] == 'Deployment']
    chat = [d for d in deps if d['metadata']['name'] == 'qwen-chat'][0]
    chat['status'] = {'conditions': [{'type': 'Available', 'status': 'True'}]}
    assert 'qwen-chat' not in vm.unavailable(deps) and len(vm.unavailable(deps)) == len(deps) - 1
    labels = chat['spec']['template']['metadata']['labels']
    nodes = [_node('h', 'NVIDIA-H200', alloc={'nvidia.com/mig-1g.18gb': '7'}),
             _node('a', 'NVIDIA-A100-SXM4-80GB', alloc={'nvidia.com/mig-1g.10gb': '7'}),
             _node('h2', 'NVIDIA-H200', alloc={'nvidia.com/gpu': '8'})]

    def pod(name, node):
        return {'metadata': {'name': name, 'namespace': 'ai-inference', 'labels': labels},
                'spec': {'nodeName': node} if node else {}}
    assert vm.misplaced_pods([pod('ok', 'h')], [chat], nodes) == []
    bad = vm.misplaced_pods([pod('p1', 'a'), pod('p2', None), pod('p3', 'h2')], [chat], nodes)
    assert bad == ['p1: on a (NVIDIA-A100-SXM4-80GB), planned NVIDIA-H200', 'p2: not scheduled',
                   'p3: h2 advertises no nvidia.com/mig-1g.18gb']


def test_sizing_values_win(plan):
    sizing = copy.deepcopy(SIZING)
    sizing[0].update({'max_model_len': 4096, 'max_num_seqs': 16, 'dtype': 'float16', 'kv_cache_dtype': 'fp8'})
    models = copy.deepcopy(MODELS)
    del models[0]['max_model_len']
    r = vm.render(models, sizing, plan['assignments'], PRODUCTS, OPTS)
    a = _objs(r, 'Deployment')['qwen-chat']['spec']['template']['spec']['containers'][0]['args']
    assert _arg(a, '--max-model-len') == '4096' and _arg(a, '--max-num-seqs') == '16'
    assert _arg(a, '--kv-cache-dtype') == 'fp8'


def test_network_policy_per_environment(plan):
    """Issue 9: ingress to vLLM only from the gateway's pods of the same environment and from monitoring."""
    r = vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {'network_policy': True})
    assert not [o for o in r['resources'] if o['kind'] == 'NetworkPolicy']
    for env, gw_ns in (('dev', 'ai-app-dev'), ('staging', 'ai-app-staging'), ('production', 'ai-app')):
        pols = r['overlays'][env]['resources']
        assert [p['kind'] for p in pols] == ['NetworkPolicy']
        spec = pols[0]['spec']
        assert spec['podSelector'] == {'matchLabels': {'app.kubernetes.io/name': 'vllm'}}
        assert spec['policyTypes'] == ['Ingress']
        gateway, monitoring = spec['ingress']
        assert gateway['from'] == [{'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': gw_ns}},
                                    'podSelector': {'matchLabels': {'app.kubernetes.io/name': 'ai-gateway'}}}]
        assert monitoring['from'] == [{'namespaceSelector': {'matchLabels': {
            'kubernetes.io/metadata.name': 'monitoring'}}}]
        assert gateway['ports'] == monitoring['ports'] == [{'port': 8000, 'protocol': 'TCP'}]
    # off by default in the pure renderer (the role turns it on with vllm_network_policy)
    r = vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS, {})
    assert all('resources' not in ov for ov in r['overlays'].values())


def test_network_policy_needs_gateway_namespace_per_environment(plan):
    with pytest.raises(vm.VllmManifestError, match=r'vllm_gateway_environments\.staging\.namespace'):
        vm.render(MODELS, SIZING, plan['assignments'], PRODUCTS,
                  {'network_policy': True, 'gateway_environments': {'dev': {'namespace': 'a'},
                                                                    'production': {'namespace': 'b'}}})
