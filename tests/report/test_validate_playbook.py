# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/validate.yml on the local testbed: the run report's content, then an unhealthy model -> non-zero exit.

Needs the testbed running (``make up``, or ``make report-validate`` which starts it). The GPU and services layers
are rolled out first (gpu.yml, services.yml: idempotent, so a testbed that has them only re-checks), except after
``make e2e`` (``make report-validate-e2e``, the way ``make test`` runs it), where site.yml has just deployed them. What the
simulation cannot show: KWOK marks scheduled pods Ready, so "ready" here proves scheduling on the planned GPU
resources, not that vLLM answers; no operator reconciles the stores or Argo CD, so those layers read "not deployed"
(their healthy/unhealthy logic is unit-tested). The monitoring layer is checked for real when operations.yml has run
on the testbed (the CRDs of kube-prometheus-stack, the vLLM PodMonitors, the PrometheusRules), else "not deployed".
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
KUBECONFIG = os.path.join(ROOT, '.cache', 'testbed', 'kubeconfig')
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
NAMESPACE = 'ai-inference-dev'

pytestmark = pytest.mark.testbed


def playbook(name, *extra, **kw):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    return subprocess.run([PLAYBOOK, os.path.join(ROOT, 'playbooks', name)] + list(extra), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=kw.get('timeout', 900), check=False)


def inventory_models():
    with open(os.path.join(ROOT, 'inventories', 'local', 'group_vars', 'all.yml')) as f:
        return yaml.safe_load(f)['cnai_models']


@pytest.fixture(scope='module')
def apps():
    if not os.path.exists(KUBECONFIG):
        pytest.fail('no testbed: run `make up` (with your TESTBED_*_PORT) first; %s is missing' % KUBECONFIG)
    from kubernetes import client, config
    api = config.new_client_from_config(config_file=KUBECONFIG)
    return client.AppsV1Api(api), client.CoreV1Api(api)


@pytest.fixture(scope='module')
def deployed(apps):
    # After `make e2e` (REPORT_VALIDATE_AFTER_E2E=1, how `make test` runs it) site.yml has just deployed every
    # layer on this testbed: nothing to roll out again.
    if os.environ.get('REPORT_VALIDATE_AFTER_E2E') == '1':
        assert apps[0].list_namespaced_deployment(NAMESPACE).items, 'REPORT_VALIDATE_AFTER_E2E=1 but no model in ' + NAMESPACE
        return apps
    # services.yml now ends with the AI gateway, whose wiring check needs the OpenTelemetry collector of
    # operations.yml; this test does not install the monitoring stack, so the gateway sends no OTLP here.
    for name, extra in (('gpu.yml', ()), ('services.yml', ('-e', 'ai_gateway_otlp_enabled=false'))):
        r = playbook(name, *extra)
        assert r.returncode == 0, '%s failed:\n%s' % (name, r.stdout[-4000:])
    return apps


def crd_served(name):
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    ext = client.ApiextensionsV1Api(config.new_client_from_config(config_file=KUBECONFIG))
    try:
        ext.read_custom_resource_definition(name)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def run_validate():
    out = tempfile.mkdtemp(prefix='validate-')
    t0 = time.monotonic()
    r = playbook('validate.yml', '-e', 'cnai_validate_dir=%s' % out)
    return r, out, time.monotonic() - t0


def test_report_of_a_healthy_platform(deployed):
    apps, core = deployed
    r, out, took = run_validate()
    assert r.returncode == 0, r.stdout[-4000:]
    with open(os.path.join(out, 'report.json')) as f:
        report = json.load(f)
    with open(os.path.join(out, 'report.yaml')) as f:
        assert yaml.safe_load(f) == report
    assert report['healthy'] is True and report['problems'] == []
    # The monitoring layer is there when operations.yml has run on this testbed (site.yml order), else absent.
    monitoring = crd_served('podmonitors.monitoring.coreos.com')
    # services.yml deploys Milvus and Elasticsearch (ECK's status played by the testbed's simulator).
    assert report['summary'] == {'nodes': 'healthy', 'mig': 'healthy', 'models': 'healthy',
                                 'stores': 'healthy', 'monitors': 'healthy' if monitoring else 'not deployed',
                                 'argocd': 'not deployed'}
    if monitoring:
        pods = set((i['namespace'], i['name']) for i in report['layers']['monitors']['items'] if i['kind'] == 'PodMonitor')
        assert set((NAMESPACE, m['name']) for m in inventory_models()) <= pods
        assert report['layers']['monitors']['counts']['PrometheusRule'] >= 1
    # Nodes: the testbed's five, the three GPU hosts with their products and counts.
    nodes = dict((n['name'], n) for n in report['layers']['nodes']['items'])
    assert sorted(nodes) == ['cpu-0', 'cpu-1', 'gpu-a100-0', 'gpu-h200-0', 'gpu-h200-1']
    assert all(n['ready'] for n in nodes.values())
    assert (nodes['gpu-h200-0']['gpu_product'], nodes['gpu-h200-0']['gpu_count']) == ('NVIDIA-H200', '8')
    assert (nodes['gpu-a100-0']['gpu_product'], nodes['gpu-a100-0']['gpu_count']) == ('NVIDIA-A100-SXM4-80GB', '4')
    # MIG: what the report says is what the Nodes carry.
    for item in report['layers']['mig']['items']:
        labels = core.read_node(item['node']).metadata.labels
        assert item['config'] == labels.get('nvidia.com/mig.config') == item['planned'], item
        assert item['state'] == labels.get('nvidia.com/mig.config.state') == 'success', item
    assert any(i['config'] != 'all-disabled' for i in report['layers']['mig']['items'])
    # Models: every model of the inventory, ready = desired = the live Deployments, autoscaler bounds = replicas.
    models = dict((m['model'], m) for m in report['layers']['models']['items'])
    for m in inventory_models():
        item = models[m['name']]
        assert item['deployments'], m['name']
        for d in item['deployments']:
            live = apps.read_namespaced_deployment(d['name'], d['namespace'])
            assert (d['desired'], d['ready']) == (live.spec.replicas, live.status.ready_replicas or 0)
            assert d['autoscaler']['max'] <= m['replicas']['max'] and d['autoscaler']['kind'] == 'KEDA'
        assert item['ready'] == item['desired'] >= 1
    print('validate.yml (healthy) took %.1f s' % took)


def test_a_model_that_cannot_be_scheduled_fails_the_run_by_name(deployed):
    apps, _core = deployed
    name = 'qwen-32b'
    before = apps.read_namespaced_deployment(name, NAMESPACE).spec.replicas
    # Ten replicas of a model whose MIG profile (3g.71gb) has two devices planned: eight pods stay Pending.
    apps.patch_namespaced_deployment_scale(name, NAMESPACE, {'spec': {'replicas': 10}})
    try:
        r, out, took = run_validate()
        assert r.returncode != 0
        assert 'Not healthy' in r.stdout and 'models: qwen-32b %s/qwen-32b: ' % NAMESPACE in r.stdout, r.stdout[-3000:]
        with open(os.path.join(out, 'report.json')) as f:
            report = json.load(f)
        assert report['healthy'] is False and report['summary']['models'] == 'unhealthy'
        assert report['summary']['nodes'] == report['summary']['mig'] == 'healthy'
        bad = [p for p in report['problems'] if 'qwen-32b' in p]
        assert len(bad) == 1 and bad[0].endswith('/10 ready'), report['problems']
        print('validate.yml (unhealthy) took %.1f s' % took)
    finally:
        apps.patch_namespaced_deployment_scale(name, NAMESPACE, {'spec': {'replicas': before}})
