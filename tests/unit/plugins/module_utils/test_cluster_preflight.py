# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight of the cluster plays (module_utils/cluster_preflight.py): every failure names its variable."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import subprocess

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import cluster_preflight as cp

KUBECONFIG = {
    'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'dev',
    'clusters': [{'name': 'c-dev', 'cluster': {'server': 'https://dev.example:6443'}},
                 {'name': 'c-prod', 'cluster': {'server': 'https://prod.example:6443'}}],
    'contexts': [{'name': 'dev', 'context': {'cluster': 'c-dev', 'user': 'u'}},
                 {'name': 'prod', 'context': {'cluster': 'c-prod', 'user': 'u'}}],
    'users': [{'name': 'u', 'user': {'token': 'x'}}],
}


@pytest.mark.parametrize('text,want', [
    ('v1.35.4', (1, 35, 4)), ('v3.22.0+g1a2b3c4', (3, 22, 0)), ('1.30.2-gke.1200', (1, 30, 2)),
    ('v3.14', (3, 14, 0)), ('nothing', None), ('', None)])
def test_parse_version(text, want):
    assert cp.parse_version(text) == want


def test_ranges():
    assert cp.in_range((1, 35, 4), cp.SUPPORTED['kubernetes'])
    assert cp.in_range((1, 30, 0), '>=1.30,<1.37')
    assert not cp.in_range((1, 29, 9), '>=1.30,<1.37')
    assert not cp.in_range((1, 37, 0), '>=1.30,<1.37')
    assert cp.in_range((3, 22, 0), cp.SUPPORTED['helm'])
    assert not cp.in_range((4, 0, 0), cp.SUPPORTED['helm'])
    assert not cp.in_range((2, 17, 0), cp.SUPPORTED['helm'])
    assert cp.in_range((1, 2, 3), '')
    with pytest.raises(cp.PreflightError, match='bad version range'):
        cp.parse_range('~1.30')


def test_missing_kubeconfig_names_the_variable(tmp_path):
    with pytest.raises(cp.PreflightError, match=r"^cnai_kubeconfig: the kubeconfig ~/nope/config \(.*/nope/config\) "
                                                r"does not exist or cannot be read\. Set cnai_kubeconfig"):
        cp.find_kubeconfig('~/nope/config', environ={}, home=str(tmp_path))


def test_empty_kubeconfig_falls_back_then_names_the_variable(tmp_path):
    with pytest.raises(cp.PreflightError, match=r'cnai_kubeconfig is not set and no kubeconfig was found \(tried '
                                                r'/a/kc, .*\.kube/config; not running in a pod\)\. Set cnai_kubeconfig'):
        cp.find_kubeconfig('', environ={'KUBECONFIG': '/a/kc'}, home=str(tmp_path))
    kc = tmp_path / 'kc'
    kc.write_text('x')
    assert cp.find_kubeconfig('', environ={'KUBECONFIG': '/nope:%s' % kc}) == (str(kc), 'KUBECONFIG')
    (tmp_path / '.kube').mkdir()
    (tmp_path / '.kube' / 'config').write_text('x')
    assert cp.find_kubeconfig('', environ={}, home=str(tmp_path)) == (str(tmp_path / '.kube' / 'config'),
                                                                      '~/.kube/config')
    assert cp.find_kubeconfig(str(kc), environ={}) == (str(kc), 'cnai_kubeconfig')


def test_context_choice():
    assert cp.pick_context(KUBECONFIG, '/kc', '') == ('dev', 'https://dev.example:6443')
    assert cp.pick_context(KUBECONFIG, '/kc', 'prod') == ('prod', 'https://prod.example:6443')
    with pytest.raises(cp.PreflightError, match=r"^cnai_kube_context: context 'staging' is not in /kc \(contexts "
                                                r"there: dev, prod\)\. Set cnai_kube_context to one of them"):
        cp.pick_context(KUBECONFIG, '/kc', 'staging')
    no_current = dict(KUBECONFIG, **{'current-context': ''})
    with pytest.raises(cp.PreflightError, match='cnai_kube_context: /kc has no current-context'):
        cp.pick_context(no_current, '/kc', '')
    with pytest.raises(cp.PreflightError, match='cnai_kubeconfig: /kc is not a kubeconfig with contexts'):
        cp.pick_context({'apiVersion': 'v1'}, '/kc', '')
    with pytest.raises(cp.PreflightError, match='cnai_kubeconfig: /kc is not a kubeconfig'):
        cp.pick_context('just text', '/kc', '')


