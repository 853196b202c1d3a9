# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnai.platform GPU resource filters: what a node advertises for a mig-parted config."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter.gpu_resources import (
    FilterModule, gpu_allocatable, mig_expected_resources, mig_rollout_outcome)

H200 = '0x233510DE'
A100_80 = '0x20B210DE'

DOC = {
    'version': 'v1',
    'mig-configs': {
        'all-disabled': [{'devices': 'all', 'mig-enabled': False}],
        'mixed-h200': [
            {'device-filter': [H200], 'devices': [0, 1], 'mig-enabled': True,
             'mig-devices': {'1g.18gb': 7}},
            {'device-filter': [H200], 'devices': [2], 'mig-enabled': True,
             'mig-devices': {'3g.71gb': 2}},
            {'device-filter': [H200], 'devices': [3], 'mig-enabled': False},
        ],
        'all-1g': [{'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.18gb': 7, '1g.18gb+me': 0}}],
        'later-wins': [
            {'devices': 'all', 'mig-enabled': False},
            {'devices': [1], 'mig-enabled': True, 'mig-devices': {'7g.141gb': 1}},
        ],
        'other-model': [{'device-filter': A100_80, 'devices': 'all', 'mig-enabled': True,
                         'mig-devices': {'7g.80gb': 1}}],
        'with-ci-split': [{'devices': 'all', 'mig-enabled': True,
                           'mig-devices': {'1c.2g.35gb': 2, '2g.35gb+me': 1}}],
    },
}


def test_registered():
    assert set(FilterModule().filters()) == {'mig_expected_resources', 'gpu_allocatable', 'mig_rollout_outcome'}


def test_mixed_counts_per_profile_and_whole_gpus():
    assert mig_expected_resources(DOC, 'mixed-h200', 4, 'mixed', pci_device_id=H200) == {
        'nvidia.com/mig-1g.18gb': 14, 'nvidia.com/mig-3g.71gb': 2, 'nvidia.com/gpu': 1}


def test_single_strategy_counts_everything_as_gpu():
    assert mig_expected_resources(DOC, 'all-1g', 2, 'single', pci_device_id=H200) == {'nvidia.com/gpu': 14}


def test_all_disabled_and_time_slicing_replicas():
    assert mig_expected_resources(DOC, 'all-disabled', 8) == {'nvidia.com/gpu': 8}
    assert mig_expected_resources(DOC, 'all-disabled', 8, replicas=4) == {'nvidia.com/gpu': 32}
    # replicas multiply whole GPUs only, never MIG devices (mixed)
    assert mig_expected_resources(DOC, 'mixed-h200', 4, pci_device_id=H200, replicas=2) == {
        'nvidia.com/mig-1g.18gb': 14, 'nvidia.com/mig-3g.71gb': 2, 'nvidia.com/gpu': 2}


def test_later_matching_entry_wins_like_mig_parted():
    assert mig_expected_resources(DOC, 'later-wins', 3) == {'nvidia.com/gpu': 2, 'nvidia.com/mig-7g.141gb': 1}


def test_device_filter_by_product_name_or_pci_id():
    # the filter names an A100 only: an H200 node is not covered, which mig-parted would never accept
    with pytest.raises(AnsibleFilterError, match=r'covers no entry for GPU\(s\) 0, 1 \(PCI id 0x233510DE\)'):
        mig_expected_resources(DOC, 'other-model', 2, gpu_product='NVIDIA H200')
    assert mig_expected_resources(DOC, 'other-model', 2, gpu_product='NVIDIA A100-SXM4-80GB') == {
        'nvidia.com/mig-7g.80gb': 2}
    assert mig_expected_resources(DOC, 'other-model', 2, pci_device_id='20b2') == {'nvidia.com/mig-7g.80gb': 2}


def test_plus_becomes_dot_and_compute_instance_splits_are_not_exposed():
    assert mig_expected_resources(DOC, 'with-ci-split', 1) == {'nvidia.com/mig-2g.35gb.me': 1}


def test_errors_name_the_problem():
    with pytest.raises(AnsibleFilterError, match="config 'nope' is not defined in the mig-parted document"):
        mig_expected_resources(DOC, 'nope', 1)
    with pytest.raises(AnsibleFilterError, match='strategy must be mixed or single'):
        mig_expected_resources(DOC, 'all-disabled', 1, 'none')


SUBSYSTEM_DOC = {'version': 'v1', 'mig-configs': {'sub': [
    {'devices': 'all', 'mig-enabled': False},
    {'device-filter': '0x233510DE:0x18BF10DE', 'devices': 'all', 'mig-enabled': True, 'mig-devices': {'7g.141gb': 1}}]}}


