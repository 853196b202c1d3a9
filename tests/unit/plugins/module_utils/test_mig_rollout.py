# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIG rollout's decisions (plugins/module_utils/mig_rollout.py and its filters)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.cnai.platform.plugins.filter import mig_rollout as flt
from ansible_collections.cnai.platform.plugins.module_utils import mig_rollout as ro
from ansible_collections.cnai.platform.plugins.module_utils.gpu_inventory import planner_nodes
from ansible_collections.cnai.platform.plugins.module_utils.mig_planner import plan as mig_plan

H200 = '0x233510DE'
DOC = {'version': 'v1', 'mig-configs': {
    'all-disabled': [{'devices': 'all', 'mig-enabled': False}],
    'all-1g': [{'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.18gb': 7}}],
}}
PLAN = {'mig_config': DOC, 'node_configs': {'n1': 'all-1g', 'n2': 'all-disabled', 'n3': 'all-1g'},
        'report': 'line 1\nline 2'}


def fake_expected(document, config, gpu_count, strategy, gpu_product=None, pci_device_id=None, replicas=1):
    assert config in document['mig-configs']
    if config == 'all-disabled':
        return {'nvidia.com/gpu': gpu_count * replicas}
    return {'nvidia.com/mig-1g.18gb': 7 * gpu_count}


def live(name, config=None, state=None, unschedulable=False, marked=False, dp=None, replicas=None, alloc=None):
    labels = {}
    if config:
        labels['nvidia.com/mig.config'] = config
    if state:
        labels['nvidia.com/mig.config.state'] = state
    if dp:
        labels['nvidia.com/device-plugin.config'] = dp
    if replicas:
        labels['nvidia.com/gpu.replicas'] = str(replicas)
    ann = {ro.CORDON_ANNOTATION: 'x'} if marked else {}
    return {'metadata': {'name': name, 'labels': labels, 'annotations': ann},
            'spec': {'unschedulable': True} if unschedulable else {},
            'status': {'allocatable': dict((k, str(v)) for k, v in (alloc or {}).items())}}


def records(*nodes):
    return [{'host': n['metadata']['name'], 'name': n['metadata']['name'], 'gpu_count': 2, 'gpu_product': 'NVIDIA H200',
             'pci_device_id': H200, 'current_config': n['metadata']['labels'].get('nvidia.com/mig.config', ''),
             'node': n} for n in nodes]


def test_targets_changes_batches_and_report():
    recs = records(live('n3', 'all-1g', 'pending'), live('n1', 'all-disabled', 'success'),
                   live('n2', 'all-disabled', 'success'))
    out = ro.rollout_plan(recs, PLAN, 'mixed', fake_expected, max_unavailable=1)
    by = dict((t['name'], t) for t in out['targets'])
    assert [t['name'] for t in out['targets']] == ['n1', 'n2', 'n3']
    assert by['n1']['relabel'] and by['n1']['change'] and by['n1']['previous'] == 'all-disabled'
    assert not by['n2']['change'] and not by['n2']['relabel']
    # labelled with its target but its last change did not succeed: touched, not relabelled
    assert by['n3']['change'] and not by['n3']['relabel']
    assert by['n1']['expected'] == {'nvidia.com/mig-1g.18gb': 14}
    assert [[t['name'] for t in b] for b in out['batches']] == [['n1'], ['n3']]
    assert out['report'] == ['line 1', 'line 2', 'Nodes to reconfigure, 1 at a time: n1 (all-disabled/success -> '
                             'all-1g), n3 (all-1g/pending -> all-1g)']


def test_cordons_ours_theirs_and_a_previous_runs():
    recs = records(live('n1', 'all-1g', 'success', unschedulable=True, marked=True),
                   live('n2', 'all-disabled', 'success', unschedulable=True),
                   live('n3', 'all-disabled', 'success', unschedulable=True))
    out = ro.rollout_plan(recs, PLAN, 'mixed', fake_expected, max_unavailable=2, check_mode=True)
    by = dict((t['name'], t) for t in out['targets'])
    assert by['n1']['change'] and by['n1']['cordon_ours'] and 'cordoned by a previous run' in by['n1']['summary']
    assert not by['n2']['change']      # at its target; someone else's cordon is not ours to lift
    assert by['n3']['change'] and not by['n3']['cordon_ours']
    assert 'cordoned by someone else: stays cordoned' in by['n3']['summary']
    assert out['report'][-1].startswith('Nodes to reconfigure, 2 at a time (check mode: nothing will change): n1 (')
    assert [[t['name'] for t in b] for b in out['batches']] == [['n1', 'n3']]


