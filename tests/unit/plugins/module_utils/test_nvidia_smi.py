# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nvidia_smi parsing on real H200 output and on NVIDIA's documented formats (no Ansible involved)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog
from ansible_collections.cnai.platform.plugins.module_utils import nvidia_smi as ns

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'nvidia-smi')
H200_PLACEMENTS = {
    '1g.18gb': ([0, 1, 2, 3, 4, 5, 6], 1), '1g.18gb+me': ([0, 1, 2, 3, 4, 5, 6], 1), '1g.35gb': ([0, 2, 4, 6], 2),
    '2g.35gb': ([0, 2, 4], 2), '3g.71gb': ([0, 4], 4), '4g.71gb': ([0], 4), '7g.141gb': ([0], 8),
}


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts)) as f:
        return f.read()


def scenario_runner(name, calls=None):
    """run(args) answering from the scenario's commands.json, like the fake nvidia-smi does."""
    commands = json.loads(fixture(name, 'commands.json'))

    def run(args):
        if calls is not None:
            calls.append(list(args))
        entry = commands.get(' '.join(args), commands.get('*'))
        if entry is None:
            return 2, 'Invalid combination of input arguments.\n', ''
        return entry.get('rc', 0), fixture(name, entry['stdout']) if entry.get('stdout') else '', ''
    return run


# --- the CSV query --------------------------------------------------------------------------------------------

def test_query_noheader_nounits_h200():
    rows = ns.parse_query_csv(fixture('h200-141gb', 'query-gpu.csv'))
    assert rows == [{
        'index': '0', 'name': 'NVIDIA H200', 'uuid': 'GPU-00000000-0000-0000-0000-000000000000',
        'pci.bus_id': '00000000:00:06.0', 'pci.device_id': '0x233510DE', 'memory.total': '143771',
        'driver_version': '580.159.04', 'compute_cap': '9.0', 'mig.mode.current': 'Disabled',
        'mig.mode.pending': 'Disabled'}]


@pytest.mark.parametrize('name', ['h200-141gb', 'h200-141gb-x8'])
def test_real_csv_with_header_and_units_equals_derived_fixture(name):
    """The real --format=csv capture (header, units, more columns) parses to the derived noheader fixture."""
    real = ns.parse_query_csv(fixture(name, 'query.csv'))
    derived = ns.parse_query_csv(fixture(name, 'query-gpu.csv'))
    assert len(real) == len(derived) == (8 if name.endswith('x8') else 1)
    for r, d in zip(real, derived):
        assert r['memory.total'] == '143771 MiB'
        assert dict((k, r[k]) for k in ns.QUERY_FIELDS if k != 'memory.total') == \
            dict((k, d[k]) for k in ns.QUERY_FIELDS if k != 'memory.total')
        assert d['memory.total'] == '143771'
    gpus_real = ns.build_gpus(real)
    gpus_derived = ns.build_gpus(derived)
    assert gpus_real == gpus_derived
    assert [g['memory_total_mib'] for g in gpus_real] == [143771] * len(real)


def test_real_query_with_custom_fields_x8():
    fields = ('index', 'name', 'pci.device_id', 'memory.total', 'mig.mode.current')
    rows = ns.parse_query_csv(fixture('h200-141gb-x8', 'query-noheader.csv'), fields)
    assert [r['index'] for r in rows] == [str(i) for i in range(8)]
    assert set(r['pci.device_id'] for r in rows) == {'0x233510DE'}
    assert set(r['mig.mode.current'] for r in rows) == {'Disabled'}


def test_query_na_values_become_none():
    rows = ns.parse_query_csv(fixture('l40s', 'query-gpu.csv'))
    assert rows[0]['mig.mode.current'] is None and rows[0]['mig.mode.pending'] is None
    gpu = ns.build_gpus(rows)[0]
    assert gpu['mig_mode_current'] == gpu['mig_mode_pending'] == 'n/a'
    assert gpu['mig_capable'] is False and gpu['mig_profiles'] == [] and gpu['catalog_model'] is None


def test_query_column_count_mismatch_is_an_error():
    with pytest.raises(ns.NvidiaSmiError, match='columns'):
        ns.parse_query_csv('0, NVIDIA H200, 0x233510DE\n')


def test_query_empty_output():
    assert ns.parse_query_csv('\n\n') == []


@pytest.mark.parametrize('raw,mode', [('Enabled', 'enabled'), ('Disabled', 'disabled'), ('[N/A]', 'n/a'),
                                      ('N/A', 'n/a'), (None, 'n/a'), ('[Not Supported]', 'n/a'), (' enabled ', 'enabled')])
