# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner against an independent exhaustive oracle, plus its invariants and its errors."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog as mc
from ansible_collections.cnai.platform.plugins.module_utils import mig_planner as mp

sys.path.insert(0, os.path.dirname(__file__))
import planner_oracle as oracle  # noqa: E402

MODELS = ['H200-141GB', 'A100-SXM4-40GB', 'A100-80GB', 'A30-24GB', 'RTX-PRO-6000-Blackwell-96GB', 'B200-180GB']


def table(model, names):
    return dict((n, (model.profiles[n].size, model.profiles[n].placements, model.profiles[n].max_count))
                for n in names)


def check_plan(result, nodes, workloads):
    """Invariants every plan must satisfy, checked with the oracle's own placement enumeration."""
    by_name = dict((n['name'], n) for n in nodes)
    configs = result['mig_config']['mig-configs']
    assert result['mig_config']['version'] == 'v1'
    assert configs['all-disabled'] == [{'devices': 'all', 'mig-enabled': False}]
    layouts = {}
    for node, cname in result['node_configs'].items():
        assert mc.is_label_value(cname), cname
        assert cname in configs
        model = mc.lookup(by_name[node]['gpu_product'])
        count = by_name[node]['gpu_count']
        covered = {}
        for entry in configs[cname]:
            devices = range(count) if entry['devices'] == 'all' else entry['devices']
            for d in devices:
                assert d not in covered, 'GPU %d of %s matched twice' % (d, node)
                if entry['mig-enabled']:
                    assert entry['mig-devices'], entry
                    covered[d] = dict(entry['mig-devices'])
                    assert oracle.is_placeable(model.placement_units, table(model, entry['mig-devices']),
                                               entry['mig-devices']), (node, entry)
                else:
                    assert 'mig-devices' not in entry
                    covered[d] = None
        assert sorted(covered) == list(range(count)), 'not every GPU of %s is covered' % node
        layouts[node] = covered
    # Demand is met exactly, each assignment sits in capacity the config provides.
    per_workload = {}
    used = {}
    for a in result['assignments']:
        per_workload[a['workload']] = per_workload.get(a['workload'], 0) + 1
        if a['profile'] is None:
            for g in a['gpu']:
                assert layouts[a['node']][g] is None
                assert (a['node'], g) not in used
                used[(a['node'], g)] = 'whole'
        else:
            slot = used.setdefault((a['node'], a['gpu']), {})
            assert slot != 'whole'
            slot[a['profile']] = slot.get(a['profile'], 0) + 1
            assert slot[a['profile']] <= layouts[a['node']][a['gpu']].get(a['profile'], 0)
    for w in workloads:
        assert per_workload.get(w['name'], 0) == w.get('instances', 1)
    assert result['gpus_used'] == len(used)
    assert result['gpus_used'] >= result['lower_bound']


@st.composite
def single_model_case(draw):
    key = draw(st.sampled_from(MODELS))
    model = mc.models()[key]
    base = sorted(p for p in model.profiles if model.profiles[p].is_base)
    names = draw(st.lists(st.sampled_from(base), min_size=1, max_size=4, unique=True))
    demand = dict((n, draw(st.integers(1, 9))) for n in names)
    sizes = draw(st.lists(st.integers(1, 8), min_size=1, max_size=5))
    return model, demand, sizes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(single_model_case())
def test_minimum_matches_exhaustive_oracle(case):
    model, demand, sizes = case
    product = model.pci_ids[0]
    nodes = [{'name': 'n%d' % i, 'gpu_product': product, 'gpu_count': s} for i, s in enumerate(sizes)]
    workloads = [{'name': 'w%d' % i, 'instances': c, 'profile': n} for i, (n, c) in enumerate(sorted(demand.items()))]
    need = oracle.min_gpus(model.placement_units, table(model, demand), demand)
    if need > sum(sizes):
        with pytest.raises(mp.PlanError, match='short by %d' % (need - sum(sizes))):
            mp.plan(nodes, workloads)
        return
    result = mp.plan(nodes, workloads)
    assert result['gpus_used'] == need
    check_plan(result, nodes, workloads)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([4, 8, 16, 19, 30, 39, 60, 70]), st.integers(1, 4)), min_size=1, max_size=3),
       st.integers(1, 3), st.integers(1, 3))
