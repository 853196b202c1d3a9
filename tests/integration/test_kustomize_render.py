# -*- coding: utf-8 -*-
"""cnai.platform.kustomize_render against the real kustomize (tools/testbed/versions.env KUSTOMIZE_VERSION,
built by `make kustomize`). No cluster needed: run with `make render-integration`.

KUSTOMIZE_BINARY overrides the binary; the test fails (not skips) when it is missing, so a broken build
cannot pass unnoticed."""
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, '.cache', 'collections'))
from ansible_collections.cnai.platform.plugins.module_utils import kustomize_render as kr  # noqa: E402


def _binary():
    env = os.environ.get('KUSTOMIZE_BINARY')
    if env:
        return env
    with open(os.path.join(ROOT, 'tools', 'testbed', 'versions.env')) as f:
        version = [ln.split('=', 1)[1].strip() for ln in f if ln.startswith('KUSTOMIZE_VERSION=')][0]
    return os.path.join(ROOT, '.cache', 'testbed', 'bin', 'kustomize-' + version, 'kustomize')


KUSTOMIZE = _binary()


def component():
    api = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'api', 'labels': {'app': 'api'}},
           'spec': {'replicas': 2, 'selector': {'matchLabels': {'app': 'api'}},
                    'template': {'metadata': {'labels': {'app': 'api'}},
                                 'spec': {'containers': [{'name': 'api', 'image': 'example/api:1',
                                                          'resources': {'limits': {'cpu': '1'}}}]}}}}
    svc = {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'api'},
           'spec': {'selector': {'app': 'api'}, 'ports': [{'name': 'http', 'port': 80, 'targetPort': 8000}]}}
    so = {'apiVersion': 'keda.sh/v1alpha1', 'kind': 'ScaledObject', 'metadata': {'name': 'api'},
          'spec': {'scaleTargetRef': {'name': 'api'}, 'minReplicaCount': 1, 'maxReplicaCount': 4,
                   'triggers': [{'type': 'prometheus', 'metadata': {
                       'serverAddress': 'http://prometheus:9090', 'threshold': '5',
                       'query': 'sum(vllm:num_requests_waiting{model_name="api"})'}}]}}
    return [api, svc, so]


OVERLAYS = {
    'dev': {'namespace': 'demo-dev', 'labels': {'cnai.platform/environment': 'dev'},
            'replicas': [{'name': 'api', 'count': 1}]},
    'staging': {'namespace': 'demo-staging',
                'patches': [{'target': {'kind': 'ScaledObject', 'name': 'api'},
                             'patch': {'spec': {'maxReplicaCount': 6}}}]},
    'production': {'replicas': [{'name': 'api', 'count': 3}],
                   'images': [{'name': 'example/api', 'newTag': '2'}],
                   'patches': [{'target': {'kind': 'Deployment', 'name': 'api'},
                                'patch': {'spec': {'template': {'spec': {'containers': [
                                    {'name': 'api', 'resources': {'limits': {'memory': '8Gi'}}}]}}}}},
                               {'target': {'kind': 'Service', 'name': 'api'},
                                'patch': [{'op': 'replace', 'path': '/spec/ports/0/port', 'value': 8080}]}]},
}


def by_kind(objects):
    return dict((o['kind'], o) for o in objects)


@pytest.fixture(scope='module')
def binary():
    assert os.access(KUSTOMIZE, os.X_OK), 'kustomize not built: run `make kustomize` (%s)' % KUSTOMIZE
    return KUSTOMIZE


def test_version_is_the_pinned_one(binary):
    out = subprocess.run([binary, 'version'], stdout=subprocess.PIPE, universal_newlines=True, timeout=30,
                         check=True).stdout
    assert os.path.basename(os.path.dirname(binary)).split('-', 1)[1] in out