def test_subsystem_qualified_device_filter_follows_mig_parted():
    # all four ids must match (mig-parted pkg/types DeviceID.Matches); the planner and the simulator agree
    assert mig_expected_resources(SUBSYSTEM_DOC, 'sub', 2, pci_device_id=H200, pci_subsystem_id='0x18BF10DE') == {
        'nvidia.com/mig-7g.141gb': 2}
    assert mig_expected_resources(SUBSYSTEM_DOC, 'sub', 2, pci_device_id=H200, pci_subsystem_id='0x16C010DE') == {
        'nvidia.com/gpu': 2}
    with pytest.raises(AnsibleFilterError, match='subsystem id is unknown.*give pci_subsystem_id'):
        mig_expected_resources(SUBSYSTEM_DOC, 'sub', 2, pci_device_id=H200)


@pytest.mark.parametrize('doc,kwargs,message', [
    ({'version': 'v1', 'mig-configs': {'c': [{'devices': 'all'}]}}, {}, r'mig-configs.c\[0\]: missing required field mig-enabled'),
    ({'version': 'v1', 'mig-configs': {'c': [{'devices': 'all', 'mig-enabled': False, 'device-filter': 'H200'}]}}, {},
     'not a PCI id of the form'),
    ('not a document', {}, 'must be a mapping with version: v1'),
    (DOC, {'gpu_count': True}, 'gpu_count must be an integer, got True'),
    (DOC, {'gpu_count': 10 ** 12}, 'gpu_count must be from 1 to 64'),
    (DOC, {'gpu_count': 2, 'replicas': 10 ** 12}, 'replicas must be from 1 to 1024'),
    (DOC, {'gpu_count': 2, 'pci_device_id': 'H200'}, 'pci_device_id .* is not a PCI id'),
    (DOC, {'gpu_count': 2, 'gpu_product': 'NVIDIA H100'}, 'unknown GPU.*give pci_device_id'),
])
def test_bad_input_is_refused_with_the_field(doc, kwargs, message):
    kwargs = dict(kwargs)
    count = kwargs.pop('gpu_count', 1)
    with pytest.raises(AnsibleFilterError, match=message):
        mig_expected_resources(doc, 'c' if 'c' in (doc.get('mig-configs', {}) if isinstance(doc, dict) else {})
                               else 'all-1g', count, **kwargs)


def node(labels=None, alloc=None):
    return {'metadata': {'name': 'n', 'labels': labels or {}}, 'status': {'allocatable': alloc or {}}}


def test_gpu_allocatable_keeps_gpu_resources_as_ints_without_zeros():
    n = node(alloc={'cpu': '96', 'nvidia.com/gpu': '0', 'nvidia.com/mig-1g.18gb': '7', 'pods': '110'})
    assert gpu_allocatable(n) == {'nvidia.com/mig-1g.18gb': 7}
    assert gpu_allocatable({}) == {}
    with pytest.raises(AnsibleFilterError):
        gpu_allocatable(node(alloc={'nvidia.com/gpu': '1k'}))


def outcome(labels, alloc, target='t', expected=None):
    rec = {'name': 'n', 'target': target, 'expected': expected or {'nvidia.com/gpu': 1}}
    return mig_rollout_outcome({'item': rec, 'resources': [node(labels, alloc)]})


def test_rollout_outcome_classification():
    ok = {'nvidia.com/gpu': '1'}
    assert outcome({'nvidia.com/mig.config': 'old'}, ok)['outcome'] == 'untouched'
    assert outcome({}, ok)['outcome'] == 'untouched'
    done = outcome({'nvidia.com/mig.config': 't', 'nvidia.com/mig.config.state': 'success'}, ok)
    assert done['outcome'] == 'done'
    assert 'n: nvidia.com/mig.config=t, nvidia.com/mig.config.state=success' in done['summary']
    for state in ('failed', 'pending', ''):
        assert outcome({'nvidia.com/mig.config': 't', 'nvidia.com/mig.config.state': state}, ok)['outcome'] == 'failed'
    # success but the device plugin advertises something else
    assert outcome({'nvidia.com/mig.config': 't', 'nvidia.com/mig.config.state': 'success'},
                   {'nvidia.com/gpu': '2'})['outcome'] == 'failed'
    assert mig_rollout_outcome({'item': {'name': 'gone', 'target': 't'}, 'resources': []})['outcome'] == 'failed'