def test_heterogeneous_fleet_matches_oracle(demands, h200s, a100s):
    """Workloads that fit two models: the planner's split must be as good as the best split."""
    h, a = mc.lookup('NVIDIA H200'), mc.lookup('NVIDIA A100-SXM4-80GB')
    nodes = [{'name': 'h', 'gpu_product': 'NVIDIA H200', 'gpu_count': h200s},
             {'name': 'a', 'gpu_product': 'NVIDIA A100-SXM4-80GB', 'gpu_count': a100s}]
    workloads = [{'name': 'w%d' % i, 'instances': n, 'memory_gib': g} for i, (g, n) in enumerate(demands)]
    options = [[(m, mp._smallest_fit(m, w['memory_gib'])) for m in (h, a) if mp._smallest_fit(m, w['memory_gib'])]
               for w in workloads]
    best = [None]

    def search(i, acc):
        if i == len(workloads):
            total = 0
            for m, cap in ((h, h200s), (a, a100s)):
                d = {}
                for (mm, p), c in acc:
                    if mm is m and c:
                        d[p] = d.get(p, 0) + c
                if d:
                    g = oracle.min_gpus(8, table(m, d), d)
                    if g > cap:
                        return
                    total += g
            if best[0] is None or total < best[0]:
                best[0] = total
            return
        n = workloads[i]['instances']
        if len(options[i]) == 1:
            search(i + 1, acc + [(options[i][0], n)])
        else:
            for k in range(n + 1):
                search(i + 1, acc + [(options[i][0], k), (options[i][1], n - k)])

    search(0, [])
    if best[0] is None:
        with pytest.raises(mp.PlanError):
            mp.plan(nodes, workloads)
        return
    result = mp.plan(nodes, workloads)
    assert result['gpus_used'] == best[0]
    check_plan(result, nodes, workloads)


def test_placement_rules_naive_code_gets_wrong():
    h200 = mc.lookup('NVIDIA H200')
    assert not mc.fits(h200, {'3g.71gb': 2, '1g.18gb': 1})        # compute sums to 7, memory does not fit
    assert mc.fits(h200, {'4g.71gb': 1, '3g.71gb': 1})            # 3g must go to slot 4
    assert mc.placement(h200, {'4g.71gb': 1, '3g.71gb': 1}) == [(0, '4g.71gb'), (4, '3g.71gb')]
    assert not mc.fits(h200, {'2g.35gb': 4})                       # 2g never at 6
    assert mc.fits(h200, {'2g.35gb': 3, '1g.35gb': 1})
    assert not mc.fits(h200, {'1g.18gb': 8})                       # unit 7 is not a 1g slot
    assert not mc.fits(h200, {'1g.35gb': 4, '1g.18gb': 1})         # max counts are not sufficient
    assert not mc.fits(h200, {'7g.141gb': 1, '1g.18gb+me': 1})
    a100_40, a100_80 = mc.lookup('NVIDIA A100-SXM4-40GB'), mc.lookup('NVIDIA A100-SXM4-80GB')
    assert a100_40.profiles['1g.10gb'].size == 2 and a100_80.profiles['1g.10gb'].size == 1  # names differ per model


def test_catalog_lookup_is_exact():
    assert mc.lookup(pci_device_id='0x233510de').key == 'H200-141GB'
    assert mc.lookup('NVIDIA-H200').key == 'H200-141GB'
    assert mc.lookup('A100-SXM4-40GB').key == 'A100-SXM4-40GB'   # older drivers drop the NVIDIA prefix
    for wrong in ('NVIDIA H100', 'H200', 'nvidia h200'):
        with pytest.raises(mc.CatalogError, match='unknown GPU'):
            mc.lookup(wrong)


