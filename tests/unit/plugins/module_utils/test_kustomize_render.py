# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pure part of cnai.platform.kustomize_render (no kustomize binary: a fake runner).

The real kustomize is exercised in tests/integration/test_kustomize_render.py."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.cnai.platform.plugins.module_utils import kustomize_render as kr


def deployment(name='api', replicas=None):
    d = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name, 'labels': {'app': name}},
         'spec': {'selector': {'matchLabels': {'app': name}},
                  'template': {'metadata': {'labels': {'app': name}},
                               'spec': {'containers': [{'name': name, 'image': 'example/%s:1' % name}]}}}}
    if replicas is not None:
        d['spec']['replicas'] = replicas
    return d


def service(name='api'):
    return {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': name},
            'spec': {'selector': {'app': name}, 'ports': [{'port': 80, 'targetPort': 8000}]}}


OVERLAYS = {
    'dev': {'namespace': 'demo-dev', 'labels': {'cnai.platform/environment': 'dev'},
            'replicas': [{'name': 'api', 'count': 1}]},
    'production': {'replicas': [{'name': 'api', 'count': 3}],
                   'patches': [{'target': {'kind': 'Deployment', 'name': 'api'},
                                'patch': {'spec': {'template': {'spec': {'containers': [
                                    {'name': 'api', 'resources': {'limits': {'memory': '1Gi'}}}]}}}}},
                               {'target': {'kind': 'Service', 'name': 'api'},
                                'patch': [{'op': 'replace', 'path': '/spec/ports/0/port', 'value': 8080}]}]},
}


def tree():
    return kr.render_tree([deployment(), service()], namespace='demo',
                          overlays=OVERLAYS, labels={'app.kubernetes.io/part-of': 'cnai-platform'})


class FakeProc(object):
    def __init__(self, rc, out='', err=''):
        self.returncode, self.stdout, self.stderr = rc, out, err


# ------------------------------------------------------------------------------------------------ YAML
def test_to_yaml_is_deterministic_and_ordered():
    a = {'spec': {'b': 1, 'a': [{'z': 1, 'name': 'x'}]}, 'metadata': {'name': 'n'}, 'kind': 'K', 'apiVersion': 'v1'}
    b = dict(reversed(list(a.items())))
    text = kr.to_yaml(a)
    assert text == kr.to_yaml(b)
    assert text.splitlines()[:4] == ['apiVersion: v1', 'kind: K', 'metadata:', '  name: n']
    # lists indented under their key, list item mappings with name first
    assert '  a:\n    - name: x\n      z: 1\n' in text
    assert yaml.safe_load(text) == a


def test_to_yaml_keeps_types_and_blocks_multiline_strings():
    data = {'a': 'true', 'b': '1.0', 'c': True, 'd': 'on', 'e': 'line1\nline2\n', 'f': None, 'g': '0x10'}
    text = kr.to_yaml(data)
    assert yaml.safe_load(text) == data
    assert 'e: |\n  line1\n  line2\n' in text


def test_normalize_rejects_other_types():
    with pytest.raises(kr.RenderError, match=r'resources\.x: unsupported type set'):
        kr.normalize({'x': {1}}, 'resources')


# ------------------------------------------------------------------------------------------------ tree
def test_file_names_are_stable_and_safe():
    assert kr.object_filename(deployment('Qwen-7b')) == 'deployment-qwen-7b.yaml'
    role = {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'system:foo'}}
    assert kr.object_filename(role) == 'clusterrole-system_foo.yaml'


def test_render_tree_base():
    files = tree()
    assert sorted(files) == ['base/deployment-api.yaml', 'base/kustomization.yaml', 'base/service-api.yaml',
                             'overlays/dev/kustomization.yaml', 'overlays/production/kustomization.yaml']
    base = yaml.safe_load(files['base/kustomization.yaml'])
    assert base == {
        'apiVersion': 'kustomize.config.k8s.io/v1beta1', 'kind': 'Kustomization', 'namespace': 'demo',
        'labels': [{'pairs': {'app.kubernetes.io/part-of': 'cnai-platform'}, 'includeSelectors': False,
                    'includeTemplates': True}],
        'resources': ['deployment-api.yaml', 'service-api.yaml']}
    assert yaml.safe_load(files['base/deployment-api.yaml']) == deployment()
    assert 'commonLabels' not in files['base/kustomization.yaml']


