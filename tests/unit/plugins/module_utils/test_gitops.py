# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of cnai.platform module_utils/gitops.py (allow-lists, ignoreDifferences, Argo CD objects) and
module_utils/git_repo.py (commit/push against real local repositories with the git CLI)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import gitops as g
from ansible_collections.cnai.platform.plugins.module_utils import git_repo as gr


def dep(name, ns='ai-inference-dev'):
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name, 'namespace': ns}, 'spec': {}}


def scaled(name, target, ns='ai-inference-dev', kind='ScaledObject'):
    api = 'keda.sh/v1alpha1' if kind == 'ScaledObject' else 'autoscaling/v2'
    ref = {'name': target} if kind == 'ScaledObject' else {'apiVersion': 'apps/v1', 'kind': 'Deployment',
                                                           'name': target}
    return {'apiVersion': api, 'kind': kind, 'metadata': {'name': name, 'namespace': ns},
            'spec': {'scaleTargetRef': ref}}


TREE = [
    dep('a'), dep('b'), scaled('a', 'a'), scaled('b', 'b', kind='HorizontalPodAutoscaler'),
    {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'a', 'namespace': 'ai-inference-dev'}},
    {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': {'name': 'a', 'namespace': 'x'}},
]


def test_allowlists_are_exactly_the_kinds_of_the_tree():
    got = g.resource_allowlists(TREE)
    assert got['cluster'] == [{'group': '', 'kind': 'Namespace'}]
    assert got['namespaced'] == [
        {'group': '', 'kind': 'Service'}, {'group': 'apps', 'kind': 'Deployment'},
        {'group': 'autoscaling', 'kind': 'HorizontalPodAutoscaler'}, {'group': 'keda.sh', 'kind': 'ScaledObject'},
        {'group': 'policy', 'kind': 'PodDisruptionBudget'}]
    assert g.resource_allowlists(TREE, create_namespace=False)['cluster'] == []


