# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small exact integer-program solver: dense two-phase simplex plus depth-first branch and bound.

Pure Python with no dependency, sized for the MIG planner's programs (tens of rows and columns with
integer coefficients and an integer objective). Minimises ``c.x`` over non-negative integer ``x``
subject to rows ``a.x (>=|<=|==) b``. Because every objective coefficient is an integer, a branch whose
LP value rounds up to the incumbent is pruned, and the search stops as soon as the incumbent equals the
rounded-up root bound.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

EPS = 1e-9
INT_EPS = 1e-6


class Infeasible(Exception):
    """The program (or its LP relaxation) has no solution."""


class SearchLimit(Exception):
    """Branch and bound visited more nodes than allowed without proving optimality."""


def _simplex(rows, c, nvars):
    """Solve min c.x, x >= 0, rows = [(coeffs dict, sense, rhs)]. Returns (value, x list) or raises Infeasible."""
    # Build the tableau in standard form with slack, surplus and artificial columns.
    m = len(rows)
    norm = []
    for coeffs, sense, rhs in rows:
        if rhs < 0:
            coeffs = dict((j, -v) for j, v in coeffs.items())
            rhs = -rhs
            sense = {'>=': '<=', '<=': '>=', '==': '=='}[sense]
        norm.append((coeffs, sense, rhs))
    n_slack = sum(1 for r in norm if r[1] != '==')
    n_art = sum(1 for r in norm if r[1] != '<=')
    width = nvars + n_slack + n_art
    tab = []
    basis = []
    s_col = nvars
    a_col = nvars + n_slack
    art_cols = []
    for coeffs, sense, rhs in norm:
        row = [0.0] * (width + 1)
        for j, v in coeffs.items():
            row[j] = float(v)
        row[width] = float(rhs)
        if sense == '<=':
            row[s_col] = 1.0
            basis.append(s_col)
            s_col += 1
        else:
            if sense == '>=':
                row[s_col] = -1.0
                s_col += 1
            row[a_col] = 1.0
            basis.append(a_col)
            art_cols.append(a_col)
            a_col += 1
        tab.append(row)

    def run(obj, allowed):
        # obj: reduced-cost row (length width + 1), kept consistent with the basis.
        iterations = 0
        while True:
            iterations += 1
            bland = iterations > 50 * (m + width)
            enter = -1
            best = -EPS
            for j in allowed:
                v = obj[j]
                if v < best:
                    enter, best = j, v
                    if bland:
                        break
            if enter < 0:
                return
            leave = -1
            ratio = None
            for i in range(m):
                a = tab[i][enter]
                if a > EPS:
                    r = tab[i][width] / a
                    if ratio is None or r < ratio - EPS or (abs(r - ratio) <= EPS and basis[i] < basis[leave]):
                        leave, ratio = i, r
            if leave < 0:
                raise Infeasible('unbounded')
            pivot(leave, enter, obj)

    def pivot(r, col, obj):
        prow = tab[r]
        pv = prow[col]
        if pv != 1.0:
            prow = [v / pv for v in prow]
            tab[r] = prow
        nz = [j for j, v in enumerate(prow) if v != 0.0]
        for i in range(m):
            if i != r:
                f = tab[i][col]
                if f != 0.0:
                    row = tab[i]
                    for j in nz:
                        row[j] -= f * prow[j]
        f = obj[col]
        if f != 0.0:
            for j in nz:
                obj[j] -= f * prow[j]
        basis[r] = col

    if art_cols:
        obj1 = [0.0] * (width + 1)
        for i in range(m):
            if basis[i] >= nvars + n_slack:
                for j in range(width + 1):
                    obj1[j] -= tab[i][j]
        for j in art_cols:
            obj1[j] += 1.0
        run(obj1, range(width))
        if -obj1[width] > 1e-7:
            raise Infeasible('no feasible point')
        # Drive remaining artificials out of the basis where possible.
        for i in range(m):
            if basis[i] >= nvars + n_slack:
                for j in range(nvars + n_slack):
                    if abs(tab[i][j]) > EPS:
                        pivot(i, j, obj1)
                        break
    obj = [0.0] * (width + 1)
    for j in range(nvars):
        obj[j] = float(c[j])
    for i in range(m):
        b = basis[i]
        if b < nvars and obj[b] != 0.0:
            f = obj[b]
            for j in range(width + 1):
                obj[j] -= f * tab[i][j]
    run(obj, range(nvars + n_slack))
    x = [0.0] * nvars
    for i in range(m):
        if basis[i] < nvars:
            x[basis[i]] = tab[i][width]
    value = sum(c[j] * x[j] for j in range(nvars))
    return value, x


def solve_lp(rows, c):
    """LP relaxation: (value, x)."""
    return _simplex(rows, c, len(c))


def solve(rows, c, incumbent=None, node_limit=20000, branch_priority=None):
    """Exact integer optimum of min c.x (c integer) s.t. rows, x >= 0 integer.

    ``incumbent`` is an optional known feasible integer solution (list) that bounds the search.
    ``branch_priority`` optionally ranks variables (lower first) when several are fractional.
    Returns ``(value, x, root_bound)`` where root_bound is the rounded-up LP bound.
    Raises Infeasible, or SearchLimit when the node budget runs out before optimality is proven.
    """
    n = len(c)
    root_val, root_x = _simplex(rows, c, n)
    root_bound = int(math.ceil(root_val - INT_EPS))
    best = [None, None]
    if incumbent is not None:
        best = [int(round(sum(c[j] * incumbent[j] for j in range(n)))), list(incumbent)]
    if best[0] is not None and best[0] <= root_bound:
        return best[0], best[1], root_bound
    nodes = [0]
    prio = branch_priority or [0] * n

    def recurse(extra, val, x):
        nodes[0] += 1
        if nodes[0] > node_limit:
            raise SearchLimit('branch and bound exceeded %d nodes' % node_limit)
        frac = [(prio[j], -abs(x[j] - round(x[j])), j) for j in range(n) if abs(x[j] - round(x[j])) > INT_EPS]
        if not frac:
            xi = [int(round(v)) for v in x]
            vi = int(round(sum(c[j] * xi[j] for j in range(n))))
            if best[0] is None or vi < best[0]:
                best[0], best[1] = vi, xi
            return
        frac.sort()
        j = frac[0][2]
        v = x[j]
        # Up branch first: covering variables rounded up give feasible plans quickly.
        for coeffs, sense, rhs in (({j: 1}, '>=', math.ceil(v)), ({j: 1}, '<=', math.floor(v))):
            sub = extra + [(coeffs, sense, rhs)]
            try:
                sval, sx = _simplex(rows + sub, c, n)
            except Infeasible:
                continue
            if best[0] is not None and math.ceil(sval - INT_EPS) >= best[0]:
                continue
            recurse(sub, sval, sx)
            if best[0] is not None and best[0] <= root_bound:
                return

    recurse([], root_val, root_x)
    if best[0] is None:
        raise Infeasible('no integer solution')
    return best[0], best[1], root_bound