def test_unconfirmed_models_are_reported():
    nodes = [{'name': 'b', 'gpu_product': 'NVIDIA B200', 'gpu_count': 8}]
    result = mp.plan(nodes, [{'name': 'w', 'instances': 3, 'profile': '3g.90gb'}])
    assert any('B200' in n and 'derived' in n for n in result['unconfirmed'])
    assert 'Not confirmed by NVIDIA' in result['report']


def test_node_reported_placements_win_over_the_table():
    # A node that reports 3g only at slot 0 (hypothetical firmware): two 3g no longer fit one GPU.
    gpu = {'name': 'NVIDIA H200', 'pci_device_id': '0x233510DE', 'memory_total_mib': 143771,
           'mig_profiles': [{'name': '3g.71gb', 'id': 9, 'instances_total': 1, 'memory_gib': 69.75,
                             'placements': [0], 'placement_size': 4},
                            {'name': '1g.18gb', 'id': 19, 'instances_total': 7, 'memory_gib': 16.0,
                             'placements': [0, 1, 2, 3, 4, 5, 6], 'placement_size': 1}]}
    nodes = [{'name': 'n', 'gpus': [gpu, gpu]}]
    result = mp.plan(nodes, [{'name': 'w', 'instances': 2, 'profile': '3g.71gb'}])
    assert result['gpus_used'] == 2
    table_result = mp.plan([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2}],
                           [{'name': 'w', 'instances': 2, 'profile': '3g.71gb'}])
    assert table_result['gpus_used'] == 1


def test_memory_uses_usable_gib_not_the_name():
    nodes = [{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 1}]
    # 17 GiB does not fit 1g.18gb (16.0 GiB usable): the next profile up is 1g.35gb.
    result = mp.plan(nodes, [{'name': 'w', 'instances': 1, 'memory_gib': 17}])
    assert result['assignments'][0]['profile'] == '1g.35gb'
    result = mp.plan(nodes, [{'name': 'w', 'instances': 1, 'memory_gib': 16}])
    assert result['assignments'][0]['profile'] == '1g.18gb'


def test_whole_gpu_workloads_land_on_one_node_with_mig_disabled():
    nodes = [{'name': 'a', 'gpu_product': 'NVIDIA H200', 'gpu_count': 4},
             {'name': 'b', 'gpu_product': 'NVIDIA H200', 'gpu_count': 4}]
    workloads = [{'name': 'big', 'instances': 2, 'gpus': 3}, {'name': 's', 'instances': 3, 'profile': '1g.18gb'}]
    result = mp.plan(nodes, workloads)
    check_plan(result, nodes, workloads)
    big = [a for a in result['assignments'] if a['workload'] == 'big']
    assert all(len(a['gpu']) == 3 and a['resource'] == 'nvidia.com/gpu' for a in big)
    assert result['gpus_used'] == 7


def test_single_strategy_one_profile_per_node_all_gpus_mig():
    nodes = [{'name': 'n%d' % i, 'gpu_product': 'NVIDIA H200', 'gpu_count': 2} for i in range(4)]
    workloads = [{'name': 'a', 'instances': 9, 'profile': '1g.18gb'}, {'name': 'b', 'instances': 2, 'profile': '3g.71gb'},
                 {'name': 'c', 'instances': 1, 'gpus': 2}]
    result = mp.plan(nodes, workloads, 'single')
    check_plan(result, nodes, workloads)
    for node, cname in result['node_configs'].items():
        entries = result['mig_config']['mig-configs'][cname]
        kinds = set(tuple(e['mig-devices']) if e['mig-enabled'] else None for e in entries)
        assert len(kinds) == 1, (node, entries)
    assert result['gpus_used'] == 2 + 1 + 2
    assert sorted(result['node_configs'].values()) == ['all-1g.18gb', 'all-3g.71gb', 'all-disabled', 'all-disabled']