def test_normalize_mig_mode(raw, mode):
    assert ns.normalize_mig_mode(raw) == mode


# --- CUDA / driver version --------------------------------------------------------------------------------------

def test_cuda_version_from_q_text_xml_and_banner():
    assert ns.parse_cuda_version(fixture('h200-141gb', 'nvidia-smi-q.txt')) == '13.0'
    assert ns.parse_cuda_version(fixture('h200-141gb', 'nvidia-smi-q.xml')) == '13.0'
    assert ns.parse_cuda_version(fixture('l40s', 'banner.txt')) == '12.4'
    assert ns.parse_cuda_version('Driver Version: 550.54.15') is None
    assert ns.parse_driver_version(fixture('h200-141gb', 'nvidia-smi-q.txt')) == '580.159.04'
    assert ns.parse_driver_version(fixture('l40s', 'banner.txt')) == '550.54.15'


# --- mig -lgip / -lgipp ----------------------------------------------------------------------------------------

def test_lgip_h200_real():
    lgip = ns.parse_lgip(fixture('h200-141gb', 'lgip.txt'))
    assert list(lgip) == [0]
    assert [(p['name'], p['id'], p['instances_free'], p['instances_total'], p['memory_gib'], p['sm_count'])
            for p in lgip[0]] == [
        ('1g.18gb', 19, 7, 7, 16.0, 16), ('1g.18gb+me', 20, 1, 1, 16.0, 16), ('1g.35gb', 15, 4, 4, 32.5, 26),
        ('2g.35gb', 14, 3, 3, 32.5, 32), ('3g.71gb', 9, 2, 2, 69.75, 60), ('4g.71gb', 5, 1, 1, 69.75, 64),
        ('7g.141gb', 0, 1, 1, 140.0, 132)]


def test_lgip_and_lgipp_h200_match_nvml_capture():
    """Independent check: NVML's own answers on the same host (nvml-profiles.json) agree with the parse."""
    nvml = json.loads(fixture('h200-141gb', 'nvml-profiles.json'))['devices'][0]
    lgip = ns.parse_lgip(fixture('h200-141gb', 'lgip.txt'))[0]
    lgipp = ns.parse_lgipp(fixture('h200-141gb', 'lgipp.txt'))[0]
    known = [p for p in nvml['profiles'] if p['rcV2'] == 0]
    assert len(known) == len(lgip) == 7
    by_id = dict((p['id'], p) for p in lgip)
    for p in known:
        mine = by_id[p['id']]
        assert 'MIG ' + mine['name'] == p['name']
        assert mine['instances_total'] == p['instanceCount']
        assert mine['sm_count'] == p['multiprocessorCount']
        assert mine['memory_gib'] == p['memorySizeMB'] / 1024.0
        pairs = nvml['placementsById'][str(p['id'])]
        sizes = set(pair[1] for pair in pairs)
        assert len(sizes) == 1
        assert lgipp[p['id']] == ([pair[0] for pair in pairs], sizes.pop())


def test_lgipp_both_spellings():
    lgipp = ns.parse_lgipp('GPU  0 Profile ID  9 Placements: {0,4}:4\nGPU  0 Profile ID  5 Placement : {0}:4\n'
                           'GPU 12 Profile ID 15 Placements: { 0, 2 ,4,6 }:2\n'
                           'GPU  1 Profile ID 14 Placements: {0,1}:2\nnot a placement line\n')
    assert lgipp == {0: {9: ([0, 4], 4), 5: ([0], 4)}, 12: {15: ([0, 2, 4, 6], 2)}, 1: {14: ([0, 1], 2)}}


def test_lgip_x8_real_every_gpu_the_same():
    lgip = ns.parse_lgip(fixture('h200-141gb-x8', 'lgip.txt'))
    lgipp = ns.parse_lgipp(fixture('h200-141gb-x8', 'lgipp.txt'))
    assert sorted(lgip) == sorted(lgipp) == list(range(8))
    for g in range(8):
        assert lgip[g] == lgip[0]
        assert lgipp[g] == lgipp[0]


def test_lgip_interleaved_rows_are_grouped_per_gpu():
    """Rows of several GPUs in any order (two text lines each) land on the right GPU, in order."""
    lines = fixture('h200-141gb-x8', 'lgip.txt').splitlines()
    header, body = lines[:5], lines[5:]
    blocks = [body[i:i + 3] for i in range(0, len(body), 3)]
    rng = random.Random(7)
    shuffled = list(blocks)
    rng.shuffle(shuffled)
    text = '\n'.join(header + [ln for b in shuffled for ln in b]) + '\n'
    parsed = ns.parse_lgip(text)
    expected = ns.parse_lgip(fixture('h200-141gb', 'lgip.txt'))[0]
    for g in range(8):
        assert sorted(parsed[g], key=lambda p: p['id']) == sorted(expected, key=lambda p: p['id'])


