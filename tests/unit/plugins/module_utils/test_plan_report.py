# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML plan report: counted with an HTML parser against the plan it draws, its placements, its errors, its size."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time
from html.parser import HTMLParser

import pytest
import yaml

from ansible_collections.cnai.platform.plugins.module_utils import mig_catalog as mc
from ansible_collections.cnai.platform.plugins.module_utils import mig_planner as mp
from ansible_collections.cnai.platform.plugins.module_utils import model_sizing
from ansible_collections.cnai.platform.plugins.module_utils import plan_report as pr

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


class Page(HTMLParser):
    """Every element as (tag, attrs); fails on unbalanced SVG (the part we generate tag by tag)."""

    VOID = {'meta', 'br', 'img', 'input', 'link', 'hr', 'rect'}

    def __init__(self, text):
        HTMLParser.__init__(self)
        self.elements = []
        self.stack = []
        self.text = []
        self.feed(text)
        self.close()
        assert not [t for t in self.stack if t not in ('html', 'body', 'head')], self.stack

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def having(self, tag, cls=None, **attrs):
        out = []
        for t, a in self.elements:
            if t != tag:
                continue
            if cls is not None and cls not in (a.get('class') or '').split():
                continue
            if all(a.get(k.replace('_', '-')) == v for k, v in attrs.items()):
                out.append(a)
        return out


def local_plan():
    """Sizing and plan of inventories/local, as plan.yml computes them."""
    with open(os.path.join(ROOT, 'inventories', 'local', 'hosts.yml')) as f:
        hosts = yaml.safe_load(f)['all']['children']['gpu_nodes']['hosts']
    with open(os.path.join(ROOT, 'inventories', 'local', 'group_vars', 'all.yml')) as f:
        models = yaml.safe_load(f)['cnai_models']
    nodes = [{'name': h, 'gpu_product': v['cnai_gpu_product'], 'gpu_count': v['cnai_gpu_count']}
             for h, v in sorted(hosts.items())]
    sizing = model_sizing.size(models, sorted(set(n['gpu_product'] for n in nodes)))
    return nodes, sizing['models'], mp.plan(nodes, sizing['workloads'], 'mixed')


@pytest.fixture(scope='module')
def local():
    return local_plan()


def test_local_inventory_counts_match_the_plan(local):
    nodes, sizing, plan = local
    page = Page(pr.render(plan, nodes, sizing))
    assert len(page.having('svg')) == len(nodes)
    assert len(page.having('g', 'gpu')) == plan['gpus_total'] == 20
    mig = [a for a in plan['assignments'] if a['profile']]
    whole = [a for a in plan['assignments'] if not a['profile']]
    drawn = page.having('g', 'mig')
    used = [g for g in drawn if 'idle' not in g['class'].split()]
    assert len(used) == len(mig) == 11
    assert len(page.having('g', 'whole')) == sum(len(a['gpu']) for a in whole) == 4
    # Every MIG assignment is drawn at its own start slot with its resource.
    assert sorted((g['data-workload'], g['data-profile'], int(g['data-start']), g['data-resource']) for g in used) == \
        sorted((a['workload'], a['profile'], a['start'], a['resource']) for a in mig)
    # The changed node is marked, in text and attribute, and only it.
    changed = [s['data-node'] for s in page.having('section', 'node', data_changed='true')]
    assert changed == plan['nodes_changed'] == ['gpu-h200-1']
    text = ''.join(page.text)
    assert 'CHANGES' in text and 'all-disabled \u2192 %s' % plan['node_configs']['gpu-h200-1'] in text
    # GPUs saved against one GPU per replica: 6 + 2 + 2x2 + 3 = 15 at one per replica, 7 used.
    summary = page.having('p', None, id='summary')[0]
    assert (summary['data-one-gpu-each'], summary['data-gpus-used'], summary['data-saved']) == ('15', '7', '8')
    # The sizing numbers of every model are in the table.
    for m in sizing:
        assert m['name'] in text and ('%.2f' % m['need_gib']).rstrip('0').rstrip('.') in text
    # Self-contained: no scripts, no external references.
    assert not page.having('script') and not page.having('link')
    assert 'http://' not in text and 'https://' not in text


def test_idle_devices_of_a_single_strategy_node_are_drawn_dashed():
    nodes = [{'name': 'n0', 'gpu_product': 'NVIDIA H200', 'gpu_count': 2, 'current_config': 'all-1g.18gb'}]
    plan = mp.plan(nodes, [{'name': 'w', 'instances': 3, 'profile': '1g.18gb'}], 'single')
    assert plan['node_configs'] == {'n0': 'all-1g.18gb'} and plan['nodes_changed'] == []
    page = Page(pr.render(plan, nodes))
    assert len(page.having('g', 'mig')) == 14          # 2 GPUs x 7 devices, as the kept config has them
    assert len(page.having('g', 'idle')) == 11
    assert page.having('section', 'node', data_changed='false')


