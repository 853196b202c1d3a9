# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a direct delivery prunes (module_utils/k8s_prune.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import k8s_prune as kp

MANAGER = 'cnai.platform/vllm'
SEL = {'app.kubernetes.io/part-of': 'cnai-platform'}


def obj(kind, name, ns='ai-inference-dev', api='apps/v1', manager=MANAGER, operation='Apply', labels=None,
        **meta):
    m = {'name': name, 'namespace': ns, 'labels': SEL if labels is None else labels,
         'managedFields': [{'manager': 'kube-controller-manager', 'operation': 'Update'},
                           {'manager': manager, 'operation': operation}]}
    m.update(meta)
    return {'apiVersion': api, 'kind': kind, 'metadata': m}


def ref(kind, name, ns='ai-inference-dev', api='apps/v1'):
    return {'apiVersion': api, 'kind': kind, 'namespace': ns, 'name': name}


def names(refs):
    return ['%s/%s' % (r['kind'], r['name']) for r in refs]


def test_only_what_the_manager_applied_and_no_longer_renders_is_pruned():
    live = [obj('Deployment', 'kept'), obj('Deployment', 'removed-model'), obj('Service', 'removed-model', api='v1'),
            obj('Deployment', 'by-hand', manager='kubectl-client-side-apply', operation='Update'),
            obj('Deployment', 'other-component', manager='cnai.platform/milvus'),
            obj('Deployment', 'helm-release', manager='helm', operation='Update'),
            obj('Deployment', 'updated-not-applied', operation='Update')]
    prune, left = kp.prune_list(live, [ref('Deployment', 'kept')], MANAGER, ['ai-inference-dev'], SEL)
    assert names(prune) == ['Deployment/removed-model', 'Service/removed-model'] and left == []
    assert prune[1] == ref('Service', 'removed-model', api='v1')


def test_other_namespaces_unlabelled_owned_and_deleting_objects_are_left_alone():
    live = [obj('Deployment', 'staging-copy', ns='ai-inference-staging'),
            obj('Deployment', 'unlabelled', labels={}),
            obj('Deployment', 'owned', ownerReferences=[{'kind': 'ScaledObject', 'name': 'x'}]),
            obj('Deployment', 'going', deletionTimestamp='2026-11-29T00:00:00Z'),
            obj('Namespace', 'ai-inference-dev', api='v1'), obj('Secret', 'hf-token', api='v1')]
    assert kp.prune_list(live, [], MANAGER, ['ai-inference-dev'], SEL) == ([], [])


def test_a_version_bump_is_the_same_object():
    live = [obj('HorizontalPodAutoscaler', 'qwen', api='autoscaling/v1')]
    keep = [ref('HorizontalPodAutoscaler', 'qwen', api='autoscaling/v2')]
    assert kp.prune_list(live, keep, MANAGER, ['ai-inference-dev'], SEL) == ([], [])
    # but the same kind name in another API group is another object
    live = [obj('Ingress', 'gw', api='extensions.example.com/v1')]
    keep = [ref('Ingress', 'gw', api='networking.k8s.io/v1')]
    assert names(kp.prune_list(live, keep, MANAGER, ['ai-inference-dev'], SEL)[0]) == ['Ingress/gw']


def test_storage_and_opted_out_objects_are_reported_not_deleted():
    live = [obj('PersistentVolumeClaim', 'old-cache', api='v1'),
            obj('Deployment', 'pinned', annotations={kp.OPT_OUT_ANNOTATION: 'ServerSideApply=true, Prune=false'}),
            obj('Deployment', 'other-option', annotations={kp.OPT_OUT_ANNOTATION: 'ServerSideApply=true'})]
    prune, left = kp.prune_list(live, [], MANAGER, ['ai-inference-dev'], SEL, ['PersistentVolumeClaim'])
    assert names(prune) == ['Deployment/other-option']
    assert names(left) == ['Deployment/pinned', 'PersistentVolumeClaim/old-cache']


def test_no_namespaces_prunes_nothing_and_a_manager_is_required():
    assert kp.prune_list([obj('Deployment', 'x')], [], MANAGER, [], SEL) == ([], [])
    with pytest.raises(kp.PruneError, match='field_manager is required'):
        kp.prune_list([], [], '', ['ns'], SEL)


def test_scan_kinds_adds_the_builds_kinds_once_and_never_namespaces_or_secrets():
    default = [{'apiVersion': 'apps/v1', 'kind': 'Deployment'}, {'apiVersion': 'v1', 'kind': 'Secret'}]
    keep = [ref('Deployment', 'a', api='apps/v1'), ref('ScaledObject', 'a', api='keda.sh/v1alpha1'),
            ref('Namespace', 'ns', ns=None, api='v1'), ref('ScaledObject', 'b', api='keda.sh/v1alpha1')]
    assert kp.scan_kinds(default, keep) == [{'apiVersion': 'apps/v1', 'kind': 'Deployment'},
                                            {'apiVersion': 'keda.sh/v1alpha1', 'kind': 'ScaledObject'}]
    with pytest.raises(kp.PruneError, match='kinds: each entry needs apiVersion and kind'):
        kp.scan_kinds([{'kind': 'Deployment'}], [])


def test_ref_key_reads_objects_and_references_alike():
    assert kp.ref_key(obj('Deployment', 'a')) == kp.ref_key(ref('Deployment', 'a')) == ('apps', 'Deployment',
                                                                                           'ai-inference-dev', 'a')
    assert kp.ref_key({'apiVersion': 'v1', 'kind': 'Namespace', 'name': 'x', 'namespace': None}) == \
        ('', 'Namespace', '', 'x')
    with pytest.raises(kp.PruneError):
        kp.ref_key('Deployment/a')
