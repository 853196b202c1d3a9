# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Milvus upgrades may be made in one step (role cnai.platform.milvus, filter cnai.platform.milvus_upgrade_check).

Milvus supports upgrades one minor line at a time, and some hops need a minimum patch release first
(Milvus 2.6 upgrade notes: a 2.5 deployment must be at 2.5.16 or later before it moves to 2.6; the
streaming node and Woodpecker replace the 2.5 message-queue layout, and only 2.5.16+ writes what 2.6 reads).
A downgrade of the minor line is refused (metadata written by the newer line is not read by the older one).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# minor line -> the lowest release of the line before it that may upgrade to it in one step
HOP_MINIMUM = {
    (2, 6): (2, 5, 16),
    (2, 5): (2, 4, 0),
    (2, 4): (2, 3, 0),
}
# the release of each line a site should move to before the next hop (used in the message)
LINE_TARGET = {
    (2, 3): '2.3.x (latest patch)',
    (2, 4): '2.4.x (latest patch)',
    (2, 5): '2.5.16 or later 2.5.x',
}
VERSION_RE = re.compile(r'^v?(\d+)\.(\d+)\.(\d+)')


class MilvusUpgradeError(Exception):
    """An upgrade this role must not attempt; the message holds the supported path."""


def parse(version):
    """'v2.6.15', '2.5.16', '2.6.15-gpu' -> (2, 6, 15); None for what is not a Milvus version."""
    m = VERSION_RE.match(str(version or '').strip())
    return tuple(int(x) for x in m.groups()) if m else None


def _show(v):
    return '%d.%d.%d' % v


def path(installed, target):
    """The supported sequence of steps from installed to target (same major version), target last."""
    steps = []
    line = installed[:2]
    cur = installed
    while line < target[:2]:
        nxt = (line[0], line[1] + 1)
        minimum = HOP_MINIMUM.get(nxt)
        if minimum and cur < minimum:
            steps.append(LINE_TARGET.get(line, _show(minimum) + ' or later'))
            cur = minimum
        if nxt == target[:2]:
            break
        steps.append(LINE_TARGET.get(nxt, '%d.%d.x' % nxt))
        line = nxt
        cur = HOP_MINIMUM.get((nxt[0], nxt[1] + 1), (nxt[0], nxt[1], 0))
    steps.append(_show(target))
    return steps


def check(installed_versions, target, release='milvus'):
    """Fail unless every installed Milvus version may go to target in one step.

    installed_versions: the versions found in the cluster (the Helm release's appVersion, image tags of
    Milvus workloads); unparsable entries (a digest, 'latest') are ignored. Returns a summary dict."""
    t = parse(target)
    if t is None:
        raise MilvusUpgradeError('milvus: the target version %r is not a Milvus version (x.y.z)' % (target,))
    found = sorted(set(v for v in (parse(x) for x in (installed_versions or [])) if v))
    for v in found:
        if v[:2] > t[:2] or (v[:2] == t[:2] and v > t):
            raise MilvusUpgradeError(
                'milvus: release %s runs Milvus %s; %s would be a downgrade, which Milvus does not support '
                '(metadata written by %s is not read back by the older release). Pin the chart of %s or later '
                'in bom.yml (milvus.chart_version), or restore the older release from a backup.'
                % (release, _show(v), _show(t), _show(v), _show(v)))
        if v[:2] == t[:2]:
            continue
        if v[0] != t[0]:
            raise MilvusUpgradeError(
                'milvus: release %s runs Milvus %s; %s is another major version: there is no in-place upgrade. '
                'Supported path: migrate the data with milvus-migration into a new %d.x deployment. Nothing was '
                'changed.' % (release, _show(v), _show(t), t[0]))
        steps = path(v, t)
        if len(steps) > 1:
            raise MilvusUpgradeError(
                'milvus: release %s runs Milvus %s; upgrading it to %s in one step is not supported. Supported path: '
                '%s -> %s. Upgrade through each step first (e.g. with the chart release that carries that version, '
                'helm upgrade %s ... --reuse-values), check the collections, then run this role again. Nothing was '
                'changed.' % (release, _show(v), _show(t), _show(v), ' -> '.join(steps), release))
    return {'installed': [_show(v) for v in found], 'target': _show(t),
            'upgrade': bool(found) and any(v != t for v in found)}