def test_nothing_to_do_says_so():
    recs = records(live('n1', 'all-1g', 'success'), live('n2', 'all-disabled', 'success'), live('n3', 'all-1g', 'success'))
    out = ro.rollout_plan(recs, PLAN, 'mixed', fake_expected)
    assert out['changes'] == [] and out['batches'] == []
    assert out['report'][-1].endswith('none, every node is at its target')


def test_kept_configs_only_those_nodes_carry_and_the_old_document_defines():
    old = {'version': 'v1', 'mig-configs': {'old-a': [{'devices': 'all', 'mig-enabled': False}],
                                            'old-b': [], 'all-1g': ['stale']}}
    recs = records(live('n1', 'old-a', 'success'), live('n2', 'gone', 'success'), live('n3', 'all-1g', 'success'))
    out = ro.rollout_plan(recs, PLAN, 'mixed', fake_expected, old_document=old)
    assert out['kept'] == ['old-a']
    assert sorted(out['document']['mig-configs']) == ['all-1g', 'all-disabled', 'old-a']
    assert out['document']['mig-configs']['all-1g'] == DOC['mig-configs']['all-1g']   # the plan wins
    assert PLAN['mig_config']['mig-configs'].keys() == DOC['mig-configs'].keys()       # input not mutated


def test_time_slicing_per_node_and_replica_bookkeeping():
    recs = records(live('n1', dp='cnai-ts-4', replicas=4), live('n2', dp='cnai-ts-2', replicas=2), live('n3', dp='other'))
    out = ro.rollout_plan(recs, PLAN, 'mixed', fake_expected, time_slicing={'n2': '3', 'n1': 4})
    ts = dict((t['name'], t) for t in out['time_slicing'])
    assert (ts['n1']['set'], ts['n1']['unset']) == (False, False)
    assert (ts['n2']['want'], ts['n2']['set'], ts['n2']['replicas']) == ('cnai-ts-3', True, 3)
    assert ts['n2']['expected'] == {'nvidia.com/gpu': 6}
    assert (ts['n3']['want'], ts['n3']['set'], ts['n3']['unset']) == ('', False, False)   # not ours
    assert out['replicas_wanted'] == [3, 4] and out['replicas_in_use'] == [2, 4]
    # the MIG rollout's expectation keeps the replicas the node carries now
    assert dict((t['name'], t) for t in out['targets'])['n2']['expected'] == {'nvidia.com/gpu': 4}


@pytest.mark.parametrize('kwargs,match', [
    ({'time_slicing': {'n1': 0}}, r'replicas must be integers from 1 to 1024 \(n1: 0\)'),
    ({'time_slicing': {'n1': True}}, r'replicas must be integers from 1 to 1024 \(n1: True\)'),
    ({'time_slicing': {'n1': 'four'}}, r"\(n1: 'four'\)"),
    ({'time_slicing': {'n1': 2000}}, r'\(n1: 2000\)'),
    ({'time_slicing': {'cpu-0': 2}}, r'names nodes that are not GPU nodes of the inventory group: cpu-0'),
    ({'time_slicing': ['n1']}, r'must be a map of node name -> replicas'),
    ({'max_unavailable': 0}, r'gpu_partitioning_max_unavailable must be an integer >= 1'),
    ({'max_unavailable': True}, r'gpu_partitioning_max_unavailable must be an integer >= 1'),
])
def test_bad_knobs_name_the_variable(kwargs, match):
    recs = records(live('n1'), live('n2'), live('n3'))
    with pytest.raises(ro.RolloutError, match=match):
        ro.rollout_plan(recs, PLAN, 'mixed', fake_expected, **kwargs)


def test_bad_strategy_and_planner_bugs_are_refused():
    recs = records(live('n1'), live('n2'), live('n3'))
    with pytest.raises(ro.RolloutError, match='gpu_partitioning_strategy must be mixed or single'):
        ro.rollout_plan(recs, PLAN, 'both', fake_expected)
    broken = {'mig_config': DOC, 'node_configs': {'n1': 'nope', 'n2': 'all-1g'}}
    with pytest.raises(ro.RolloutError, match=r'lacks configs nope or node_configs lacks nodes n3 .*a planner bug'):
        ro.rollout_plan(recs, broken, 'mixed', fake_expected)
    with pytest.raises(ro.RolloutError, match='not version v1'):
        ro.rollout_plan(recs, {'mig_config': {}, 'node_configs': {}}, 'mixed', fake_expected)


