# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plan.yml on inventories/local writes report.html; headless Chromium renders it with the plan's GPUs and instances.

Chromium is Debian's package (``make chromium`` installs it when absent); without it this test is skipped with
that instruction. The DOM Chromium dumps after parsing the page is counted, not our own source; the screenshot
is kept under .cache/test-artifacts/ for a person to look at.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ARTIFACTS = os.path.join(ROOT, '.cache', 'test-artifacts')
BROWSER = shutil.which('chromium') or shutil.which('chromium-browser')

pytestmark = pytest.mark.skipif(BROWSER is None, reason='chromium is not installed: run `make chromium` '
                                '(apt-get install -y chromium) to run the rendering test')


class Dom(HTMLParser):
    def __init__(self, text):
        HTMLParser.__init__(self)
        self.elements = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def having(self, tag, cls=None, **attrs):
        return [a for t, a in self.elements if t == tag
                and (cls is None or cls in (a.get('class') or '').split())
                and all(a.get(k.replace('_', '-')) == v for k, v in attrs.items())]


def browser(*args):
    profile = tempfile.mkdtemp(prefix='chromium-')
    try:
        return subprocess.run([BROWSER, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                               '--user-data-dir=' + profile] + list(args),
                              capture_output=True, text=True, timeout=120, check=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope='module')
def planned():
    out = tempfile.mkdtemp(prefix='plan-report-')
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    # cnai_plan_dir: where plan.yml writes today; cnai_output_dir: where it writes once outputs move (<dir>/plan).
    subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i',
                    os.path.join(ROOT, 'inventories', 'local'), os.path.join(ROOT, 'playbooks', 'plan.yml'),
                    '-e', 'cnai_plan_dir=%s/plan' % out, '-e', 'cnai_output_dir=%s' % out],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    plan_dir = os.path.join(out, 'plan')
    with open(os.path.join(plan_dir, 'plan.yaml')) as f:
        plan = yaml.safe_load(f)
    with open(os.path.join(plan_dir, 'mig-config.yaml')) as f:
        mig_config = yaml.safe_load(f)
    yield plan_dir, plan, mig_config
    shutil.rmtree(out, ignore_errors=True)


def test_chromium_renders_the_gpus_and_instances_of_the_plan(planned):
    plan_dir, plan, mig_config = planned
    page = 'file://' + os.path.join(plan_dir, 'report.html')
    dom = Dom(browser('--dump-dom', page).stdout)
    nodes = plan['node_configs']
    assert sorted(s['data-node'] for s in dom.having('svg')) == sorted(nodes)
    # inventories/local: 2 x 8 H200 + 1 x 4 A100
    assert len(dom.having('g', 'gpu')) == 20
    mig = [a for a in plan['assignments'] if a['profile']]
    whole = [a for a in plan['assignments'] if not a['profile']]
    used = [g for g in dom.having('g', 'mig') if 'idle' not in g['class'].split()]
    assert sorted((g['data-workload'], g['data-profile'], int(g['data-start'])) for g in used) == \
        sorted((a['workload'], a['profile'], a['start']) for a in mig)
    assert len(dom.having('g', 'whole')) == sum(len(a['gpu']) for a in whole)
    # Every MIG device the written mig-parted config defines is drawn (used or idle).
    defined = 0
    for node, config in nodes.items():
        for entry in mig_config['mig-configs'][config]:
            if entry.get('mig-enabled'):
                defined += len(entry['devices']) * sum(entry['mig-devices'].values())
    assert len(dom.having('g', 'mig')) == defined
    changed = sorted(n for n, c in nodes.items() if c != 'all-disabled')   # every node starts all-disabled here
    assert sorted(s['data-node'] for s in dom.having('section', 'changed')) == changed
    assert not dom.having('script') and not dom.having('link')


def png_size(path):
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    return struct.unpack('>II', head[16:24])


def test_screenshot_is_kept(planned):
    plan_dir = planned[0]
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, 'plan-report.png')
    if os.path.exists(shot):
        os.remove(shot)
    browser('--window-size=1280,4000', '--screenshot=' + shot, 'file://' + os.path.join(plan_dir, 'report.html'))
    shutil.copy(os.path.join(plan_dir, 'report.html'), os.path.join(ARTIFACTS, 'plan-report.html'))
    assert png_size(shot) == (1280, 4000)
    # A blank page compresses to a few KB; the drawn plan (tables, 20 GPUs, labels) does not.
    assert os.path.getsize(shot) > 100000, os.path.getsize(shot)