def test_placement_comes_from_the_catalog_and_is_valid():
    model = mc.lookup('NVIDIA H200')
    placed = pr.gpu_placements(model, {'3g.71gb': 1, '1g.18gb': 2, '2g.35gb': 1})
    used = set()
    for start, name in placed:
        prof = model.profile(name)
        assert start in prof.placements
        cells = set(range(start, start + prof.size))
        assert not cells & used
        used |= cells
    assert pr.gpu_placements(model, None) is None
    with pytest.raises(pr.ReportError, match='cannot place'):
        pr.gpu_placements(model, {'3g.71gb': 2, '1g.18gb': 1})


def test_an_assignment_off_the_grid_is_refused(local):
    nodes, sizing, plan = local
    bad = dict(plan)
    bad['assignments'] = [dict(a) for a in plan['assignments']]
    a = [x for x in bad['assignments'] if x['profile'] == '3g.71gb'][0]
    a['start'] = 2          # 3g.71gb sits at 0 or 4 only
    with pytest.raises(pr.ReportError, match=r'qwen-32b replica 0 .* start 2'):
        pr.render(bad, nodes, sizing)
    a['start'] = 0
    a['profile'] = '1g.18gb'
    with pytest.raises(pr.ReportError, match='config places 3g.71gb there'):
        pr.render(bad, nodes, sizing)


def test_nodes_and_plan_from_different_runs_are_refused(local):
    nodes, sizing, plan = local
    with pytest.raises(pr.ReportError, match='gpu-x is not in the plan'):
        pr.render(plan, nodes + [{'name': 'gpu-x', 'gpu_product': 'NVIDIA H200', 'gpu_count': 1}], sizing)
    with pytest.raises(pr.ReportError, match='result of cnai.platform.mig_plan'):
        pr.render({'report': ''}, nodes)


def test_names_are_escaped():
    nodes = [{'name': 'n0', 'gpu_product': 'NVIDIA H200', 'gpu_count': 1}]
    plan = mp.plan(nodes, [{'name': 'w', 'instances': 1, 'profile': '1g.18gb'}], 'mixed')
    html = pr.render(plan, nodes, title='<script>alert(1)</script>')
    assert '<script>' not in html and '&lt;script&gt;' in html


def synthetic(count):
    """A plan of ``count`` 8-GPU H200 nodes: GPU 0 of each carries 7 x 1g.18gb, the rest whole GPUs of 'big'."""
    nodes = [{'name': 'gpu-%04d' % i, 'gpu_product': 'NVIDIA H200', 'gpu_count': 8} for i in range(count)]
    configs = {'all-disabled': [{'devices': 'all', 'mig-enabled': False}],
               'cnai-x': [{'devices': [0], 'mig-enabled': True, 'mig-devices': {'1g.18gb': 7}},
                          {'devices': [1, 2, 3, 4, 5, 6, 7], 'mig-enabled': False}]}
    assignments = []
    for i, n in enumerate(nodes):
        for s in range(7):
            assignments.append({'workload': 'small', 'instance': i * 7 + s, 'node': n['name'], 'gpu': 0,
                                'profile': '1g.18gb', 'start': s, 'resource': 'nvidia.com/mig-1g.18gb'})
        for k in range(3):
            assignments.append({'workload': 'big', 'instance': i * 3 + k, 'node': n['name'],
                                'gpu': [1 + 2 * k, 2 + 2 * k], 'profile': None, 'start': None,
                                'resource': 'nvidia.com/gpu'})
    plan = {'strategy': 'mixed', 'mig_config': {'version': 'v1', 'mig-configs': configs},
            'node_configs': dict((n['name'], 'cnai-x') for n in nodes), 'assignments': assignments,
            'gpus_used': 7 * count, 'gpus_total': 8 * count, 'lower_bound': 7 * count, 'optimal': True,
            'nodes_changed': [n['name'] for n in nodes]}
    return nodes, plan


def test_thousand_nodes_linear_and_counted():
    small_nodes, small = synthetic(10)
    t0 = time.monotonic()
    nodes, plan = synthetic(1000)
    html = pr.render(plan, nodes)
    elapsed = time.monotonic() - t0
    page = Page(html)
    assert len(page.having('svg')) == 1000
    assert len(page.having('g', 'gpu')) == 8000
    assert len(page.having('g', 'mig')) == 7000
    assert len(page.having('g', 'whole')) == 6000
    assert page.having('p', None, id='summary')[0]['data-saved'] == str(7000 + 6000 - 7000)
    ratio = len(html) / float(len(pr.render(small, small_nodes)))
    assert 90 < ratio < 101, ratio        # 100x the nodes: at most 100x the bytes (the header is shared)
    assert elapsed < 30, elapsed