def test_render_validate_build_and_idempotence(tmp_path, binary):
    root = str(tmp_path / 'echo')
    res = kr.render(root, component(), namespace='demo', overlays=OVERLAYS,
                    labels={'app.kubernetes.io/part-of': 'cnai-platform'}, binary=binary, timeout=30)
    assert res['changed'] and res['validated']
    assert sorted(res['overlays']) == ['dev', 'production', 'staging']

    dev = by_kind(kr.kustomize_build(binary, res['overlays']['dev'], 30))
    d = dev['Deployment']
    assert d['metadata']['namespace'] == 'demo-dev'
    assert d['spec']['replicas'] == 1
    assert d['metadata']['labels'] == {'app': 'api', 'app.kubernetes.io/part-of': 'cnai-platform',
                                       'cnai.platform/environment': 'dev'}
    # labels reach pod templates but never selectors (immutable on a live Deployment)
    assert d['spec']['template']['metadata']['labels']['cnai.platform/environment'] == 'dev'
    assert d['spec']['selector'] == {'matchLabels': {'app': 'api'}}
    assert dev['Service']['spec']['selector'] == {'app': 'api'}
    assert dev['ScaledObject']['metadata']['namespace'] == 'demo-dev'

    staging = by_kind(kr.kustomize_build(binary, res['overlays']['staging'], 30))
    assert staging['ScaledObject']['spec']['maxReplicaCount'] == 6
    assert staging['ScaledObject']['spec']['minReplicaCount'] == 1
    assert staging['Deployment']['spec']['replicas'] == 2

    prod = by_kind(kr.kustomize_build(binary, res['overlays']['production'], 30))
    c = prod['Deployment']['spec']['template']['spec']['containers'][0]
    assert prod['Deployment']['metadata']['namespace'] == 'demo'
    assert prod['Deployment']['spec']['replicas'] == 3
    assert c['image'] == 'example/api:2'
    assert c['resources']['limits'] == {'cpu': '1', 'memory': '8Gi'}     # strategic merge kept cpu
    assert prod['Service']['spec']['ports'][0]['port'] == 8080

    again = kr.render(root, component(), namespace='demo', overlays=OVERLAYS,
                      labels={'app.kubernetes.io/part-of': 'cnai-platform'}, binary=binary, timeout=30)
    assert not again['changed'] and again['files']['changed'] == [] and again['files']['removed'] == []


def test_overlay_kustomize_rejects_changes_nothing(tmp_path, binary):
    root = str(tmp_path / 'echo')
    kr.render(root, component(), namespace='demo', overlays={'dev': OVERLAYS['dev']}, binary=binary, timeout=30)
    before = dict((p, open(os.path.join(root, p)).read()) for p in kr.read_manifest(root))
    bad = dict(OVERLAYS)
    bad['staging'] = {'patches': [{'target': {'kind': 'Service', 'name': 'api'},
                                   'patch': [{'op': 'replace', 'path': '/spec/nothere/port', 'value': 1}]}]}
    with pytest.raises(kr.RenderError) as err:
        kr.render(root, component(), namespace='demo', overlays=bad, binary=binary, timeout=30)
    msg = str(err.value)
    assert msg.startswith('overlay staging: kustomize build overlays/staging failed')
    assert 'nothere' in msg or 'missing path' in msg, msg
    after = dict((p, open(os.path.join(root, p)).read()) for p in kr.read_manifest(root))
    assert after == before
    assert not os.path.exists(os.path.join(root, 'overlays', 'staging'))


def test_removed_overlay_and_object_are_cleaned_up(tmp_path, binary):
    root = str(tmp_path / 'echo')
    kr.render(root, component(), namespace='demo', overlays=OVERLAYS, binary=binary, timeout=30)
    res = kr.render(root, component()[:2], namespace='demo', overlays={'dev': OVERLAYS['dev']},
                    binary=binary, timeout=30)
    assert res['files']['removed'] == ['base/scaledobject-api.yaml', 'overlays/production/kustomization.yaml',
                                       'overlays/staging/kustomization.yaml']
    assert sorted(os.listdir(os.path.join(root, 'overlays'))) == ['dev']
    kinds = [o['kind'] for o in kr.kustomize_build(binary, res['overlays']['dev'], 30)]
    assert sorted(kinds) == ['Deployment', 'Service']
    with open(os.path.join(root, 'base', 'kustomization.yaml')) as f:
        assert yaml.safe_load(f)['resources'] == ['deployment-api.yaml', 'service-api.yaml']
