"""Candidate arcs and exact pricing (``models/assignment.md``, "Candidate arcs and pricing").

:func:`initial_arcs` keeps each item's nearest eligible reps and its incumbents;
:func:`price_arcs` grows that set with the arcs the LP relaxation's duals price out (phase 1 for
feasibility, phase 2 for optimality) until the restricted LP is optimal for all eligible arcs;
:func:`augment_arcs` adds the arcs that the reduced-cost argument cannot exclude from a MIP
solution better than a known incumbent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from allocator.arcmodel import ArcProblem, build_model, reduced_costs, slack_scale
from allocator.exceptions import SolverError
from allocator.settings import SolverSettings
from allocator.solve import ArrayColumns, HighsLpSession, SolveReport, Status, solve

__all__ = ["Pricing", "augment_arcs", "initial_arcs", "price_arcs"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Arcs that may enter per item and pricing round (the most negative reduced costs first).
PER_ITEM = 3

#: Divide each family row by max(1, |rhs|) in the HiGHS LP (balance rows hold raw potential).
SCALE_ROWS = True

#: Pricing stops early when the Lagrangian bound is this share of ``solver.gap`` below the LP.
EARLY_STOP = 0.1


@dataclass(frozen=True)
class Pricing:
    """The priced arc set and what the final LP says about it.

    ``bound`` is a lower bound over all eligible arcs when ``priced`` (the LP optimum, or the
    Lagrangian bound when pricing ``stopped`` early or out of time; else the LP over ``arcs``
    only, or None when no LP finished); ``reduced`` the reduced costs of every arc at that LP,
    >= 0 everywhere and such that a solution using an arc costs at least ``bound`` plus its
    reduced cost; ``values`` the LP value of each arc of ``arcs``; ``feasible`` false when even
    the LP over all eligible arcs is infeasible.
    """

    arcs: IntArray
    values: FloatArray
    bound: float | None
    reduced: FloatArray | None
    feasible: bool
    priced: bool
    added: int
    rounds: int
    stopped: bool = False


def initial_arcs(
    problem: ArcProblem, nearest: int | None, *, within: BoolArray | None = None
) -> IntArray:
    """Each item's ``nearest`` eligible arcs by ``rank`` (all when None), plus the ``keep`` arcs.

    ``within`` limits the nearest arcs (e.g. a distance cap); each item's best arc stays anyway.
    """
    n, m = problem.shape
    if nearest is None or nearest >= m:
        return problem.all_arcs
    rank = np.where(problem.eligible, problem.rank, np.inf)
    order = np.argsort(rank, axis=1, kind="stable")[:, :nearest]
    chosen = np.zeros((n, m), bool)
    rows = np.arange(n)[:, None]
    chosen[rows, order] = np.isfinite(rank[rows, order])
    if within is not None:
        chosen &= within
        chosen[np.arange(n), order[:, 0]] |= np.isfinite(rank[np.arange(n), order[:, 0]])
    chosen |= problem.keep & problem.eligible
    return np.flatnonzero(chosen.ravel()).astype(np.int64)


def price_arcs(
    problem: ArcProblem,
    arcs: IntArray,
    solver: SolverSettings,
    *,
    deadline: float,
    price: bool = True,
) -> Pricing:
    """Solve the LP over ``arcs`` and, when ``price``, add priced-out arcs until none is left.

    With HiGHS one LP is kept and the priced arcs are added to it (each round starts from the
    previous basis); pricing also stops when the Lagrangian bound is within ``EARLY_STOP`` x
    ``solver.gap`` of the LP. When the time runs out, the arcs so far are kept with the last
    round's Lagrangian bound (``stopped``); when no LP round finished there is no bound and
    :attr:`Pricing.priced` is False.

    Raises
    ------
    SolverError
        When an LP cannot be solved (other than infeasible or out of time).
    """
    if solver.name == "highs":
        return _price_highs(problem, arcs, solver, deadline=deadline, price=price)
    return _price_pulp(problem, arcs, solver, deadline=deadline, price=price)


def _price_highs(
    problem: ArcProblem, arcs: IntArray, solver: SolverSettings, *, deadline: float, price: bool
) -> Pricing:
    added = rounds = 0
    phase = 2  # phase 1 (minimise the slack of the soft rows) only when the LP is infeasible
    lp = ArcLp(problem, arcs, solver, elastic=False)
    last: Pricing | None = None  # the last finished phase-2 round, as an early-stopped answer
    while True:
        rounds += 1
        report, values = lp.run(deadline - time.perf_counter())
        arcs = lp.arcs
        if report.status is Status.INFEASIBLE and phase == 2 and price:
            phase, lp = 1, ArcLp(problem, arcs, solver, elastic=True)
            continue
        if report.status is Status.INFEASIBLE:
            return Pricing(arcs, np.zeros(len(arcs)), None, None, False, price, added, rounds)
        if report.status is Status.TIME_LIMIT:
            return _out_of_time(problem, arcs, last, added, rounds)
        _check_optimal(problem, report)
        assert report.objective is not None
        if not price:
            return Pricing(arcs, values, report.objective, None, True, False, 0, rounds)
        cost = np.zeros(problem.shape) if phase == 1 else None
        reduced = reduced_costs(problem, report.duals, cost=cost)
        new = _entering(problem, arcs, reduced, phase=phase)
        if phase == 2 and len(new):
            last = _lagrangian(problem, arcs, values, report.objective, reduced, added, rounds)
            if report.objective - (last.bound or 0.0) <= _early(report.objective, solver.gap):
                log.info("pricing: stopped early at a Lagrangian bound within the gap")
                return replace(last, stopped=True)
        if len(new):
            lp.add(new)
            added += len(new)
            continue
        if phase == 1 and report.objective > 1e-6:
            return Pricing(arcs, values, None, None, False, True, added, rounds)
        if phase == 1:
            phase, lp = 2, ArcLp(problem, arcs, solver, elastic=False)
            continue
        log.info("pricing: %d arcs after %d LP rounds (%d priced in)", len(arcs), rounds, added)
        return Pricing(arcs, values, report.objective, reduced, True, True, added, rounds)


def _early(objective: float, gap: float) -> float:
    return EARLY_STOP * gap * max(1.0, abs(objective))


def _check_optimal(problem: ArcProblem, report: SolveReport) -> None:
    if report.status is not Status.OPTIMAL or report.objective is None:
        raise SolverError(f"the LP relaxation of {problem.name} ended {report.status.value}")


def _lagrangian(
    problem: ArcProblem,
    arcs: IntArray,
    values: FloatArray,
    objective: float,
    reduced: FloatArray,
    added: int,
    rounds: int,
) -> Pricing:
    """The bound over all eligible arcs from a restricted LP's duals (``models/assignment.md``).

    Every item takes one arc, so no solution costs less than the restricted LP optimum plus each
    item's most negative reduced cost; the reduced costs are shifted by that amount per item
    (all >= 0), which keeps :func:`augment_arcs` exact against this bound.
    """
    rc = np.where(problem.eligible, reduced, np.inf)
    low = np.minimum(rc.min(axis=1, initial=np.inf), 0.0)
    low = np.where(np.isfinite(low), low, 0.0)
    bound = objective + float(low.sum())
    return Pricing(arcs, values, bound, reduced - low[:, None], True, True, added, rounds)


def _out_of_time(
    problem: ArcProblem, arcs: IntArray, last: Pricing | None, added: int, rounds: int
) -> Pricing:
    """Pricing ran out of time: keep the arcs, the last LP values and its Lagrangian bound."""
    if last is None:
        log.warning("%s: the LP relaxation ran out of time; no bound is known", problem.name)
        return Pricing(arcs, np.zeros(len(arcs)), None, None, True, False, added, rounds)
    log.warning("%s: pricing ran out of time; keeping %d arcs", problem.name, len(arcs))
    values = np.zeros(len(arcs))
    values[np.searchsorted(arcs, last.arcs)] = last.values
    return replace(last, arcs=arcs, values=values, added=added, rounds=rounds, stopped=True)


def _price_pulp(
    problem: ArcProblem, arcs: IntArray, solver: SolverSettings, *, deadline: float, price: bool
) -> Pricing:
    """The same loop through PuLP (CBC): every round rebuilds and re-solves the LP."""
    added = rounds = 0
    phase = 2
    while True:
        rounds += 1
        model = build_model(problem, arcs, integer=False, elastic=phase == 1)
        report = solve(model.prob, solver, time_limit=deadline - time.perf_counter())
        if report.status is Status.INFEASIBLE and phase == 2 and price:
            phase = 1
            continue
        if report.status is Status.INFEASIBLE:
            return Pricing(arcs, np.zeros(len(arcs)), None, None, False, price, added, rounds)
        if report.status is Status.TIME_LIMIT:
            return _out_of_time(problem, arcs, None, added, rounds)
        _check_optimal(problem, report)
        assert report.objective is not None
        if not price:
            return Pricing(arcs, model.values(), report.objective, None, True, False, 0, rounds)
        cost = np.zeros(problem.shape) if phase == 1 else None
        reduced = reduced_costs(problem, report.duals, cost=cost)
        new = _entering(problem, arcs, reduced, phase=phase)
        if len(new):
            arcs, added = np.union1d(arcs, new), added + len(new)
            continue
        if phase == 1 and report.objective > 1e-6:
            return Pricing(arcs, model.values(), None, None, False, True, added, rounds)
        if phase == 1:
            phase = 2
            continue
        return Pricing(arcs, model.values(), report.objective, reduced, True, True, added, rounds)


def _entering(problem: ArcProblem, arcs: IntArray, reduced: FloatArray, *, phase: int) -> IntArray:
    """Up to ``PER_ITEM`` arcs per item, not in ``arcs``, with a clearly negative reduced cost."""
    n, m = problem.shape
    scale = 1.0 if phase == 1 else float(np.abs(problem.cost[problem.eligible]).max(initial=0.0))
    eps = 1e-7 * max(1.0, scale)
    rc = np.where(problem.eligible, reduced, np.inf)
    rc.ravel()[arcs] = np.inf  # a view: rc is a fresh contiguous array
    k = min(PER_ITEM, m)
    best = np.argsort(rc, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = best.ravel()
    take = rc[rows, cols] < -eps
    return np.sort(rows[take] * m + cols[take]).astype(np.int64)


def augment_arcs(
    problem: ArcProblem, arcs: IntArray, pricing: Pricing, incumbent: float, *, gap: float = 0.0
) -> IntArray:
    """Eligible arcs outside ``arcs`` with reduced cost below ``incumbent - gap - LP bound``.

    Only these can appear in a solution better than ``incumbent`` by more than the relative MIP
    ``gap`` (``models/assignment.md``, step 5); none are needed when the incumbent is already
    within the gap of the LP bound.
    """
    if pricing.reduced is None or pricing.bound is None:
        return np.zeros(0, np.int64)
    scale = max(1.0, abs(incumbent))
    threshold = incumbent - gap * scale - pricing.bound + 1e-6 * scale
    if threshold <= 0:
        return np.zeros(0, np.int64)
    candidates = np.flatnonzero((problem.eligible & (pricing.reduced < threshold)).ravel())
    return np.setdiff1d(candidates, arcs).astype(np.int64)


# ---------------------------------------------------------------- the LP straight into HiGHS


class ArcLp:
    """The LP relaxation over a growing arc set, built from numpy arrays into one HiGHS model.

    Rows as :func:`allocator.arcmodel.build_model` (same names, for the duals), each family row
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
        coef = np.broadcast_to(family.coef, (n, m))[ii, rr]
        index = {"rep": rr, "item": ii, "one": np.zeros_like(ii)}[family.axis] + first
        keep = coef != 0
        rows.append(index[keep])
        cols.append(k[keep])
        vals.append(coef[keep] / scale[index[keep]])
    cost = np.zeros(len(arcs)) if elastic else problem.cost[ii, rr].astype(float)
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