def test_lgip_single_line_rows_and_no_mig_prefix():
    """A row without the CE/JPEG/OFA continuation line and without the 'MIG ' prefix still parses."""
    text = ('| GPU   Name          ID    Instances   Memory     P2P    SM    DEC   ENC  |\n'
            '|   0  1g.5gb         19     7/7        4.75       No     14     0     0   |\n'
            '|   0  MIG 7g.40gb     0     1/1        39.50      No     98     5     0   |\n')
    parsed = ns.parse_lgip(text)
    assert [(p['name'], p['id'], p['instances_total'], p['memory_gib']) for p in parsed[0]] == [
        ('1g.5gb', 19, 7, 4.75), ('7g.40gb', 0, 1, 39.5)]


def test_lgip_extra_row_column_is_an_error_quoting_the_line():
    """A row with one column more than the header (here a GFX column after ENC) is refused, not half-read."""
    row = '|   0  MIG 1g.24gb+me.all    65     1/1        23.62      No     46     1     1     1   |\n'
    with pytest.raises(ns.NvidiaSmiError) as e:
        ns.parse_lgip(row)
    assert 'a profile row has 10 columns where the header has 9' in str(e.value)
    assert '1g.24gb+me.all    65' in str(e.value)


def test_lgip_extra_column_before_memory_is_not_read_as_memory():
    """Before: a column between Instances and Memory was read as the memory (1 GiB). Now: an error."""
    text = fixture('lgip-extra-column', 'lgip.txt')
    with pytest.raises(ns.NvidiaSmiError) as e:
        ns.parse_lgip(text)
    assert "column(s) Spare that this module does not know" in str(e.value)
    assert 'Instances   Spare   Memory' in str(e.value)
    # the same rows without the header line: the column count gives it away
    body = '\n'.join(ln for ln in text.splitlines() if 'Name' not in ln)
    with pytest.raises(ns.NvidiaSmiError, match=r'a profile row has 10 columns where the header has 9.*7/7    1 '):
        ns.parse_lgip(body)


@pytest.mark.parametrize('line,match', [
    ('|   0  MIG 1g.18gb   19   7/7   16.00   No   16   1   |', 'a profile row has 8 columns where the header has 9'),
    ('|  -1  MIG 1g.18gb   19   7/7   16.00   No   16   1   0   |', 'negative GPU index -1'),
    ('|   0  MIG 1g.18gb   19   7of7  16.00   No   16   1   0   |', "instances '7of7' is not free/total"),
    ('|   0  MIG 1g.18gb   19   7/7   lots    No   16   1   0   |', "memory 'lots' is not a number of GiB"),
    ('|   0  MIG 1g.18gb   x9   7/7   16.00   No   16   1   0   |', "profile ID 'x9' is not a number"),
    ('|   0  MIG 1g.18gb   19   7/7   16.00   No   many 1   0   |', "SM count 'many' is not a number"),
    ('|   0  MIG one.18gb  19   7/7   16.00   No   16   1   0   |', "'one.18gb' is not a MIG profile name"),
    ('|   0  MIG 1g.18gb   19   7/7   16.00   No   16   1   0   |\n|   1   1   0   0  |',
     'a continuation line has 4 columns where the header has 3'),
    ('|   1   1   0  |', 'a line of numbers that follows no profile row'),
    ('|   0  MIG 1g.18gb   19   7/7   16.00   No   16   1   0   |\n'
     '|   0  MIG 1g.18gb   19   7/7   16.00   No   16   1   0   |', 'GPU 0 lists profile ID 19 twice'),
    ('| GPU   Name   ID    Instances   Memory     P2P    SM    DEC   ENC   GFX |', 'column(s) GFX'),
    ('|   Free/Total   GiB   CE    JPEG  OFA  NVLINK |', 'column(s) NVLINK'),
])
def test_lgip_malformed_lines_are_errors_with_the_line(line, match):
    with pytest.raises(ns.NvidiaSmiError) as e:
        ns.parse_lgip(line + '\n')
    assert match in str(e.value)
    assert 'The line: ' in str(e.value)