def test_render_tree_overlays():
    files = tree()
    dev = yaml.safe_load(files['overlays/dev/kustomization.yaml'])
    assert dev == {
        'apiVersion': 'kustomize.config.k8s.io/v1beta1', 'kind': 'Kustomization', 'namespace': 'demo-dev',
        'resources': ['../../base'],
        'labels': [{'pairs': {'cnai.platform/environment': 'dev'}, 'includeSelectors': False, 'includeTemplates': True}],
        'replicas': [{'name': 'api', 'count': 1}]}
    prod = yaml.safe_load(files['overlays/production/kustomization.yaml'])
    assert 'namespace' not in prod and 'labels' not in prod
    assert prod['replicas'] == [{'name': 'api', 'count': 3}]
    smp, json6902 = prod['patches']
    assert smp['target'] == {'kind': 'Deployment', 'name': 'api'}
    # the strategic merge patch is completed from the target so kustomize can parse it
    assert yaml.safe_load(smp['patch']) == {
        'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'api'},
        'spec': {'template': {'spec': {'containers': [{'name': 'api', 'resources': {'limits': {'memory': '1Gi'}}}]}}}}
    assert yaml.safe_load(json6902['patch']) == [{'op': 'replace', 'path': '/spec/ports/0/port', 'value': 8080}]
    for text in (files['overlays/dev/kustomization.yaml'], files['overlays/production/kustomization.yaml']):
        for deprecated in ('commonLabels', 'patchesStrategicMerge', 'patchesJson6902', 'bases:'):
            assert deprecated not in text


def test_render_tree_overlay_only_resources_and_images():
    pdb = {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': {'name': 'api'},
           'spec': {'minAvailable': 1, 'selector': {'matchLabels': {'app': 'api'}}}}
    files = kr.render_tree([deployment()], overlays={'production': {
        'resources': [pdb], 'images': [{'name': 'example/api', 'newTag': '2'}],
        'annotations': {'team': 'ml'}}})
    prod = yaml.safe_load(files['overlays/production/kustomization.yaml'])
    assert prod['resources'] == ['../../base', 'poddisruptionbudget-api.yaml']
    assert prod['images'] == [{'name': 'example/api', 'newTag': '2'}]
    assert prod['commonAnnotations'] == {'team': 'ml'}
    assert yaml.safe_load(files['overlays/production/poddisruptionbudget-api.yaml']) == pdb


@pytest.mark.parametrize('kwargs, message', [
    (dict(resources=[]), r'resources: give at least one manifest'),
    (dict(resources=[{'kind': 'Service', 'metadata': {'name': 'x'}}]), r'resources\[0\]: manifest lacks apiVersion'),
    (dict(resources=[service(), service()]), r'resources\[1\] \(Service api\) and resources\[0\] would both be written'),
    (dict(namespace='Bad_NS'), r"namespace: 'Bad_NS' is not a valid namespace"),
    (dict(labels={'tier': 1}), r'labels: label tier must be a string'),
    (dict(overlays={'Dev': {}}), r"environment name 'Dev' must be a DNS label"),
    (dict(overlays={'dev': {'commonLabels': {}}}), r'overlays.dev: unknown keys commonLabels'),
    (dict(overlays={'dev': {'replicas': [{'name': 'nope', 'count': 1}]}}),
     r'overlays.dev.replicas\[0\]: no Deployment/StatefulSet/ReplicaSet/ReplicationController named nope'),
    (dict(overlays={'dev': {'replicas': [{'name': 'api', 'count': -1}]}}), r'count must be an integer >= 0'),
    (dict(overlays={'dev': {'patches': [{'target': {'kind': 'Deployment', 'name': 'other'}, 'patch': {}}]}}),
     r'overlays.dev.patches\[0\]: target .* matches no resource'),
    (dict(overlays={'dev': {'patches': [{'patch': {}}]}}), r'overlays.dev.patches\[0\]: target is required'),
    (dict(overlays={'dev': {'patches': [{'target': {'kind': 'Service', 'name': 'api'}, 'patch': [{'value': 1}]}]}}),
     r'JSON 6902 patch operation 0 needs op and path'),
    (dict(overlays={'dev': {'patches': [{'target': {'kind': 'Service', 'nam': 'api'}, 'patch': {}}]}}),
     r'unknown target keys nam'),
    (dict(overlays={'dev': {'resources': [service()]}}), r'Service api is already in the base'),
])
def test_render_tree_rejects_bad_input(kwargs, message):
    args = dict(resources=[deployment(), service()], namespace='demo', overlays={}, labels={})
    args.update(kwargs)
    with pytest.raises(kr.RenderError, match=message):
        kr.render_tree(**args)


