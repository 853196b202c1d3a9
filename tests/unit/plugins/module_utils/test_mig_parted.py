# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mig-parted document parser and interpreter: NVIDIA's rules, and errors that say where."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.cnai.platform.plugins.module_utils import mig_parted as mpd

H200 = mpd.hardware_id('0x233510DE')
H200_SUB = mpd.hardware_id('0x233510DE', '0x18BF10DE')


def doc(*entries, **kw):
    return {'version': 'v1', 'mig-configs': {kw.get('name', 'c'): list(entries)}}


def test_device_id_forms():
    assert str(mpd.DeviceId.parse('0x233510de')) == '0x233510DE'
    qualified = mpd.DeviceId.parse('0x233510DE:0x18BF10DE')
    assert qualified.has_subsystem and str(qualified) == '0x233510DE:0x18BF10DE'
    assert qualified.primary == mpd.DeviceId.parse('0x233510DE')
    assert str(mpd.hardware_id('2335')) == '0x233510DE'         # inventories may give the short form
    for bad in ('0x2335', '233510DE', 'NVIDIA H200', '0x233510DE:0x18BF', '0x1:0x2:0x3', 7):
        with pytest.raises(mpd.MigPartedError, match='device-filter'):
            mpd.DeviceId.parse(bad)


def test_subsystem_qualified_filter_needs_all_four_parts():
    plain = mpd.DeviceId.parse('0x233510DE')
    qualified = mpd.DeviceId.parse('0x233510DE:0x18BF10DE')
    other = mpd.DeviceId.parse('0x233510DE:0x16C010DE')
    assert plain.matches(H200) and plain.matches(H200_SUB)     # unqualified: device and vendor only
    assert qualified.matches(H200_SUB)
    assert not other.matches(H200_SUB)
    assert not qualified.matches(mpd.hardware_id('0x233010DE', '0x18BF10DE'))
    assert qualified.matches(H200) is None                     # undecidable without the node's subsystem id


def test_layout_walks_entries_in_order_last_match_wins():
    d = mpd.parse(doc({'devices': 'all', 'mig-enabled': False},
                      {'devices': [1, 3], 'mig-enabled': True, 'mig-devices': {'1g.18gb': 7, '3g.71gb': 0}},
                      {'device-filter': '0x233010DE', 'devices': 'all', 'mig-enabled': True, 'mig-devices': {}},
                      {'device-filter': ['0x233510DE'], 'devices': [3], 'mig-enabled': True,
                       'mig-devices': {'3g.71gb': 2}}))
    assert d.layout('c', 4, H200) == [None, {'1g.18gb': 7}, None, {'3g.71gb': 2}]
    assert d.to_dict()['mig-configs']['c'][2] == {'devices': 'all', 'mig-enabled': True, 'mig-devices': {},
                                                  'device-filter': ['0x233010DE']}


def test_subsystem_filter_in_a_document():
    d = mpd.parse(doc({'device-filter': '0x233510DE:0x18BF10DE', 'devices': 'all', 'mig-enabled': False}))
    assert d.layout('c', 2, H200_SUB) == [None, None]
    with pytest.raises(mpd.MigPartedError, match=r'covers no entry for GPU\(s\) 0, 1'):
        d.layout('c', 2, mpd.hardware_id('0x233510DE', '0x16C010DE'))
    with pytest.raises(mpd.MigPartedError, match='subsystem id is unknown.*pci_subsystem_id'):
        d.layout('c', 2, H200)


def test_uncovered_gpu_and_undefined_config():
    d = mpd.parse(doc({'devices': [0], 'mig-enabled': False}))
    with pytest.raises(mpd.MigPartedError, match=r'covers no entry for GPU\(s\) 1 .*assert would never pass'):
        d.layout('c', 2, H200)
    with pytest.raises(mpd.MigPartedError, match=r"config 'x' is not defined .*\(defined: c\)"):
        d.layout('x', 2, H200)