@pytest.mark.parametrize('text,match', [
    ('GPU  0 Profile ID 19 Placements: {0,1,x}:1\n', 'cannot read'),
    ('GPU  0 Profile ID 19 Placements: {}:1\n', 'cannot read'),
    ('GPU -1 Profile ID 19 Placements: {0}:1\n', 'cannot read'),
    ('GPU  0 Profile ID 19 Placements: {0,1}:0\n', 'placement size 0'),
    ('GPU  0 Profile ID 19 Placements: {0,0}:1\n', 'a start listed twice'),
    ('GPU  0 Profile ID 19 Placements: {0}:1\nGPU  0 Profile ID 19 Placements: {1}:1\n', 'profile ID 19 of GPU 0 twice'),
])
def test_lgipp_malformed_lines_are_errors(text, match):
    with pytest.raises(ns.NvidiaSmiError, match=match):
        ns.parse_lgipp(text)


def test_gather_unreadable_lgip_is_a_warning_not_silence():
    base = scenario_runner('h200-141gb')

    def run(args):
        if tuple(args) == ns.LGIP_ARGS:
            return 0, '+--+\n| a table from the future |\n+--+\n', ''
        return base(args)
    facts = ns.gather(run)
    assert facts['gpus'][0]['mig_profiles'] == []
    assert len(facts['warnings']) == 1 and 'no profile row' in facts['warnings'][0]


def test_lgip_messages_give_nothing():
    assert ns.parse_lgip(fixture('l40s', 'lgip.txt')) == {}
    assert ns.parse_lgip('No MIG-enabled devices found.\n') == {}
    assert ns.parse_lgipp('') == {}


def test_lgip_mig_enabled_free_counts_a100():
    """MIG guide layout, MIG on, 2g.10gb@0 + 1g.5gb@2 + 3g.20gb@4 created: only slot 3 is left."""
    lgip = ns.parse_lgip(fixture('a100-sxm4-40gb-mig', 'lgip.txt'))
    free = dict((p['name'], (p['instances_free'], p['instances_total'])) for p in lgip[0])
    assert free == {'1g.5gb': (1, 7), '1g.5gb+me': (1, 1), '1g.10gb': (0, 4), '2g.10gb': (0, 3),
                    '3g.20gb': (0, 2), '4g.20gb': (0, 1), '7g.40gb': (0, 1)}


# --- gather(): the whole read, as the module does it ----------------------------------------------------------

def test_gather_h200_exact_keys_and_values():
    facts = ns.gather(scenario_runner('h200-141gb'))
    assert facts['gpu_count'] == 1 and facts['driver_version'] == '580.159.04' and facts['cuda_version'] == '13.0'
    assert facts['warnings'] == []
    gpu = facts['gpus'][0]
    assert tuple(sorted(gpu)) == tuple(sorted(ns.GPU_KEYS))
    assert gpu['index'] == 0 and gpu['name'] == 'NVIDIA H200' and gpu['pci_device_id'] == '0x233510DE'
    assert gpu['memory_total_mib'] == 143771 and gpu['compute_capability'] == '9.0'
    assert gpu['mig_mode_current'] == gpu['mig_mode_pending'] == 'disabled'
    assert gpu['mig_capable'] is True and gpu['catalog_model'] == 'H200-141GB'
    assert gpu['cuda_version'] == '13.0' and gpu['driver_version'] == '580.159.04'
    for p in gpu['mig_profiles']:
        assert tuple(sorted(p)) == tuple(sorted(ns.PROFILE_KEYS))
        assert isinstance(p['memory_gib'], float)
    assert dict((p['name'], (p['placements'], p['placement_size'])) for p in gpu['mig_profiles']) == H200_PLACEMENTS


def test_h200_reported_placements_equal_catalog():
    """Cross-check: what the real H200 reports is exactly the catalog's table (names, ids, placements, GiB)."""
    gpu = ns.gather(scenario_runner('h200-141gb'))['gpus'][0]
    model = mig_catalog.lookup('NVIDIA H200')
    assert model.key == gpu['catalog_model']
    assert [p['name'] for p in gpu['mig_profiles']] == list(model.profiles)
    for p in gpu['mig_profiles']:
        cat = model.profiles[p['name']]
        assert p['placements'] == list(cat.placements)
        assert p['placement_size'] == cat.size
        assert p['id'] == cat.gi_profile_id
        assert p['instances_total'] == cat.max_count
        assert p['memory_gib'] == cat.memory_gib
    assert model.memory_total_mib == gpu['memory_total_mib']


def test_facts_feed_model_from_facts():
    """The facts are what mig_catalog.model_from_facts consumes; the node's model places like the catalog's."""
    gpu = ns.gather(scenario_runner('h200-141gb'))['gpus'][0]
    node_model = mig_catalog.model_from_facts(gpu)
    assert node_model.source == 'node' and node_model.placement_units == 8
    catalog = mig_catalog.lookup('NVIDIA H200')
    for counts in ({'3g.71gb': 2}, {'3g.71gb': 2, '1g.18gb': 1}, {'2g.35gb': 3, '1g.18gb': 1}, {'4g.71gb': 1, '3g.71gb': 1}):
        assert mig_catalog.fits(node_model, counts) == mig_catalog.fits(catalog, counts)
    assert not mig_catalog.fits(node_model, {'3g.71gb': 2, '1g.18gb': 1})


