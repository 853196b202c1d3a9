# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cnai.platform.plugins.filter.k8s_refs import k8s_ref, k8s_refs

DEP = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'api', 'namespace': 'demo'}}
ROLE = {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'reader'}}


def test_ref_of_manifests_and_refs():
    assert k8s_ref(DEP) == 'Deployment demo/api'
    assert k8s_ref(ROLE) == 'ClusterRole reader'
    assert k8s_ref({'kind': 'Service', 'namespace': 'x', 'name': 'svc', 'apiVersion': 'v1'}) == 'Service x/svc'


def test_refs_filtered_by_namespace():
    assert k8s_refs([DEP, ROLE]) == ['Deployment demo/api', 'ClusterRole reader']
    assert k8s_refs([DEP, ROLE], ['demo']) == ['Deployment demo/api']
    assert k8s_refs([DEP, ROLE], []) == []
    assert k8s_refs(None) == []


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match='expected a Kubernetes object'):
        k8s_ref('Deployment/api')
    with pytest.raises(AnsibleFilterError, match='expected a list'):
        k8s_refs('x')