@pytest.mark.parametrize('raw,message', [
    ([], 'must be a mapping with version: v1'),
    ({'version': 'v2', 'mig-configs': {'c': [{'devices': 'all', 'mig-enabled': False}]}}, 'version must be v1'),
    ({'mig-configs': {'c': [{'devices': 'all', 'mig-enabled': False}]}}, 'version must be v1'),
    ({'version': 'v1', 'mig-configs': {}}, 'mig-configs must be a non-empty mapping'),
    ({'version': 'v1', 'mig-configs': {'c': []}, 'extra': 1}, r'unexpected field\(s\) extra'),
    ({'version': 'v1', 'mig-configs': {'c': []}}, 'mig-configs.c must be a non-empty list'),
    (doc('all'), r'mig-configs.c\[0\] must be a mapping'),
    (doc({'devices': 'all'}), 'missing required field mig-enabled'),
    (doc({'mig-enabled': False}), 'missing required field devices'),
    (doc({'devices': 'some', 'mig-enabled': False}), 'devices must be "all" or a non-empty list'),
    (doc({'devices': [True], 'mig-enabled': False}), 'devices must be "all"'),
    (doc({'devices': [-1], 'mig-enabled': False}), 'devices must be "all"'),
    (doc({'devices': 'all', 'mig-enabled': 'yes'}), 'mig-enabled must be true or false'),
    (doc({'devices': 'all', 'mig-enabled': True}), 'mig-enabled: true needs mig-devices'),
    (doc({'devices': 'all', 'mig-enabled': False, 'mig-devices': {'1g.18gb': 1}}), 'must not carry mig-devices'),
    (doc({'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.18gb': 0}}), 'all mig-devices counts are 0'),
    (doc({'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.18gb': -1}}), 'count must be an integer'),
    (doc({'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.18gb': True}}), 'count must be an integer'),
    (doc({'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.18gb': 10 ** 12}}), 'from 0 to 1024'),
    (doc({'devices': 'all', 'mig-enabled': True, 'mig-devices': {'big': 1}}), 'not a MIG profile name'),
    (doc({'devices': 'all', 'mig-enabled': False, 'device-filter': {'a': 1}}), 'device-filter must be a string'),
    (doc({'devices': 'all', 'mig-enabled': False, 'device-filter': 'NVIDIA H200'}), 'not a PCI id of the form'),
    (doc({'devices': 'all', 'mig-enabled': False, 'colour': 'red'}), r'unexpected field\(s\) colour'),
])
def test_documents_mig_parted_refuses(raw, message):
    with pytest.raises(mpd.MigPartedError, match=message):
        mpd.parse(raw)


def test_profile_name_forms_mig_parted_accepts():
    d = mpd.parse(doc({'devices': 'all', 'mig-enabled': True,
                       'mig-devices': {'1g.10gb+me': 1, '1c.2g.20gb': 2, '1g.24gb-me': 1, '1g.24gb+me.all': 1}}))
    assert d.layout('c', 1, None) == [{'1g.10gb+me': 1, '1c.2g.20gb': 2, '1g.24gb-me': 1, '1g.24gb+me.all': 1}]
    assert mpd.parse(doc({'devices': 'all', 'mig-enabled': True, 'mig-devices': {}})).layout('c', 1) == [{}]


def test_layout_for_a_model_with_several_pci_ids():
    # H200 SXM (0x2335) and H200 NVL (0x233B) share one catalog model
    ids = [mpd.hardware_id('0x233510DE'), mpd.hardware_id('0x233B10DE')]
    d = mpd.parse({'version': 'v1', 'mig-configs': {
        'sxm-only': [{'device-filter': '0x233510DE', 'devices': 'all', 'mig-enabled': False}],
        'split': [{'device-filter': '0x233510DE', 'devices': 'all', 'mig-enabled': False},
                  {'device-filter': '0x233B10DE', 'devices': 'all', 'mig-enabled': True, 'mig-devices': {}}],
        'none': [{'device-filter': '0x20B210DE', 'devices': 'all', 'mig-enabled': False}]}})
    assert d.layout_for_model('sxm-only', 2, ids) == [None, None]
    with pytest.raises(mpd.MigPartedError, match="different layouts for the PCI ids 0x233510DE, 0x233B10DE.*pci_device_id"):
        d.layout_for_model('split', 2, ids)
    with pytest.raises(mpd.MigPartedError, match=r'covers no entry for GPU\(s\) 0, 1 \(PCI id 0x233510DE\)'):
        d.layout_for_model('none', 2, ids)