def test_identical_layouts_share_a_config_and_output_is_deterministic():
    nodes = [{'name': 'n%d' % i, 'gpu_product': 'NVIDIA H200', 'gpu_count': 1} for i in range(3)]
    workloads = [{'name': 'a', 'instances': 9, 'profile': '2g.35gb'}]
    first = mp.plan(nodes, workloads)
    assert len(set(first['node_configs'].values())) == 1
    assert len(first['mig_config']['mig-configs']) == 2
    assert mp.plan(nodes, workloads) == first


def test_rerun_with_current_configs_changes_nothing():
    nodes = [{'name': 'n%d' % i, 'gpu_product': 'NVIDIA A100-SXM4-80GB', 'gpu_count': 4} for i in range(3)]
    workloads = [{'name': 'a', 'instances': 11, 'profile': '1g.10gb'}, {'name': 'b', 'instances': 3, 'memory_gib': 30},
                 {'name': 'c', 'instances': 1, 'gpus': 2}]
    first = mp.plan(nodes, workloads)
    again = [dict(n, current_config=first['node_configs'][n['name']]) for n in nodes]
    second = mp.plan(again, workloads, current_mig_config=first['mig_config'])
    assert second['nodes_changed'] == []
    assert second['node_configs'] == first['node_configs']


def test_ties_prefer_nodes_already_configured():
    nodes = [{'name': 'n0', 'gpu_product': 'NVIDIA H200', 'gpu_count': 1, 'current_config': 'all-disabled'},
             {'name': 'n1', 'gpu_product': 'NVIDIA H200', 'gpu_count': 1, 'current_config': 'all-1g.18gb'}]
    result = mp.plan(nodes, [{'name': 'a', 'instances': 7, 'profile': '1g.18gb'}])
    assert result['node_configs'] == {'n0': 'all-disabled', 'n1': 'all-1g.18gb'}
    assert result['nodes_changed'] == []
    assert 'all-1g.18gb' in result['mig_config']['mig-configs']


@pytest.mark.parametrize('nodes,workloads,strategy,message', [
    ([{'name': 'n', 'gpu_product': 'NVIDIA H100', 'gpu_count': 8}], [{'name': 'w', 'profile': '1g.10gb'}], 'mixed',
     'unknown GPU'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8}], [{'name': 'w', 'profile': '1g.10gb'}], 'mixed',
     'profile 1g.10gb does not exist on H200-141GB'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8}], [{'name': 'w', 'memory_gib': 200}], 'mixed',
     'more than any MIG profile offers'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8}], [{'name': 'w', 'instances': 0, 'gpus': 1}], 'mixed',
     'instances must be a positive integer'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 0}], [{'name': 'w', 'gpus': 1}], 'mixed',
     'gpu_count must be a positive integer'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8}],
     [{'name': 'w', 'gpus': 1}, {'name': 'w', 'gpus': 1}], 'mixed', 'duplicate workload name'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8}, {'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 8}],
     [{'name': 'w', 'gpus': 1}], 'mixed', 'duplicate node name'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 4}], [{'name': 'w', 'gpus': 8}], 'mixed',
     'needs 8 GPUs per instance on one node, but the largest node has 4'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2}], [{'name': 'w', 'instances': 20, 'profile': '1g.18gb'}],
     'mixed', 'short by 1'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2}], [{'name': 'w', 'profile': '1g.18gb', 'gpus': 1}],
     'mixed', 'exactly one of profile, memory_gib, gpus'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2}],
     [{'name': 'w', 'profile': '1g.18gb', 'gpu_product': 'NVIDIA A30'}], 'mixed', 'no node has that GPU'),
    ([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2}], [{'name': 'w', 'profile': '1g.18gb'}], 'best',
     'strategy must be one of'),
])
def test_bad_input_fails_with_a_message_that_names_the_problem(nodes, workloads, strategy, message):
    with pytest.raises(mp.PlanError, match=message):
        mp.plan(nodes, workloads, strategy)