def test_gather_x8():
    calls = []
    facts = ns.gather(scenario_runner('h200-141gb-x8', calls))
    assert facts['gpu_count'] == 8 and [g['index'] for g in facts['gpus']] == list(range(8))
    assert [g['uuid'][:12] for g in facts['gpus']] == ['GPU-0000000%d' % i for i in range(8)]
    for g in facts['gpus']:
        assert dict((p['name'], (p['placements'], p['placement_size'])) for p in g['mig_profiles']) == H200_PLACEMENTS
    assert [tuple(c) for c in calls] == [tuple(ns.query_args()), ns.Q_ARGS, ns.LGIP_ARGS, ns.LGIPP_ARGS]


def test_gather_a100_mig_enabled():
    facts = ns.gather(scenario_runner('a100-sxm4-40gb-mig'))
    gpu = facts['gpus'][0]
    assert gpu['mig_mode_current'] == 'enabled' and gpu['catalog_model'] == 'A100-SXM4-40GB'
    assert facts['cuda_version'] == '12.0'
    model = mig_catalog.lookup(pci_device_id=gpu['pci_device_id'])
    for p in gpu['mig_profiles']:
        assert (p['placements'], p['placement_size']) == (list(model.profiles[p['name']].placements),
                                                          model.profiles[p['name']].size)


def test_gather_a30_mixed_modes_two_gpus():
    facts = ns.gather(scenario_runner('a30-x2'))
    g0, g1 = facts['gpus']
    assert (g0['mig_mode_current'], g0['mig_mode_pending']) == ('enabled', 'enabled')
    assert (g1['mig_mode_current'], g1['mig_mode_pending']) == ('disabled', 'enabled')
    assert g0['catalog_model'] == g1['catalog_model'] == 'A30-24GB'
    assert g0['mig_profiles'] == g1['mig_profiles']
    assert [(p['name'], p['id'], p['placements'], p['placement_size']) for p in g0['mig_profiles']] == [
        ('1g.6gb', 14, [0, 1, 2, 3], 1), ('1g.6gb+me', 21, [0, 1, 2, 3], 1), ('2g.12gb', 5, [0, 2], 2),
        ('2g.12gb+me', 6, [0, 2], 2), ('4g.24gb', 0, [0], 4)]
    node_model = mig_catalog.model_from_facts(g0)
    assert node_model.placement_units == 4


def test_gather_old_driver_retries_without_compute_cap():
    calls = []
    facts = ns.gather(scenario_runner('a100-sxm4-40gb-r470', calls))
    gpu = facts['gpus'][0]
    assert gpu['compute_capability'] is None and gpu['name'] == 'A100-SXM4-40GB'
    assert gpu['catalog_model'] == 'A100-SXM4-40GB'
    assert '1g.10gb' not in [p['name'] for p in gpu['mig_profiles']]
    assert any('compute_cap' in w for w in facts['warnings'])
    assert calls[0] != calls[1] and 'compute_cap' not in calls[1][0]


def test_gather_l40s_no_mig_uses_banner_and_skips_mig_commands():
    calls = []
    facts = ns.gather(scenario_runner('l40s', calls))
    gpu = facts['gpus'][0]
    assert gpu['mig_capable'] is False and gpu['mig_profiles'] == [] and gpu['mig_mode_current'] == 'n/a'
    assert facts['cuda_version'] == '12.4' and facts['warnings'] == []
    assert [tuple(c) for c in calls] == [tuple(ns.query_args()), ns.Q_ARGS, ns.BANNER_ARGS]


def test_gather_lgip_failure_on_mig_gpu_is_a_warning():
    base = scenario_runner('h200-141gb')

    def run(args):
        if tuple(args) == ns.LGIP_ARGS:
            return 4, 'Insufficient Permissions\n', ''
        return base(args)
    facts = ns.gather(run)
    assert facts['gpus'][0]['mig_profiles'] == [] and facts['gpus'][0]['mig_capable'] is True
    assert len(facts['warnings']) == 1 and 'become' in facts['warnings'][0]


