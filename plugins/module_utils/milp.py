# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small integer-program builder over HiGHS (``highspy``), the solver the MIG planner uses.

Variables are named, non-negative integers with an integer cost; rows are ``lower <= sum(coef * var) <= upper``.
``Model.solve(time_limit)`` returns a typed ``Result``: the values of the best plan found, its objective,
the proven lower bound and whether optimality is proven. A time limit that stops the search with a plan in
hand is not a failure: the result carries the plan and its gap.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import time
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

try:
    import highspy
    HAS_HIGHSPY = True
    HIGHSPY_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - exercised by the module's missing_required_lib path
    highspy = None
    HAS_HIGHSPY = False
    HIGHSPY_IMPORT_ERROR = _exc

INF = float('inf')
INT_EPS = 1e-6


class SolverError(Exception):
    """The solver is missing or failed; the message says what to do."""


class Infeasible(Exception):
    """The program has no integer solution."""


class NoSolution(Exception):
    """The time limit ran out before any feasible solution was found."""


@dataclass(frozen=True)
class Var:
    index: int
    name: Tuple


@dataclass
class Result:
    """What the solver proved: ``values`` by variable index, the plan's ``objective``, the proven ``bound``."""
    values: List[int]
    objective: int
    bound: int
    optimal: bool
    seconds: float
    status: str

    @property
    def gap(self):
        """Relative gap between the plan and the proven bound (0.0 when optimal)."""
        if self.optimal or self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.bound) / float(self.objective))

    def __getitem__(self, var):
        return self.values[var.index]


@dataclass
class Model:
    """Minimise ``sum(cost * var)`` over non-negative integer variables subject to rows."""
    names: List[Tuple] = field(default_factory=list)
    costs: List[int] = field(default_factory=list)
    uppers: List[float] = field(default_factory=list)
    rows: List[Tuple[Dict[int, int], float, float]] = field(default_factory=list)

    def var(self, name, cost=0, upper=INF):
        self.names.append(name)
        self.costs.append(cost)
        self.uppers.append(upper)
        return Var(len(self.names) - 1, name)

    def _row(self, terms, lower, upper):
        coeffs = {}
        for var, coef in terms.items():
            if coef:
                coeffs[var.index] = coeffs.get(var.index, 0) + coef
        self.rows.append((coeffs, lower, upper))

    def at_least(self, terms, rhs):
        self._row(terms, rhs, INF)

    def at_most(self, terms, rhs):
        self._row(terms, -INF, rhs)

    def equal(self, terms, rhs):
        self._row(terms, rhs, rhs)

    def solve(self, time_limit=30.0):
        """Solve to proven optimality, or until ``time_limit`` seconds pass with the best plan found.

        Raises Infeasible, NoSolution (limit hit before any plan) or SolverError.
        """
        if not HAS_HIGHSPY:
            raise SolverError('the MIG planner needs the Python package highspy (HiGHS); install it with '
                              'pip install highspy (see requirements.txt)')
        started = time.monotonic()
        if time_limit <= 0:
            raise NoSolution('no time left')
        if not self.names:
            if any(lo > INT_EPS or hi < -INT_EPS for _c, lo, hi in self.rows):
                raise Infeasible('no integer solution')
            return Result([], 0, 0, True, 0.0, 'optimal')
        h = highspy.Highs()
        for option, value in (('output_flag', False), ('time_limit', float(time_limit)), ('mip_rel_gap', 0.0),
                              ('mip_abs_gap', 0.0), ('threads', 1), ('random_seed', 0)):
            h.setOptionValue(option, value)
        inf = highspy.kHighsInf
        for cost, upper in zip(self.costs, self.uppers):
            h.addCol(float(cost), 0.0, inf if upper == INF else float(upper), 0, [], [])
        for coeffs, lower, upper in self.rows:
            idx = sorted(coeffs)
            h.addRow(-inf if lower == -INF else float(lower), inf if upper == INF else float(upper), len(idx),
                     idx, [float(coeffs[i]) for i in idx])
        n = len(self.names)
        h.changeColsIntegrality(n, list(range(n)), [highspy.HighsVarType.kInteger] * n)
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        seconds = time.monotonic() - started
        text = h.modelStatusToString(status)
        if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            raise Infeasible('no integer solution')
        has_plan = info.primal_solution_status == 2   # kSolutionStatusFeasible
        if not has_plan:
            if status == highspy.HighsModelStatus.kTimeLimit:
                raise NoSolution('no feasible plan within %.1f s' % time_limit)
            raise SolverError('HiGHS stopped without a plan: %s' % text)
        values = [int(round(v)) for v in h.getSolution().col_value]
        objective = int(round(sum(c * v for c, v in zip(self.costs, values))))
        optimal = status == highspy.HighsModelStatus.kOptimal
        bound = objective if optimal else int(math.ceil(info.mip_dual_bound - INT_EPS))
        return Result(values, objective, min(bound, objective), optimal, seconds, text)