def test_nodes_with_a_matching_custom_layout_are_kept_as_they_are():
    current = {'version': 'v1', 'mig-configs': {
        'legacy-a': [{'devices': [0], 'mig-enabled': True, 'mig-devices': {'3g.71gb': 2}},
                     {'devices': [1], 'mig-enabled': True, 'mig-devices': {'1g.18gb': 7}}]}}
    nodes = [{'name': 'a', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2, 'current_config': 'legacy-a'},
             {'name': 'b', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2, 'current_config': 'all-disabled'}]
    workloads = [{'name': 'big', 'instances': 2, 'profile': '3g.71gb'}, {'name': 'small', 'instances': 6, 'memory_gib': 10}]
    result = mp.plan(nodes, workloads, current_mig_config=current)
    assert result['gpus_used'] == 2
    assert result['node_configs'] == {'a': 'legacy-a', 'b': 'all-disabled'}
    assert result['nodes_changed'] == []
    assert result['mig_config']['mig-configs']['legacy-a'][0]['mig-devices'] == {'3g.71gb': 2}
    # The same layout cannot serve more 3g instances: then the node changes, and the GPU count stays minimal.
    more = [{'name': 'big', 'instances': 3, 'profile': '3g.71gb'}, {'name': 'small', 'instances': 6, 'memory_gib': 10}]
    result = mp.plan(nodes, more, current_mig_config=current)
    assert result['gpus_used'] == 3
    assert result['nodes_changed'] == ['b'] and result['node_configs']['a'] == 'legacy-a'
    check_plan(result, nodes, more)


# --------------------------------------------------------------------- larger fleets, the solver, time limits

import planner_fleets  # noqa: E402
from ansible_collections.cnai.platform.plugins.module_utils import milp  # noqa: E402


def test_issue_fleet_that_exhausted_branch_and_bound_now_solves_to_proven_optimality():
    # 16 nodes, six GPU models, 25 workloads: the old pure-Python branch and bound stopped here after 211 s
    # with "branch and bound exceeded 20000 nodes".
    nodes, workloads = planner_fleets.issue_fleet()
    assert len(set(n['gpu_product'] for n in nodes)) == 6
    result = mp.plan(nodes, workloads, time_limit=30)
    assert result['optimal'] is True and result['gap'] == 0.0
    assert result['gpus_used'] == result['lower_bound'] == 20
    assert 'Proven optimal' in result['report']
    check_fleet_plan(result, nodes, workloads)


@pytest.mark.parametrize('seed', [101, 202, 303, 404])
def test_random_mixed_fleets_solve_to_proven_optimality(seed):
    nodes, workloads = planner_fleets.random_fleet(seed)
    assert 16 <= len(nodes) <= 64 and 25 <= len(workloads) <= 60
    result = mp.plan(nodes, workloads, time_limit=60)
    assert result['optimal'] is True and result['gpus_used'] == result['lower_bound']
    check_fleet_plan(result, nodes, workloads)
    assert mp.plan(nodes, workloads, time_limit=60) == result      # deterministic


def check_fleet_plan(result, nodes, workloads):
    """Every instance placed once, on a GPU whose config holds it, every config placeable on its model."""
    by_name = dict((n['name'], n) for n in nodes)
    configs = result['mig_config']['mig-configs']
    seen = {}
    for a in result['assignments']:
        seen[a['workload']] = seen.get(a['workload'], 0) + 1
        model = mc.lookup(by_name[a['node']]['gpu_product'])
        entries = configs[result['node_configs'][a['node']]]
        if a['profile'] is not None:
            assert a['profile'] in model.profiles
            held = [e for e in entries if e['devices'] == 'all' or a['gpu'] in e['devices']][-1]
            assert held['mig-enabled'] and held['mig-devices'].get(a['profile'])
            assert mc.fits(model, held['mig-devices'])
    assert seen == dict((w['name'], w['instances']) for w in workloads)


