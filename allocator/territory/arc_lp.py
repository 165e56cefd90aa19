"""The territory LP relaxation straight into HiGHS: numpy arrays in, one model reused across
rounds."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from allocator.io.settings import SolverSettings
from allocator.solver import ArrayColumns, HighsLpSession, SolveReport
from allocator.territory.core import ArcProblem, slack_scale
from allocator.territory.pairs import at

__all__ = ["ArcLp"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Divide each family row by max(1, |rhs|) in the HiGHS LP (balance rows hold raw potential).
SCALE_ROWS = True


class ArcLp:
    """The LP relaxation over a growing arc set, built from numpy arrays into one HiGHS model.

    Rows as :func:`allocator.territory.core.build_model` (same names, for the duals), each family
    row
    divided by ``max(1, |rhs|)`` (the duals are scaled back); columns: the deviation and slack
    columns first, then the arcs in the order they were added.
    """

    def __init__(
        self, problem: ArcProblem, arcs: IntArray, solver: SolverSettings, *, elastic: bool
    ) -> None:
        self.problem, self.elastic = problem, elastic
        names, lower, upper, self.scale, self.offsets = _rows(problem, elastic=elastic)
        self.session = HighsLpSession(lower / self.scale, upper / self.scale, names, solver)
        extra = _extra_columns(problem, self.offsets, self.scale, elastic=elastic)
        self.session.add_columns(extra)
        self.first = len(extra)
        self.order = np.zeros(0, np.int64)
        self.arcs = np.zeros(0, np.int64)
        self.add(arcs)

    def add(self, arcs: IntArray) -> None:
        """Add the columns of ``arcs`` (not yet in the model)."""
        arcs = np.asarray(arcs, np.int64)
        self.session.add_columns(
            _arc_columns(self.problem, self.offsets, self.scale, arcs, elastic=self.elastic)
        )
        self.order = np.concatenate([self.order, arcs])
        self.arcs = np.sort(self.order)

    def run(self, time_limit: float) -> tuple[SolveReport, FloatArray]:
        """Solve; the report's duals are per original (unscaled) row; values follow ``arcs``."""
        report, values, row_dual = self.session.run(time_limit)
        if len(row_dual):
            pi = row_dual / self.scale
            duals = dict(zip(self.session.row_names, pi.tolist(), strict=True))
            report = replace(report, duals=duals)
        x = np.zeros(len(self.arcs))
        if len(values):
            x = values[self.first :][np.argsort(self.order, kind="stable")]
        return report, x


def _rows(
    problem: ArcProblem, *, elastic: bool
) -> tuple[list[str], FloatArray, FloatArray, FloatArray, list[int]]:
    """Row names, lower and upper bounds, scale divisors and each family's first row."""
    n = len(problem.items)
    names = [f"assign_once_{i}" for i in range(n)]
    lower, upper, scale, offsets = [np.ones(n)], [np.ones(n)], [np.ones(n)], []
    for family in problem.families:
        offsets.append(len(names))
        rhs = np.asarray(family.rhs, float)
        names += [family.pulp_name(j) for j in range(len(rhs))]
        lower.append(rhs if family.sense != "<=" else np.full(len(rhs), -np.inf))
        upper.append(rhs if family.sense != ">=" else np.full(len(rhs), np.inf))
        scale.append(np.maximum(1.0, np.abs(rhs)) if SCALE_ROWS else np.ones(len(rhs)))
    if problem.balance_cap is not None and not elastic:
        names.append("goal_balance")
        lower.append(np.array([-np.inf]))
        upper.append(np.array([float(problem.balance_cap)]))
        scale.append(np.ones(1))
    cat = np.concatenate
    return names, cat(lower), cat(upper), cat(scale), offsets


def _columns(cost: FloatArray, rows: IntArray, cols: IntArray, vals: FloatArray) -> ArrayColumns:
    """Columns 0..len(cost)-1 from (row, column, value) triplets."""
    order = np.lexsort((rows, cols))
    starts = np.searchsorted(cols[order], np.arange(len(cost) + 1))
    lower, upper = np.zeros(len(cost)), np.full(len(cost), np.inf)
    return ArrayColumns(cost, lower, upper, starts, rows[order], vals[order])


def _arc_columns(
    problem: ArcProblem,
    offsets: list[int],
    scale: FloatArray,
    arcs: IntArray,
    *,
    elastic: bool,
) -> ArrayColumns:
    n, m = problem.shape
    ii, rr = arcs // m, arcs % m
    k = np.arange(len(arcs))
    rows, cols, vals = [ii], [k], [np.ones(len(arcs))]
    for family, first in zip(problem.families, offsets, strict=True):
        coef = at(family.coef, (n, m), ii, rr)
        index = {"rep": rr, "item": ii, "one": np.zeros_like(ii)}[family.axis] + first
        keep = coef != 0
        rows.append(index[keep])
        cols.append(k[keep])
        vals.append(coef[keep] / scale[index[keep]])
    cost = np.zeros(len(arcs)) if elastic else np.asarray(problem.cost[ii, rr], float)
    cat = np.concatenate
    return _columns(cost, cat(rows), cat(cols), cat(vals))


def _extra_columns(
    problem: ArcProblem, offsets: list[int], scale: FloatArray, *, elastic: bool
) -> ArrayColumns:
    """``d+``/``d-`` of every deviation row, then the slack of every soft row when elastic."""
    goal = len(scale) - 1  # the goal_balance row, when there is one
    with_goal = problem.balance_cap is not None and not elastic
    cost: list[FloatArray] = []
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    count = 0
    for family, first in zip(problem.families, offsets, strict=True):
        j = first + np.arange(len(family.rhs))
        col = count + np.arange(len(j))
        if family.deviation is not None:
            weight = np.asarray(family.deviation, float)
            for sign in (-1.0, 1.0):
                cost.append(np.zeros(len(j)) if elastic else weight * problem.balance_weight)
                rows += [j, np.full(len(j), goal)] if with_goal else [j]
                cols += [col, col] if with_goal else [col]
                vals += [sign / scale[j], weight] if with_goal else [sign / scale[j]]
                count, col = count + len(j), col + len(j)
        if elastic and family.soft:
            sign = -1.0 if family.sense == "<=" else 1.0
            unit = np.array([slack_scale(v) for v in np.asarray(family.rhs, float).tolist()])
            cost.append(np.ones(len(j)))
            rows.append(j)
            cols.append(col)
            vals.append(sign * unit / scale[j])
            count += len(j)
    if not cost:
        return _columns(np.zeros(0), *(np.zeros(0, np.int64),) * 2, np.zeros(0))
    cat = np.concatenate
    return _columns(cat(cost), cat(rows), cat(cols), cat(vals))