def test_gather_without_lgipp_leaves_placements_null():
    base = scenario_runner('h200-141gb')

    def run(args):
        if tuple(args) == ns.LGIPP_ARGS:
            return 2, 'Invalid combination of input arguments.\n', ''
        return base(args)
    facts = ns.gather(run)
    profiles = facts['gpus'][0]['mig_profiles']
    assert len(profiles) == 7 and all(p['placements'] is None and p['placement_size'] is None for p in profiles)
    assert any('lgipp' in w for w in facts['warnings'])
    # the catalog fills in what the node did not say
    assert mig_catalog.model_from_facts(facts['gpus'][0]).profiles['3g.71gb'].placements == (0, 4)


def test_gather_include_mig_profiles_false():
    calls = []
    facts = ns.gather(scenario_runner('h200-141gb', calls), include_mig_profiles=False)
    assert facts['gpus'][0]['mig_profiles'] == [] and facts['gpus'][0]['mig_capable'] is True
    assert ns.LGIP_ARGS not in [tuple(c) for c in calls]


@pytest.mark.parametrize('name,match', [
    ('driver-not-loaded', 'NVIDIA driver is not loaded'),
    ('no-devices', 'no NVIDIA GPU was found'),
    ('version-mismatch', 'Driver/library version mismatch'),
])
def test_gather_failures(name, match):
    with pytest.raises(ns.NvidiaSmiError, match=match):
        ns.gather(scenario_runner(name))


def test_gather_empty_query_is_no_gpu():
    with pytest.raises(ns.NvidiaSmiError, match='listed no GPU'):
        ns.gather(lambda args: (0, '', ''))


def test_gather_unknown_failure_names_rc_and_output():
    with pytest.raises(ns.NvidiaSmiError, match=r'rc=3.*something odd'):
        ns.gather(lambda args: (3, 'something odd\n', ''))


def test_every_command_is_read_only():
    for name in ('h200-141gb', 'h200-141gb-x8', 'a100-sxm4-40gb-mig', 'a100-sxm4-40gb-r470', 'a30-x2', 'l40s'):
        calls = []
        ns.gather(scenario_runner(name, calls))
        for c in calls:
            assert tuple(c) in ns.READ_ONLY_COMMANDS
    writes = {'-mig', '--multi-instance-gpu', '-cgi', '-dgi', '-cci', '-dci', '-r', '--gpu-reset', '-pm', '-pl',
              '-ac', '-rac', '-c', '-e', '-lgc', '-rgc'}
    for args in ns.READ_ONLY_COMMANDS:
        assert not writes & set(args), args
        if args[:1] == ('mig',):
            assert args[1:] in (('-lgip',), ('-lgipp',))


# --- generated tables ------------------------------------------------------------------------------------------

PROFILE = st.fixed_dictionaries(dict(
    name=st.builds(lambda g, gb, suffix: '%dg.%dgb%s' % (g, gb, suffix), st.integers(1, 8), st.integers(1, 999),
                   st.sampled_from(['', '+me', '+gfx', '+me.all', '-me'])),
    id=st.integers(0, 99),
    instances_free=st.integers(0, 8),
    instances_total=st.integers(0, 8),
    memory_gib=st.integers(0, 40000).map(lambda c: c / 100.0),
    sm_count=st.integers(0, 300),
))


def _render_lgip(rows, wide):
    """A -lgip table in the newer (wide) or the MIG-guide (narrow) layout, two text lines per profile."""
    sep = '+' + '-' * (79 if wide else 77) + '+'
    fmt = '|  %2d  MIG %-16s %3d     %-10s %-10s No     %-6d %-5d %-3d |' if wide else \
        '|  %2d  MIG %-14s %3d     %-10s %-10s No     %-5d %-5d %-3d |'
    out = [sep, '| GPU instance profiles:', '| GPU   Name   ID    Instances   Memory     P2P    SM    DEC   ENC  |',
           '|                Free/Total   GiB              CE    JPEG  OFA  |', '|' + '=' * 77 + '|']
    for gpu, p in rows:
        out.append(fmt % (gpu, p['name'], p['id'], '%d/%d' % (p['instances_free'], p['instances_total']),
                          '%.2f' % p['memory_gib'], p['sm_count'], 1, 0))
        out.append('|' + ' ' * 58 + '1     1     0   |')
        out.append(sep)
    return '\n'.join(out) + '\n'


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), PROFILE), max_size=30, unique_by=lambda t: (t[0], t[1]['id'])),
       st.booleans())
def test_lgip_roundtrip(rows, wide):
    parsed = ns.parse_lgip(_render_lgip(rows, wide))
    expected = {}
    for gpu, p in rows:
        expected.setdefault(gpu, []).append(p)
    assert parsed == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 99), st.lists(st.integers(0, 11), min_size=1, max_size=8,
                                                                           unique=True), st.integers(1, 12)),
                max_size=30, unique_by=lambda t: (t[0], t[1])))