def test_time_limit_returns_the_best_plan_with_its_gap(monkeypatch):
    real = milp.Model.solve

    def stopped_early(self, time_limit=30.0):
        r = real(self, time_limit)
        # as HiGHS reports a stop at the time limit: the incumbent and a weaker proven bound
        return milp.Result(r.values, r.objective, max(0, r.objective - 1), False, time_limit, 'Time limit reached')

    monkeypatch.setattr(milp.Model, 'solve', stopped_early)
    nodes = [{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 4}]
    result = mp.plan(nodes, [{'name': 'w', 'instances': 9, 'profile': '1g.18gb'}], time_limit=2)
    assert result['optimal'] is False
    assert result['gpus_used'] == 2 and result['lower_bound'] == 1 and result['gap'] == 0.5
    assert result['time_limit'] == 2.0
    assert 'Time limit (2s) reached before optimality was proven' in result['report']
    assert 'gap 50.0%' in result['report']


def test_time_limit_without_any_plan_fails_with_what_to_raise(monkeypatch):
    def nothing(self, time_limit=30.0):
        raise milp.NoSolution('no feasible plan within %.1f s' % time_limit)

    monkeypatch.setattr(milp.Model, 'solve', nothing)
    with pytest.raises(mp.PlanError, match='no plan found within the time limit; raise time_limit'):
        mp.plan([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 4}],
                [{'name': 'w', 'instances': 9, 'profile': '1g.18gb'}])


def test_solver_builder_proves_optimum_and_reports_infeasible():
    m = milp.Model()
    x, y = m.var('x', cost=3), m.var('y', cost=2)
    m.at_least({x: 2, y: 1}, 5)
    m.at_most({y: 1}, 2)
    r = m.solve(10)
    assert r.optimal and r.gap == 0.0 and (r[x], r[y], r.objective) == (2, 1, 8)
    m.equal({x: 1}, 10 ** 6)
    assert m.solve(10).objective == 3 * 10 ** 6       # y drops to 0 once x alone covers the first row
    bad = milp.Model()
    z = bad.var('z', cost=1, upper=3)
    bad.at_least({z: 2}, 7)
    with pytest.raises(milp.Infeasible):
        bad.solve(10)