class FakeClient(object):
    def __init__(self, version='v1.35.4', error=None, crds=()):
        self._version, self._error, self._crds = version, error, set(crds)

    def version(self, timeout):
        if self._error:
            raise self._error
        return self._version

    def crd_exists(self, name, timeout):
        return name in self._crds


class Unauthorized(Exception):
    status = 401


def test_api_version_and_reachability():
    assert cp.check_api(FakeClient(), 'ctx', 5, cp.SUPPORTED['kubernetes']) == 'v1.35.4'
    with pytest.raises(cp.PreflightError, match=r'cannot reach the API server of ctx within 5 s \(Connection refused\)'
                                                r'\. Check cnai_kubeconfig and cnai_kube_context'):
        cp.check_api(FakeClient(error=OSError('Connection refused')), 'ctx', 5, '>=1.30')
    with pytest.raises(cp.PreflightError, match=r'refused the credentials \(HTTP 401\)'):
        cp.check_api(FakeClient(error=Unauthorized('no')), 'ctx', 5, '>=1.30')
    with pytest.raises(cp.PreflightError, match=r'runs Kubernetes v1\.27\.3; cnai\.platform supports >=1\.30,<1\.37\. '
                                                r'Point cnai_kubeconfig / cnai_kube_context'):
        cp.check_api(FakeClient('v1.27.3'), 'ctx', 5, '>=1.30,<1.37')


def test_crds():
    crds = cp.normalize_crds(['a.example.io', {'name': 'b.example.io', 'hint': 'install B'}])
    assert crds == [{'name': 'a.example.io', 'hint': ''}, {'name': 'b.example.io', 'hint': 'install B'}]
    missing = cp.missing_crds(FakeClient(crds=['a.example.io']), crds, 5)
    assert cp.crd_message(missing) == ('the cluster lacks the CustomResourceDefinitions this play needs: '
                                       'b.example.io (install B)')
    assert cp.missing_crds(FakeClient(crds=['a.example.io', 'b.example.io']), crds, 5) == []
    same = cp.normalize_crds([{'name': 'x.io', 'hint': 'h'}, 'y.io', {'name': 'z.io', 'hint': 'h'}])
    assert cp.crd_message(same) == ('the cluster lacks the CustomResourceDefinitions this play needs: '
                                    'x.io, z.io (h); y.io')
    with pytest.raises(cp.PreflightError, match='cluster_preflight_crds'):
        cp.normalize_crds([{'hint': 'no name'}])


def _helm(tmp_path, out, rc=0):
    helm = tmp_path / 'helm'
    helm.write_text('#!/bin/sh\necho "%s"\nexit %d\n' % (out, rc))
    helm.chmod(0o755)
    return str(helm)


def test_helm_versions(tmp_path):
    helm = _helm(tmp_path, 'v3.22.0+g1a2b3c4')
    assert cp.check_helm(helm, cp.SUPPORTED['helm']) == (helm, 'v3.22.0+g1a2b3c4')
    old = _helm(tmp_path, 'v2.17.0+gabc')
    with pytest.raises(cp.PreflightError, match=r'cnai_helm_binary: .*/helm is helm v2\.17\.0\+gabc; cnai\.platform '
                                                r'supports >=3\.14,<4\.0\. Set cnai_helm_binary'):
        cp.check_helm(old, cp.SUPPORTED['helm'])
    broken = _helm(tmp_path, 'boom', rc=3)
    with pytest.raises(cp.PreflightError, match=r'failed \(rc 3: boom\)\. Set cnai_helm_binary'):
        cp.check_helm(broken, '>=3.14')
    with pytest.raises(cp.PreflightError, match=r"cnai_helm_binary: '/nope/helm' is not an executable file"):
        cp.check_helm('/nope/helm', '>=3.14')


def test_helm_time_out(tmp_path):
    helm = _helm(tmp_path, 'v3.22.0')

    def slow(cmd, **kw):
        raise subprocess.TimeoutExpired(cmd, kw['timeout'])
    with pytest.raises(cp.PreflightError, match='does not run .*Set cnai_helm_binary'):
        cp.check_helm(helm, '>=3.14', timeout=2, runner=slow)