def test_lgipp_roundtrip(rows):
    text = ''.join('GPU %2d Profile ID %2d %s {%s}:%d\n' % (g, pid, 'Placements:' if len(starts) > 1 else 'Placement :',
                                                            ','.join(str(s) for s in starts), size)
                   for g, pid, starts, size in rows)
    expected = {}
    for g, pid, starts, size in rows:
        expected.setdefault(g, {})[pid] = (sorted(starts), size)
    assert ns.parse_lgipp(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_parsers_never_crash_on_garbage(text):
    """Garbage gives a result or an NvidiaSmiError (with a message), never another exception."""
    for parse in (ns.parse_lgip, ns.parse_lgipp, ns.parse_query_csv):
        try:
            parse(text)
        except ns.NvidiaSmiError as e:
            assert str(e)
    ns.parse_cuda_version(text)


# --- strict facts: indexes, MIG modes, the placement grid -------------------------------------------------------

def _with(name, **replace):
    """A runner for scenario ``name`` whose answers for some argument tuples are replaced by text."""
    base = scenario_runner(name)

    def run(args):
        for key, text in replace.items():
            if tuple(args) == getattr(ns, key):
                return 0, text, ''
        return base(args)
    return run


H200_ROW = ('0, NVIDIA H200, GPU-0, 00000000:00:06.0, 0x233510DE, 143771, 580.159.04, 9.0, Disabled, Disabled\n')
QUERY = tuple(ns.query_args())


def _query(text):
    base = scenario_runner('h200-141gb')
    return lambda args: (0, text, '') if tuple(args) == QUERY else base(args)


@pytest.mark.parametrize('csv_text,match', [
    (H200_ROW + H200_ROW.replace('GPU-0', 'GPU-1'), 'GPU index 0 twice'),
    (H200_ROW.replace('0, NVIDIA', '-1, NVIDIA', 1), r'negative GPU index \(-1\)'),
    (H200_ROW.replace('0, NVIDIA', 'zero, NVIDIA', 1), "GPU index 'zero', not a number"),
    (H200_ROW.replace('Disabled, Disabled', 'Disabled, Degraded'), "pending MIG mode 'Degraded'.*does not know"),
    (H200_ROW.replace('Disabled, Disabled', 'Enabled*, Disabled'), "current MIG mode 'Enabled\\*'"),
    (H200_ROW.replace('143771', '140 GB'), "memory.total '140 GB'"),
    (H200_ROW.replace('Disabled\n', 'Disabled, 700 W\n'), '11 columns where 10 were asked for.*700 W'),
    (H200_ROW.replace(', Disabled\n', '\n'), '9 columns where 10 were asked for'),
])
def test_query_bad_rows_are_errors(csv_text, match):
    with pytest.raises(ns.NvidiaSmiError, match=match):
        ns.gather(_query(csv_text))


def test_csv_header_with_a_column_twice():
    with pytest.raises(ns.NvidiaSmiError, match='naming name twice'):
        ns.parse_query_csv('index, name, name\n0, a, b\n')


def test_mig_mode_na_spellings_are_na_and_unknown_is_an_error():
    for v in (None, '', 'N/A', '[N/A]', '[Not Supported]'):
        assert ns.normalize_mig_mode(v) == 'n/a'
    with pytest.raises(ns.NvidiaSmiError, match="'Pending', which .*expected Enabled, Disabled or N/A"):
        ns.normalize_mig_mode('Pending')


def test_placement_past_the_grid_is_an_error():
    lgipp = fixture('h200-141gb', 'lgipp.txt').replace('{0,4}:4', '{0,4,6}:4')
    with pytest.raises(ns.NvidiaSmiError) as e:
        ns.gather(_with('h200-141gb', LGIPP_ARGS=lgipp))
    assert str(e.value) == ('GPU 0 (NVIDIA H200) profile 3g.71gb (ID 9): nvidia-smi mig -lgipp places it at '
                            '{0,4,6}:4, which runs past the 8-slot placement grid of H200-141GB')


def test_more_instances_than_placements_hold_is_an_error():
    """The 70 x 1g.18gb on one H200 kind of fact: 7 one-slot placements cannot hold 70 instances."""
    lgip = fixture('h200-141gb', 'lgip.txt').replace('7/7        16.00      No     16', '70/70      16.00      No     16')
    with pytest.raises(ns.NvidiaSmiError, match=r'1g\.18gb \(ID 19\): 70 instances reported, but its placements '
                                                r'\{0,1,2,3,4,5,6\}:1 hold at most 7'):
        ns.gather(_with('h200-141gb', LGIP_ARGS=lgip))


def test_more_free_than_total_and_more_memory_than_the_gpu_are_errors():
    lgip = fixture('h200-141gb', 'lgip.txt')
    with pytest.raises(ns.NvidiaSmiError, match='reports 8 free of 7 instances'):
        ns.gather(_with('h200-141gb', LGIP_ARGS=lgip.replace('7/7        16.00', '8/7        16.00')))
    with pytest.raises(ns.NvidiaSmiError, match=r"7g\.141gb \(ID 0\): 240\.00 GiB per instance is more than the "
                                                r"GPU's 140\.40 GiB"):
        ns.gather(_with('h200-141gb', LGIP_ARGS=lgip.replace('140.00     No', '240.00     No')))


def test_placements_that_fit_but_differ_from_the_catalog_are_kept_with_a_warning():
    lgipp = fixture('h200-141gb', 'lgipp.txt').replace(
        'Profile ID 14 Placements: {0,2,4}:2', 'Profile ID 14 Placements: {0,2}:2')
    lgip = fixture('h200-141gb', 'lgip.txt').replace('3/3        32.50', '2/2        32.50')
    facts = ns.gather(_with('h200-141gb', LGIPP_ARGS=lgipp, LGIP_ARGS=lgip))
    prof = [p for p in facts['gpus'][0]['mig_profiles'] if p['name'] == '2g.35gb'][0]
    assert prof['placements'] == [0, 2]
    assert facts['warnings'] == [
        "GPU 0 (NVIDIA H200) profile 2g.35gb (ID 14): the node places it at {0,2}:2, the catalog at {0,2,4}:2; the "
        "node's placements are used (update plugins/module_utils/mig_catalog_data.py if the node is right)"]


def test_mig_tables_naming_gpus_the_query_did_not_list_are_an_error():
    lgip = fixture('h200-141gb-x8', 'lgip.txt')
    with pytest.raises(ns.NvidiaSmiError, match=r'mig -lgip lists GPU\(s\) 1, 2, 3, 4, 5, 6, 7 that nvidia-smi '
                                                r'--query-gpu did not list \(0\)'):
        ns.gather(_with('h200-141gb', LGIP_ARGS=lgip))


def test_unknown_gpu_is_checked_against_the_largest_grid():
    row = H200_ROW.replace('NVIDIA H200', 'NVIDIA Future').replace('0x233510DE', '0xFFFF10DE')
    lgipp = fixture('h200-141gb', 'lgipp.txt').replace('{0}:8', '{0,5}:8')
    rest = _with('h200-141gb', LGIPP_ARGS=lgipp)
    with pytest.raises(ns.NvidiaSmiError, match=r'\{0,5\}:8, which runs past the 12-slot placement grid of any GPU this collection knows'):
        ns.gather(lambda args: (0, row, '') if tuple(args) == QUERY else rest(args))


# --- time limits -----------------------------------------------------------------------------------------------

def test_run_with_timeout_kills_a_hung_command_and_says_the_gpu_may_be_wedged(tmp_path):
    import time
    script = tmp_path / 'nvidia-smi'
    script.write_text('#!/bin/sh\nsleep 300 &\nwait\n')
    script.chmod(0o755)
    start = time.monotonic()
    with pytest.raises(ns.NvidiaSmiTimeout) as e:
        ns.run_with_timeout([str(script), 'mig', '-lgip'], 1)
    assert time.monotonic() - start < 10
    assert str(e.value).startswith('nvidia-smi mig -lgip did not finish within 1 s (option timeout) and was killed: '
                                   'the GPU or the NVIDIA driver may be wedged.')
    assert e.value.command == 'nvidia-smi mig -lgip' and e.value.timeout == 1


def test_run_with_timeout_returns_output_rc_and_environment(tmp_path):
    script = tmp_path / 'nvidia-smi'
    script.write_text('#!/bin/sh\necho "out $LC_ALL $1"\necho err >&2\nexit 3\n')
    script.chmod(0o755)
    assert ns.run_with_timeout([str(script), '-q'], 10, dict(LC_ALL='C')) == (3, 'out C -q\n', 'err\n')


def test_run_with_timeout_missing_binary(tmp_path):
    with pytest.raises(ns.NvidiaSmiError, match='could not be started'):
        ns.run_with_timeout([str(tmp_path / 'nope')], 5)


def test_gather_lets_a_timeout_through():
    base = scenario_runner('h200-141gb')

    def run(args):
        if tuple(args) == ns.LGIPP_ARGS:
            raise ns.NvidiaSmiTimeout('nvidia-smi mig -lgipp', 30)
        return base(args)
    with pytest.raises(ns.NvidiaSmiTimeout, match='mig -lgipp did not finish within 30 s'):
        ns.gather(run)