def test_missing_highspy_says_how_to_install(monkeypatch):
    monkeypatch.setattr(milp, 'HAS_HIGHSPY', False)
    with pytest.raises(mp.PlanError, match='needs the Python package highspy.*pip install highspy'):
        mp.plan([{'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 1}],
                [{'name': 'w', 'instances': 1, 'profile': '1g.18gb'}])


# ------------------------------------------------------------------------------------------- bad input

H200_NODE = {'name': 'n', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2}
ONE = [{'name': 'w', 'instances': 1, 'profile': '1g.18gb'}]


def h200_facts(**profile):
    prof = {'name': '1g.18gb', 'id': 19, 'instances_total': 7, 'memory_gib': 16.0,
            'placements': [0, 1, 2, 3, 4, 5, 6], 'placement_size': 1}
    prof.update(profile)
    return {'name': 'NVIDIA H200', 'pci_device_id': '0x233510DE', 'memory_total_mib': 143771, 'mig_profiles': [prof]}


def doc(**configs):
    return {'version': 'v1', 'mig-configs': configs}


@pytest.mark.parametrize('nodes,workloads,kwargs,message', [
    # names that are not Kubernetes names
    ([dict(H200_NODE, name='GPU_Node')], ONE, {}, r"nodes\[0\] name 'GPU_Node' is not a valid Kubernetes name \(DNS-1123 subdomain"),
    ([H200_NODE], [dict(ONE[0], name='Qwen 7B')], {}, r"workloads\[0\] name 'Qwen 7B' is not a valid Kubernetes name \(DNS-1123 label"),
    ([H200_NODE], [dict(ONE[0], name='a' * 64)], {}, 'at most 63 characters'),
    ([dict(H200_NODE, name=7)], ONE, {}, r'nodes\[0\] name must be a non-empty string, got 7'),
    # bools where numbers are expected
    ([H200_NODE], [dict(ONE[0], instances=True)], {}, 'workload w instances must be a positive integer, got True'),
    ([dict(H200_NODE, gpu_count=True)], ONE, {}, 'node n gpu_count must be a positive integer, got True'),
    ([H200_NODE], [{'name': 'w', 'memory_gib': True}], {}, 'workload w memory_gib must be a number of GiB, got True'),
    ([H200_NODE], [{'name': 'w', 'gpus': False}], {}, 'workload w gpus must be a positive integer, got False'),
    ([H200_NODE], ONE, {'time_limit': True}, 'time_limit must be a number of seconds, got True'),
    # upper bounds: a clear error, no OverflowError, no memory blow-up
    ([H200_NODE], [dict(ONE[0], instances=10 ** 12)], {}, 'instances is 1000000000000, more than the limit of 100000'),
    ([dict(H200_NODE, gpu_count=10 ** 12)], ONE, {}, 'gpu_count is 1000000000000, more than the limit of 64'),
    ([H200_NODE], [{'name': 'w', 'gpus': 10 ** 12}], {}, 'gpus is 1000000000000, more than the limit of 64'),
    ([H200_NODE], [{'name': 'w', 'memory_gib': float('inf')}], {}, 'memory_gib must be a positive number of GiB'),
    ([H200_NODE], [{'name': 'w', 'memory_gib': 10 ** 400}], {}, 'memory_gib must be a number of GiB'),
    ([H200_NODE], [dict(ONE[0], instances='9' * 40)], {}, 'must be a positive integer'),
    ([H200_NODE], [{'name': 'w%d' % i, 'instances': 100000, 'profile': '1g.18gb'} for i in range(11)], {},
     'more than 1000000 instances in all'),
    ([H200_NODE], ONE, {'time_limit': 0}, 'time_limit must be more than 0'),
    ([H200_NODE], ONE, {'time_limit': 'soon'}, 'time_limit must be a number of seconds'),
    # wrong types
    ([H200_NODE], [dict(ONE[0], profile=18)], {}, 'workload w profile must be a MIG profile name'),
    ([dict(H200_NODE, gpu_product=['NVIDIA H200'])], ONE, {}, 'node n gpu_product must be a string'),
    ('n', ONE, {}, 'nodes must be a list of dictionaries'),
    # node facts against the catalog
    ([{'name': 'n', 'gpus': [h200_facts(instances_total=70)]}], ONE, {},
     r'gpus\[0\] mig_profiles\[0\] \(1g.18gb\) claims 70 instances, but its placements .* hold at most 7 on one GPU'),
    ([{'name': 'n', 'gpus': [h200_facts(placements=[0, 4, 8], placement_size=4)]}], ONE, {},
     r'claims placements \[0, 4, 8\] of size 4, beyond the 8-unit placement grid of H200-141GB'),
    ([{'name': 'n', 'gpus': [h200_facts(memory_gib=500.0)]}], ONE, {}, r'claims 500.00 GiB, more than the GPU has \(140.40 GiB\)'),
    ([{'name': 'n', 'gpus': [h200_facts(placements='0-6')]}], ONE, {}, 'placements must be a non-empty list of start slots'),
    ([{'name': 'n', 'gpus': [h200_facts(instances_total=True)]}], ONE, {}, 'instances_total must be an integer >= 0'),
    ([{'name': 'n', 'gpus': [{'name': 'NVIDIA H200', 'mig_profiles': [{'id': 19}]}]}], ONE, {},
     r'mig_profiles\[0\] needs a name such as 1g.18gb'),
    ([{'name': 'n', 'gpus': ['H200']}], ONE, {}, r'node n gpus\[0\] must be a dictionary'),
    ([{'name': 'n', 'gpu_count': 4, 'gpus': [h200_facts()]}], ONE, {}, 'gpu_count is 4 but its gpus facts list 1 GPUs'),
    # current_mig_config: malformed, not defining the node's config, or claiming more than the GPU holds
    ([dict(H200_NODE, current_config='mine')], ONE, {'current_mig_config': {'mig-configs': {}}},
     r'current_mig_config: version must be v1.*fix current_mig_config'),
    ([dict(H200_NODE, current_config='mine')], ONE, {'current_mig_config': doc(mine=[{'devices': 'all'}])},
     r'mig-configs.mine\[0\]: missing required field mig-enabled'),
    ([dict(H200_NODE, current_config='mine')], ONE, {'current_mig_config': doc(mine='all-disabled')},
     'mig-configs.mine must be a non-empty list of entries'),
    ([dict(H200_NODE, current_config='mine')], ONE, {'current_mig_config': ['v1']}, 'current_mig_config must be a mapping'),
    ([dict(H200_NODE, current_config='mine')], ONE,
     {'current_mig_config': doc(other=[{'devices': 'all', 'mig-enabled': False}])},
     r"node n current_config 'mine' is not defined in current_mig_config \(defines: other\)"),
    ([dict(H200_NODE, current_config='mine')], ONE,
     {'current_mig_config': doc(mine=[{'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.18gb': 70}}])},
     r'puts 70 x 1g.18gb on GPU 0, more than one H200-141GB can hold \(70 x 1g.18gb, at most 7 fit\)'),
    ([dict(H200_NODE, current_config='mine')], ONE,
     {'current_mig_config': doc(mine=[{'devices': 'all', 'mig-enabled': True, 'mig-devices': {'3g.71gb': 2, '1g.18gb': 1}}])},
     'these instances overlap on the 8-unit placement grid'),
    ([dict(H200_NODE, current_config='mine')], ONE,
     {'current_mig_config': doc(mine=[{'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.10gb': 1}}])},
     'puts 1g.10gb on GPU 0, but H200-141GB has no such profile'),
    ([dict(H200_NODE, current_config='mine')], ONE,
     {'current_mig_config': doc(mine=[{'devices': [0], 'mig-enabled': False}])},
     r'covers no entry for GPU\(s\) 1'),
    ([dict(H200_NODE, current_config='mine')], ONE,
     {'current_mig_config': doc(mine=[{'device-filter': '0x233510DE:0x18BF10DE', 'devices': 'all', 'mig-enabled': False}])},
     'subsystem id is unknown.*give pci_subsystem_id'),
])
def test_bad_input_is_refused_with_the_field_and_what_to_set(nodes, workloads, kwargs, message):
    with pytest.raises(mp.PlanError, match=message):
        mp.plan(nodes, workloads, **kwargs)