def test_allowlist_grows_with_cluster_kinds_and_follows_crd_scope():
    crd = {'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition', 'metadata': {'name': 'x'},
           'spec': {'group': 'ex.io', 'scope': 'Cluster', 'names': {'kind': 'Thing'}}}
    ns_crd = {'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition', 'metadata': {'name': 'y'},
              'spec': {'group': 'ex.io', 'scope': 'Namespaced', 'names': {'kind': 'Local'}}}
    objs = TREE + [crd, ns_crd, {'apiVersion': 'ex.io/v1', 'kind': 'Thing', 'metadata': {'name': 't'}},
                   {'apiVersion': 'ex.io/v1', 'kind': 'Local', 'metadata': {'name': 'l'}},
                   {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'r'}}]
    got = g.resource_allowlists(objs)
    assert got['cluster'] == [{'group': '', 'kind': 'Namespace'},
                              {'group': 'apiextensions.k8s.io', 'kind': 'CustomResourceDefinition'},
                              {'group': 'ex.io', 'kind': 'Thing'},
                              {'group': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole'}]
    assert {'group': 'ex.io', 'kind': 'Local'} in got['namespaced']


def test_allowlist_rejects_an_object_without_kind():
    with pytest.raises(g.GitOpsError, match='apiVersion/kind'):
        g.resource_allowlists([{'metadata': {'name': 'x'}}])


def test_ignore_differences_cover_every_autoscaled_workload_and_nothing_else():
    got = g.ignore_differences(TREE)
    assert got == [{'group': 'apps', 'kind': 'Deployment', 'name': 'a', 'namespace': 'ai-inference-dev',
                    'jsonPointers': ['/spec/replicas']},
                   {'group': 'apps', 'kind': 'Deployment', 'name': 'b', 'namespace': 'ai-inference-dev',
                    'jsonPointers': ['/spec/replicas']}]
    assert g.ignore_differences([dep('a')]) == []
    with pytest.raises(g.GitOpsError, match='scaleTargetRef'):
        g.ignore_differences([{'apiVersion': 'keda.sh/v1alpha1', 'kind': 'ScaledObject', 'metadata': {'name': 'x'},
                               'spec': {}}])


def test_chart_manifests_read_a_plain_equals_sign_as_a_string():
    # kube-prometheus-stack's AlertmanagerConfig CRD has matchType enum "- =" (YAML 1.1 value tag).
    import yaml
    docs = list(yaml.load_all('kind: X\nenum:\n- =\n- "!="\n- =~\n', Loader=g._ManifestLoader))
    assert docs == [{'kind': 'X', 'enum': ['=', '!=', '=~']}]


def test_kustomize_application_shape():
    pol = g.sync_policy()
    app = g.kustomize_application('vllm', 'dev', TREE[:5], 'file:///r.git', 'main', 'argocd', 'cnai-platform', pol)
    assert app['metadata']['name'] == 'vllm-dev'
    assert app['spec']['source'] == {'repoURL': 'file:///r.git', 'targetRevision': 'main',
                                     'path': 'vllm/overlays/dev'}
    assert app['spec']['destination'] == {'server': g.IN_CLUSTER, 'namespace': 'ai-inference-dev'}
    sp = app['spec']['syncPolicy']
    assert sp['automated'] == {'prune': True, 'selfHeal': True}
    assert 'ServerSideApply=true' in sp['syncOptions'] and 'RespectIgnoreDifferences=true' in sp['syncOptions']
    assert sp['retry']['limit'] == 5
    assert len(app['spec']['ignoreDifferences']) == 2
    with pytest.raises(g.GitOpsError, match='several namespaces'):
        g.kustomize_application('vllm', 'dev', TREE, 'r', 'main', 'argocd', 'p', pol)


def test_helm_application_from_repo_and_from_git():
    rec = {'name': 'keda', 'namespace': 'keda', 'chart': 'keda', 'chart_version': '2.20.2',
           'repo_url': 'https://kedacore.github.io/charts', 'values': {'a': 1}}
    pol = g.sync_policy()
    app = g.helm_application(rec, 'dev', [], 'argocd', 'p', pol)
    assert app['spec']['source'] == {'repoURL': 'https://kedacore.github.io/charts', 'chart': 'keda',
                                     'targetRevision': '2.20.2', 'helm': {'releaseName': 'keda',
                                                                          'valuesObject': {'a': 1}}}
    app = g.helm_application(rec, 'dev', [], 'argocd', 'p', pol, 'file:///r.git', 'main', 'charts/keda-2.20.2')
    assert app['spec']['source']['path'] == 'charts/keda-2.20.2'
    assert app['spec']['destination']['namespace'] == 'keda'
    with pytest.raises(g.GitOpsError, match='chart_version'):
        g.helm_application(dict(rec, chart_version=''), 'dev', [], 'argocd', 'p', pol)


def test_root_application_and_projects():
    root = g.root_application('dev', 'file:///r.git', 'main', 'argocd', 'cnai-platform-root', g.sync_policy())
    assert root['spec']['source']['path'] == 'apps/dev'
    assert root['spec']['destination']['namespace'] == 'argocd'
    assert not any(o.startswith('CreateNamespace') for o in root['spec']['syncPolicy']['syncOptions'])
    assert 'finalizers' not in root['metadata']
    rp = g.root_project('cnai-platform-root', 'argocd', ['file:///r.git'])
    assert rp['spec']['clusterResourceWhitelist'] == []
    assert rp['spec']['namespaceResourceWhitelist'] == [{'group': 'argoproj.io', 'kind': 'Application'}]
    assert rp['spec']['destinations'] == [{'server': g.IN_CLUSTER, 'namespace': 'argocd'}]
    p = g.app_project('cnai-platform', 'argocd', ['b', 'a', 'a'], ['ai-inference', 'ai-inference-*'],
                      g.resource_allowlists(TREE))
    assert p['spec']['sourceRepos'] == ['a', 'b']
    assert p['spec']['clusterResourceWhitelist'] == [{'group': '', 'kind': 'Namespace'}]


def test_namespace_violations():
    pats = ['ai-inference', 'ai-inference-*', 'keda']
    assert g.namespace_violations(['ai-inference', 'ai-inference-dev', 'keda'], pats) == []
    assert g.namespace_violations(['default', 'ai-inferencex', 'kube-system'], pats) == [
        'ai-inferencex', 'default', 'kube-system']


def test_commit_message_names_components_and_parts():
    msg = g.commit_message([' M vllm/overlays/production/kustomization.yaml', '?? apps/dev/keda.yaml',
                            ' D vllm/base/service-x.yaml', 'A  helm/keda.yaml'])
    subject, body = msg.split('\n\n', 1)
    assert subject == 'cnai.platform: update keda (apps/dev, helm); vllm (base, overlays/production)'
    assert 'M vllm/overlays/production/kustomization.yaml' in body and 'D vllm/base/service-x.yaml' in body
    assert 'A apps/dev/keda.yaml' in body
    assert g.commit_message([]) is None


def test_comparable_drops_what_differs_by_nature_only():
    live = {'apiVersion': 'v1', 'kind': 'Service',
            'metadata': {'name': 's', 'namespace': 'n1', 'uid': 'u', 'resourceVersion': '1', 'managedFields': [],
                         'annotations': {'argocd.argoproj.io/tracking-id': 'x'}, 'labels': {'app': 's'}},
            'spec': {'clusterIP': '10.0.0.1', 'clusterIPs': ['10.0.0.1'], 'ports': [{'port': 80}]},
            'status': {}}
    assert g.comparable(live) == {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 's',
                                                                                      'labels': {'app': 's'}},
                                  'spec': {'ports': [{'port': 80}]}}


# ------------------------------------------------------------------ git (the real CLI, local repositories)
def _git(*args, **kw):
    return subprocess.run(['git'] + list(args), check=True, stdout=subprocess.PIPE, universal_newlines=True,
                          **kw).stdout.strip()


@pytest.fixture
def tree(tmp_path):
    work = tmp_path / 'render'
    (work / 'vllm' / 'overlays' / 'dev').mkdir(parents=True)
    (work / 'vllm' / 'overlays' / 'dev' / 'kustomization.yaml').write_text('namespace: ai-inference-dev\n')
    (work / 'apps' / 'dev').mkdir(parents=True)
    (work / 'apps' / 'dev' / 'vllm.yaml').write_text('kind: Application\n')
    remote = tmp_path / 'remote.git'
    _git('init', '-q', '--bare', str(remote))
    return work, 'file://%s' % remote


def test_commit_push_then_nothing_then_one_change(tree):
    work, remote = tree
    first = gr.commit_tree(str(work), 'main', remote)
    assert first['committed'] and first['pushed'] and first['changed']
    assert first['message'].startswith('cnai.platform: update vllm (apps/dev, overlays/dev)')
    assert _git('--git-dir', remote[len('file://'):], 'rev-parse', 'main') == first['commit']
    again = gr.commit_tree(str(work), 'main', remote)
    assert not again['changed'] and not again['committed'] and not again['pushed']
    assert again['commit'] == first['commit']
    (work / 'vllm' / 'overlays' / 'dev' / 'kustomization.yaml').write_text('namespace: ai-inference-dev\n# 2\n')
    planned = gr.commit_tree(str(work), 'main', remote, check_mode=True)
    assert planned['changed'] and planned['files'] == [' M vllm/overlays/dev/kustomization.yaml']
    assert _git('--git-dir', remote[len('file://'):], 'rev-parse', 'main') == first['commit']
    third = gr.commit_tree(str(work), 'main', remote)
    assert third['message'].splitlines()[0] == 'cnai.platform: update vllm (overlays/dev)'
    assert _git('--git-dir', remote[len('file://'):], 'rev-list', '--count', 'main') == '2'


def test_a_fresh_work_tree_takes_the_remote_head_as_parent(tree, tmp_path):
    work, remote = tree
    first = gr.commit_tree(str(work), 'main', remote)
    # another controller renders the same tree from scratch: nothing to commit, the history is kept
    clone = tmp_path / 'other'
    subprocess.run(['cp', '-r', str(work), str(clone)], check=True)
    subprocess.run(['rm', '-rf', str(clone / '.git')], check=True)
    again = gr.commit_tree(str(clone), 'main', remote)
    assert not again['committed'] and again['commit'] == first['commit']


def test_check_mode_on_a_fresh_directory_writes_nothing(tree):
    work, dummy = tree
    got = gr.commit_tree(str(work), check_mode=True)
    assert got['changed'] and not os.path.exists(str(work / '.git'))
    assert '?? apps/dev/vllm.yaml' in got['files']


def test_git_failure_and_timeout_are_reported(tree):
    work, dummy = tree
    with pytest.raises(gr.GitError, match='ls-remote'):
        gr.commit_tree(str(work), 'main', 'file:///nonexistent/repo.git')

    def slow(cmd, **kw):
        raise subprocess.TimeoutExpired(cmd, kw['timeout'])
    with pytest.raises(gr.GitError, match='within 3 s'):
        gr.commit_tree(str(work), timeout=3, runner=slow)
    with pytest.raises(gr.GitError, match='absolute directory'):
        gr.commit_tree('relative/path')


def test_credentials_reach_git_only_through_askpass(tree):
    work, dummy = tree
    seen = []

    def runner(cmd, **kw):
        seen.append((cmd, kw['env']))
        kw.pop('check', None)
        return subprocess.run(cmd, check=False, **kw)
    gr.commit_tree(str(work), runner=runner, username='u', password='s3cret')
    assert all('s3cret' not in ' '.join(c) for c, dummy in seen)
    env = seen[0][1]
    assert env['CNAI_GIT_PASSWORD'] == 's3cret' and os.path.basename(env['GIT_ASKPASS']) == 'askpass'
    assert not os.path.exists(env['GIT_ASKPASS'])          # removed after the run
    assert 's3cret' not in (work / '.git' / 'config').read_text()


# ------------------------------------------------------------------ build_tree (fake kustomize/helm runner)
class _Proc(object):
    def __init__(self, out):
        self.returncode, self.stdout, self.stderr = 0, out, ''


def _fake_runner(cmd, **kw):
    import yaml
    if cmd[1] == 'build':      # kustomize build <overlay>
        return _Proc(yaml.safe_dump_all([dep('a'), scaled('a', 'a'),
                                         {'apiVersion': 'v1', 'kind': 'Service',
                                          'metadata': {'name': 'a', 'namespace': 'ai-inference-dev'}}]))
    return _Proc(yaml.safe_dump_all([   # helm template
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'keda'}},
        dep('keda-operator', 'keda')]))