def test_selector_target_needs_no_match():
    files = kr.render_tree([deployment()], overlays={'dev': {'patches': [
        {'target': {'kind': 'Deployment', 'labelSelector': 'app=api'}, 'patch': {'metadata': {'annotations': {'a': 'b'}}}}]}})
    patch = yaml.safe_load(yaml.safe_load(files['overlays/dev/kustomization.yaml'])['patches'][0]['patch'])
    assert patch['kind'] == 'Deployment' and patch['apiVersion'] == 'apps/v1'


# ------------------------------------------------------------------------------------------------ disk
def test_sync_create_then_idempotent(tmp_path):
    root = str(tmp_path / 'comp')
    files = tree()
    plan = kr.plan_sync(root, files)
    assert plan['create'] == sorted(files) and kr.changed(plan)
    kr.apply_sync(root, files, plan)
    manifest = json.loads((tmp_path / 'comp' / kr.MANIFEST).read_text())
    assert manifest == {'owner': kr.MANIFEST_OWNER, 'files': sorted(files)}
    again = kr.plan_sync(root, tree())
    assert not kr.changed(again)
    assert again['unchanged'] == sorted(files)


def test_sync_changes_removes_and_keeps_foreign_files(tmp_path):
    root = str(tmp_path)
    files = tree()
    kr.apply_sync(root, files, kr.plan_sync(root, files))
    (tmp_path / 'base' / 'notes.txt').write_text('mine')           # a file the module did not write
    (tmp_path / 'README.md').write_text('mine too')
    fewer = kr.render_tree([deployment()], namespace='demo', overlays={'dev': {'replicas': [{'name': 'api', 'count': 2}]}})
    plan = kr.plan_sync(root, fewer)
    assert plan['change'] == ['base/kustomization.yaml', 'overlays/dev/kustomization.yaml']
    assert plan['remove'] == ['base/service-api.yaml', 'overlays/production/kustomization.yaml']
    assert [d['after_header'] for d in kr.diffs(root, fewer, plan)][-1].endswith('(removed)')
    kr.apply_sync(root, fewer, plan)
    assert not (tmp_path / 'base' / 'service-api.yaml').exists()
    assert not (tmp_path / 'overlays' / 'production').exists()       # emptied overlay dir removed
    assert (tmp_path / 'base' / 'notes.txt').read_text() == 'mine'
    assert (tmp_path / 'README.md').read_text() == 'mine too'
    assert not kr.changed(kr.plan_sync(root, fewer))


def test_sync_refuses_to_overwrite_a_foreign_file(tmp_path):
    (tmp_path / 'base').mkdir()
    (tmp_path / 'base' / 'service-api.yaml').write_text('hand-written\n')
    with pytest.raises(kr.RenderError, match=r'refusing to overwrite files .* base/service-api.yaml'):
        kr.plan_sync(str(tmp_path), tree())
    assert (tmp_path / 'base' / 'service-api.yaml').read_text() == 'hand-written\n'


def test_sync_adopts_identical_file(tmp_path):
    files = tree()
    (tmp_path / 'base').mkdir()
    (tmp_path / 'base' / 'service-api.yaml').write_text(files['base/service-api.yaml'])
    plan = kr.plan_sync(str(tmp_path), files)
    assert 'base/service-api.yaml' in plan['unchanged']