def test_evictable_pods_skip_daemonsets_mirrors_and_finished():
    pods = [
        {'metadata': {'namespace': 'a', 'name': 'web'}, 'status': {'phase': 'Running'}},
        {'metadata': {'namespace': 'a', 'name': 'ds', 'ownerReferences': [{'kind': 'DaemonSet'}]}},
        {'metadata': {'namespace': 'kube-system', 'name': 'mirror', 'annotations': {'kubernetes.io/config.mirror': 'x'}}},
        {'metadata': {'namespace': 'a', 'name': 'done'}, 'status': {'phase': 'Succeeded'}},
        {'metadata': {'namespace': 'a', 'name': 'crashed'}, 'status': {'phase': 'Failed'}},
        {'metadata': {'namespace': 'a', 'name': 'pending'}, 'status': {'phase': 'Pending'}},
    ]
    assert ro.evictable_pods(pods) == ['a/pending', 'a/web']
    assert ro.evictable_pods(None) == []


def test_failure_info_keeps_messages_and_pods_left():
    result = {'msg': 'x' * 700, 'results': [
        {'failed': True, 'msg': 'n1: pods left', 'resources': [
            {'metadata': {'namespace': 'a', 'name': 'p'}, 'status': {'phase': 'Running'}}]},
        {'failed': False, 'msg': 'fine'}]}
    info = ro.failure_info('Check that the drain finished before its deadline', result)
    assert info['task'].startswith('Check that the drain') and len(info['msg']) == 600
    assert info['item_msgs'] == 'n1: pods left' and info['pods_left'] == ['a/p']
    assert ro.failure_info(None, 'not a dict') == {'task': '?', 'msg': '', 'item_msgs': '', 'pods_left': []}


def alloc_fn(node):
    return dict((k, int(v)) for k, v in ((node or {}).get('status') or {}).get('allocatable', {}).items() if int(v))


BATCH = [
    {'name': 'n1', 'target': 'all-1g', 'previous': 'all-disabled', 'relabel': True, 'cordon_ours': True,
     'expected': {'nvidia.com/mig-1g.18gb': 14}},
    {'name': 'n2', 'target': 'all-1g', 'previous': 'all-disabled', 'relabel': True, 'cordon_ours': True,
     'expected': {'nvidia.com/mig-1g.18gb': 14}},
    {'name': 'n3', 'target': 'all-1g', 'previous': 'old', 'relabel': True, 'cordon_ours': False,
     'expected': {'nvidia.com/mig-1g.18gb': 14}},
]


def test_settle_untouched_done_failed():
    after = [live('n1', 'all-disabled', 'success'),
             live('n2', 'all-1g', 'success', alloc={'nvidia.com/mig-1g.18gb': 14}),
             live('n3', 'all-1g', 'failed')]
    s = ro.settle_batch(BATCH, after, alloc_fn)
    assert [s['outcomes'][n]['outcome'] for n in ('n1', 'n2', 'n3')] == ['untouched', 'done', 'failed']
    assert s['uncordon'] == ['n1', 'n2'] and s['failed'] == ['n3'] and s['rollback'] == ['n3']
    assert s['outcomes']['n3']['summary'] == ('n3: nvidia.com/mig.config=all-1g, nvidia.com/mig.config.state=failed, '
                                              'allocatable {} (planned {nvidia.com/mig-1g.18gb: 14}) -> failed')
    # success with the wrong resources is a failure; a node that vanished too
    s = ro.settle_batch(BATCH[:2], [live('n1', 'all-1g', 'success', alloc={'nvidia.com/gpu': 2})], alloc_fn)
    assert s['failed'] == ['n1', 'n2'] and s['uncordon'] == []