@pytest.fixture
def render(tmp_path):
    root = tmp_path / 'render'
    for env in ('dev', 'production'):
        (root / 'vllm' / 'overlays' / env).mkdir(parents=True)
        (root / 'vllm' / 'overlays' / env / 'kustomization.yaml').write_text('resources: [../../base]\n')
    (root / 'helm').mkdir()
    (root / 'helm' / 'keda.yaml').write_text(
        'name: keda\nnamespace: keda\nchart: keda\nchart_version: 2.20.2\nrepo_url: https://kedacore.github.io/charts\n'
        'values: {webhooks: {failurePolicy: Ignore}}\n')
    return root


def test_build_tree_writes_apps_and_bootstrap_and_is_stable(render):
    kw = dict(namespaces=['ai-inference-*', 'keda'], runner=_fake_runner)
    got = g.build_tree(str(render), 'dev', 'file:///r.git', **kw)
    assert got['changed'] and got['components'] == ['vllm'] and got['releases'] == ['keda']
    assert sorted(got['files']['changed']) == [
        'apps/dev/keda-dev.yaml', 'apps/dev/vllm-dev.yaml', 'bootstrap/dev/application-cnai-platform-dev.yaml',
        'bootstrap/dev/appproject-cnai-platform-root.yaml', 'bootstrap/dev/appproject-cnai-platform.yaml']
    assert got['allowlists']['cluster'] == [{'group': '', 'kind': 'Namespace'},
                                            {'group': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole'}]
    proj = got['projects'][1]
    assert proj['spec']['sourceRepos'] == ['file:///r.git', 'https://kedacore.github.io/charts']
    assert 'namespaceResourceWhitelist' not in proj['spec']
    assert not g.build_tree(str(render), 'dev', 'file:///r.git', **kw)['changed']
    # a stale Application (component gone) is removed
    (render / 'apps' / 'dev' / 'old-dev.yaml').write_text('x')
    assert g.build_tree(str(render), 'dev', 'file:///r.git', **kw)['files']['removed'] == ['apps/dev/old-dev.yaml']


def test_build_tree_refuses_a_namespace_outside_the_project_and_writes_nothing(render):
    with pytest.raises(g.GitOpsError, match='would not allow: keda'):
        g.build_tree(str(render), 'dev', 'file:///r.git', namespaces=['ai-inference-*'], runner=_fake_runner)
    assert not (render / 'apps').exists()
    with pytest.raises(g.GitOpsError, match='no component with overlays/staging'):
        (render / 'helm' / 'keda.yaml').unlink()
        g.build_tree(str(render), 'staging', 'file:///r.git', namespaces=['*'], runner=_fake_runner)


def test_commit_message_groups_apps_and_charts_by_component():
    msg = g.commit_message(['?? apps/dev/keda-dev.yaml', '?? charts/keda-2.20.2/Chart.yaml', '?? helm/keda.yaml',
                            '?? bootstrap/dev/appproject-cnai-platform.yaml', '?? vllm/.cnai-render-owned.json'])
    assert msg.splitlines()[0] == ('cnai.platform: update argocd (bootstrap/dev); keda (apps/dev, charts, helm); '
                                   'vllm (tree)')