def test_subsystem_qualified_filter_with_the_node_subsystem_id():
    current = doc(mine=[{'devices': 'all', 'mig-enabled': False},
                        {'device-filter': '0x233510DE:0x18BF10DE', 'devices': 'all', 'mig-enabled': True,
                         'mig-devices': {'1g.18gb': 7}}])
    node = dict(H200_NODE, current_config='mine', pci_device_id='0x233510DE', pci_subsystem_id='0x18BF10DE')
    result = mp.plan([node], [{'name': 'w', 'instances': 14, 'profile': '1g.18gb'}], current_mig_config=current)
    assert result['node_configs'] == {'n': 'mine'} and result['nodes_changed'] == []
    other = dict(node, pci_subsystem_id='0x16C010DE')    # another board: the qualified entry does not apply
    result = mp.plan([other], [{'name': 'w', 'instances': 14, 'profile': '1g.18gb'}], current_mig_config=current)
    assert result['nodes_changed'] == ['n']


def test_predefined_names_need_no_document_entry():
    current = doc(other=[{'devices': 'all', 'mig-enabled': False}])
    node = dict(H200_NODE, current_config='all-1g.18gb')
    result = mp.plan([node], [{'name': 'w', 'instances': 14, 'profile': '1g.18gb'}], current_mig_config=current)
    assert result['node_configs'] == {'n': 'all-1g.18gb'} and result['nodes_changed'] == []
    assert mp.plan([node], ONE, current_mig_config={})['gpus_used'] == 1     # {} means no document