def test_report_names_everything_and_rollback_states():
    after = [live('n1', 'all-disabled', 'success'), live('n2', 'all-1g', 'failed'), live('n3', 'all-1g', 'pending')]
    s = ro.settle_batch(BATCH, after, alloc_fn)
    lines = ro.rollback_states(BATCH, s['rollback'], [live('n2', 'all-disabled', 'success'), live('n3', 'all-1g', 'pending')], 20)
    assert lines == ['n2 -> all-disabled success', 'n3 -> old not applied (the label is all-1g), left cordoned']
    assert ro.rollback_states(BATCH, ['n2'], [live('n2', 'all-disabled', 'pending')], 20) == [
        'n2 -> all-disabled pending after 20 s, left cordoned']
    changes = BATCH + [{'name': 'n4'}, {'name': 'n5'}]
    msg = ro.failure_report(BATCH, s, {'task': 'Wait', 'msg': 'boom', 'item_msgs': 'n2: failed', 'pods_left': ['a/p']},
                            ro.later_nodes(changes, 0, 3), rollback=True, rollback_lines=lines, drain_timeout=6)
    for part in ['MIG rollout stopped at n1, n2, n3.', 'Failed step: Wait: boom', 'n2: failed.',
                 'Pods still on the node after 6 s', ': a/p.', 'Rolled back (previous config restored): n2, n3.',
                 'Rollback: n2 -> all-disabled success, n3 -> old not applied',
                 'Cordoned by someone else before this run, left cordoned: n3.',
                 'Not touched (later in the rollout): n4, n5.', 'To recover']:
        assert part in msg, part
    assert 'gpu_partitioning_rollback=true' not in msg
    clean = ro.settle_batch(BATCH[:1], [live('n1', 'all-disabled', 'success')], alloc_fn)
    msg = ro.failure_report(BATCH[:1], clean, {'task': 'Drain', 'msg': 'disruption budget'}, [])
    assert 'No node was left with a half-applied config' in msg and 'Not touched (later in the rollout): none.' in msg
    assert 're-run with -e gpu_partitioning_rollback=true' in msg


def test_filters_parse_the_old_document_and_refuse_garbage():
    recs = records(live('n1', 'old-a'), live('n2'), live('n3'))
    text = 'version: v1\nmig-configs:\n  old-a:\n    - {devices: all, mig-enabled: false}\n'
    out = flt.mig_rollout_plan(dict(PLAN, mig_config=dict(DOC, **{'mig-configs': dict(DOC['mig-configs'])})), recs,
                               old_document=text)
    assert out['kept'] == ['old-a']
    with pytest.raises(AnsibleFilterError, match='ConfigMap x is not valid YAML'):
        flt.mig_rollout_plan(PLAN, recs, old_document='a: [', old_document_name='ConfigMap x')
    with pytest.raises(AnsibleFilterError, match='ConfigMap x is not a mig-parted document'):
        flt.mig_rollout_plan(PLAN, recs, old_document='- 1\n- 2\n', old_document_name='ConfigMap x')
    with pytest.raises(AnsibleFilterError, match='gpu_partitioning: gpu_partitioning_time_slicing'):
        flt.mig_rollout_plan(PLAN, recs, time_slicing={'zz': 1})
    assert sorted(flt.FilterModule().filters()) == ['mig_rollout_evictable', 'mig_rollout_failure', 'mig_rollout_plan',
                                                    'mig_rollout_report', 'mig_rollout_settle']


def test_real_expected_resources_through_the_filter():
    recs = records(live('n1'), live('n2'), live('n3'))
    out = flt.mig_rollout_plan(PLAN, recs)
    assert dict((t['name'], t['expected']) for t in out['targets']) == {
        'n1': {'nvidia.com/mig-1g.18gb': 14}, 'n2': {'nvidia.com/gpu': 2}, 'n3': {'nvidia.com/mig-1g.18gb': 14}}


def test_a_thousand_nodes_are_decided_in_linear_time():
    hv = dict(('gpu-%04d' % i, {'cnai_gpu_product': 'NVIDIA H200', 'cnai_gpu_count': 8}) for i in range(1000))
    live_nodes = [live(h, 'all-disabled', 'success') for h in hv]
    nodes = planner_nodes(sorted(hv), hv, live_nodes=live_nodes)
    plan = mig_plan(nodes['nodes'], [{'name': 'w', 'instances': 3000, 'profile': '1g.18gb'}])
    t0 = time.time()
    out = flt.mig_rollout_plan(plan, nodes['records'], max_unavailable=10)
    assert time.time() - t0 < 5
    assert len(out['targets']) == 1000
    assert sum(len(b) for b in out['batches']) == len(out['changes']) > 0
