# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An independent, slow, obviously-correct reference for the planner tests.

It shares nothing with the planner but the raw profile table: placements are enumerated start by
start, and the minimum GPU count is found by exhaustive memoised search over demand vectors.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools


def layouts(units, profiles):
    """Every set of non-overlapping (profile, start) placements on one GPU, as count dicts (deduplicated).

    ``profiles`` maps name -> (size, starts, max_count).
    """
    names = sorted(profiles)
    seen = set()

    def rec(i, occupied, counts):
        if i == len(names):
            seen.add(tuple(counts))
            return
        name = names[i]
        size, starts, max_count = profiles[name]

        def choose(k, min_start, occ):
            rec(i + 1, occ, counts)
            if counts[i] >= max_count:
                return
            for s in starts:
                if s < min_start or s + size > units:
                    continue
                cells = set(range(s, s + size))
                if cells & occ:
                    continue
                counts[i] += 1
                choose(k + 1, s + 1, occ | cells)
                counts[i] -= 1

        choose(0, 0, occupied)

    rec(0, frozenset(), [0] * len(names))
    return names, sorted(seen)


def is_placeable(units, profiles, counts):
    names, all_sets = layouts(units, dict((n, profiles[n]) for n in counts))
    want = tuple(counts[n] for n in names)
    return want in all_sets


def min_gpus(units, profiles, demand):
    """Fewest GPUs of one model covering ``demand`` (profile -> count), by exhaustive search."""
    names, sets = layouts(units, dict((n, profiles[n]) for n in demand))
    sets = [s for s in sets if any(s)]

    @functools.lru_cache(maxsize=None)
    def f(d):
        if not any(d):
            return 0
        best = None
        for s in sets:
            # only configurations that serve the first unmet profile, to keep the search small
            first = next(i for i, v in enumerate(d) if v)
            if not s[first]:
                continue
            nxt = tuple(max(0, a - b) for a, b in zip(d, s))
            v = 1 + f(nxt)
            if best is None or v < best:
                best = v
        return best

    return f(tuple(demand[n] for n in names))