def test_manifest_that_is_not_ours(tmp_path):
    (tmp_path / kr.MANIFEST).write_text('{"files": ["../../etc/passwd"]}')
    with pytest.raises(kr.RenderError, match='is not an ownership manifest'):
        kr.plan_sync(str(tmp_path), tree())


def test_manifest_paths_outside_the_tree_are_ignored(tmp_path):
    (tmp_path / 'victim').write_text('x')
    (tmp_path / kr.MANIFEST).write_text(json.dumps({'owner': kr.MANIFEST_OWNER,
                                                    'files': ['../victim', '/etc/hosts', 'victim', 'base/x.yaml']}))
    assert kr.read_manifest(str(tmp_path)) == ['base/x.yaml']


# ------------------------------------------------------------------------------------------------ kustomize
def test_render_check_mode_writes_nothing(tmp_path):
    root = str(tmp_path / 'c')
    res = kr.render(root, [deployment()], overlays={'dev': {}}, validate=False, check_mode=True)
    assert res['changed'] and res['files']['changed'] == sorted(res['files']['written'])
    assert not os.path.exists(root)
    assert res['overlays'] == {'dev': os.path.join(root, 'overlays', 'dev')}


def test_render_fails_on_rejected_overlay_and_writes_nothing(tmp_path):
    calls = []

    def runner(cmd, **kw):
        calls.append(cmd)
        assert kw['timeout'] == 7
        if cmd[2].endswith('/overlays/production'):
            return FakeProc(1, err='Error: replace operation does not apply: doc is missing path')
        return FakeProc(0, out='apiVersion: v1\nkind: Service\nmetadata: {name: api}\n')

    fake = tmp_path / 'kustomize'
    fake.write_text('#!/bin/sh\n')
    fake.chmod(0o755)
    root = str(tmp_path / 'c')
    with pytest.raises(kr.RenderError, match=r'overlay production: kustomize build overlays/production failed '
                                             r'\(rc=1\): Error: replace operation does not apply'):
        kr.render(root, [deployment(), service()], overlays=OVERLAYS, binary=str(fake), timeout=7, runner=runner)
    assert [c[1] for c in calls] == ['build', 'build']
    assert not os.path.exists(root)


def test_kustomize_build_timeout_and_missing_binary(tmp_path):
    def slow(cmd, **kw):
        raise subprocess.TimeoutExpired(cmd, kw['timeout'])
    with pytest.raises(kr.RenderError, match=r'did not finish within 3 s'):
        kr.kustomize_build('/bin/true', str(tmp_path), 3, slow)
    with pytest.raises(kr.RenderError, match=r"cnai_kustomize_binary \(module option kustomize_binary\): '/nope/kustomize' is not an executable"):
        kr.resolve_binary('/nope/kustomize')
    with pytest.raises(kr.RenderError, match='cnai_kustomize_binary'):
        kr.resolve_binary('no-such-kustomize-on-path')


def test_render_requires_absolute_path():
    with pytest.raises(kr.RenderError, match='must be an absolute directory path'):
        kr.render('relative/dir', [deployment()], validate=False)


def test_summarize():
    objs = [{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'extra'}},
            {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'api', 'namespace': 'demo'}},
            {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'api', 'namespace': 'demo'}},
            {'apiVersion': 'apps/v1', 'kind': 'StatefulSet', 'metadata': {'name': 'db', 'namespace': 'data'}},
            {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'r'}}]
    s = kr.summarize(objs)
    assert s['namespaces'] == ['data', 'demo', 'extra']
    assert [w['name'] for w in s['workloads']] == ['api', 'db']
    assert s['namespace_objects'] == [objs[0]] + [
        {'apiVersion': 'v1', 'kind': 'Namespace',
         'metadata': {'name': n, 'labels': {'app.kubernetes.io/managed-by': 'cnai.platform'}}} for n in ('data', 'demo')]
    assert s['resource_objects'] == objs[1:]
    assert s['refs'][4] == {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'name': 'r',
                            'namespace': None}
