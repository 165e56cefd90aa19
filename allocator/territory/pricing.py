"""Candidate arcs and exact pricing (``models/assignment.md``, "Candidate arcs and pricing").

:func:`initial_arcs` keeps each item's nearest eligible reps and its incumbents;
:func:`price_arcs` grows that set with the arcs the LP relaxation's duals price out (phase 1 for
feasibility, phase 2 for optimality) until the restricted LP is optimal for all eligible arcs;
:func:`augment_arcs` adds the arcs that the reduced-cost argument cannot exclude from a MIP
solution better than a known incumbent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from allocator.exceptions import SolverError
from allocator.io.settings import SolverSettings
from allocator.solver import SolveReport, Status, solve
from allocator.solver.deadline import call_limit
from allocator.territory import nearest as near_k
from allocator.territory import pruned
from allocator.territory.arc_lp import ArcLp
from allocator.territory.bound import dual_bound, dual_bound_value
from allocator.territory.core import ArcProblem, build_model, reduced_costs
from allocator.territory.pairs import nonzero_arcs, without

__all__ = ["Pricing", "augment_arcs", "initial_arcs", "price_arcs"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Arcs that may enter per item and pricing round (the most negative reduced costs first).
PER_ITEM = 3

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
    problem: ArcProblem,
    nearest: int | None,
    *,
    within: BoolArray | None = None,
    per_rep: int = 0,
) -> IntArray:
    """Each item's ``nearest`` eligible arcs by ``rank`` (all when None), plus the ``keep`` arcs,
    plus each rep's ``per_rep`` nearest eligible items (so that a rep's lower rows, such as
    ``balance_lo``, can be met when ``nearest`` is small).

    ``within`` limits the nearest arcs (e.g. a distance cap); each item's best arc stays anyway.
    """
    m = len(problem.reps)
    if nearest is None or nearest >= m:
        return problem.all_arcs
    found = near_k.nearest_reps(problem, nearest)  # sparse path: k-d trees, else every pair
    rows, cols, value = found or smallest(problem.rank, problem.eligible, nearest)
    ok = np.isfinite(value)
    first = np.r_[True, rows[1:] != rows[:-1]] & ok  # each item's nearest eligible arc
    if within is not None:
        ok &= within[rows, cols]
    chosen = (rows * m + cols)[ok | first]
    keep = near_k.incumbent_arcs(problem)
    keep = nonzero_arcs(problem.keep & problem.eligible) if keep is None else keep
    if per_rep > 0:
        by_rep = near_k.nearest_items(problem, per_rep)  # sparse path: k-d trees
        reps, items, value = by_rep or smallest(problem.rank.T, problem.eligible.T, per_rep)
        ok = np.isfinite(value)
        keep = np.union1d(keep, items[ok] * m + reps[ok])
    return np.union1d(chosen, keep).astype(np.int64)


#: Rows of an (items, reps) array handled at once by :func:`smallest` (bounds temporaries).
CHUNK = 4096


def smallest(values: FloatArray, mask: BoolArray, k: int) -> tuple[IntArray, IntArray, FloatArray]:
    """Each row's ``k`` smallest ``values`` where ``mask`` (inf elsewhere), as a stable argsort.

    Returns flat (row, column, value) triplets, row by row, each row's in the order of
    ``np.argsort(..., kind="stable")[:, :k]`` (ties by column), with ``inf`` for masked or
    missing entries. Works in blocks of :data:`CHUNK` rows with ``argpartition`` (linear
    time), so no (items, reps) index array is made.
    """
    n, m = mask.shape
    k = min(k, m)
    out_r, out_c, out_v = [], [], []
    block = max(1, min(CHUNK, CHUNK * 1024 // max(m, 1)))  # about 4 M entries at most
    for lo in range(0, n, block):
        v = np.where(mask[lo : lo + block], values[lo : lo + block], np.inf)
        t = np.partition(v, k - 1, axis=1)[:, k - 1 : k]  # each row's k-th smallest value
        take = v < t
        ties = v == t
        need = k - take.sum(axis=1, keepdims=True)
        take |= ties & (np.cumsum(ties, axis=1) <= need)  # lowest columns first, as stable
        r, c = np.nonzero(take)
        order = np.lexsort((c, v[r, c], r))
        out_r.append(r[order] + lo)
        out_c.append(c[order])
        out_v.append(v[r, c][order])
    cat = np.concatenate
    return cat(out_r).astype(np.int64), cat(out_c).astype(np.int64), cat(out_v)


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
    last_report: SolveReport | None = None  # its LP (duals), to rebuild its reduced costs
    while True:
        rounds += 1
        report, values = lp.run(call_limit(deadline))
        arcs = lp.arcs
        if report.status is Status.INFEASIBLE and phase == 2 and price:
            phase, lp = 1, ArcLp(problem, arcs, solver, elastic=True)
            continue
        if report.status is Status.INFEASIBLE:
            return Pricing(arcs, np.zeros(len(arcs)), None, None, False, price, added, rounds)
        if report.status is Status.TIME_LIMIT:
            if last is not None:
                assert last_report is not None
                last = _lagrangian(
                    problem, last.arcs, last.values, last_report, last.added, last.rounds
                )
            elif phase == 2 and report.duals:  # the first LP did not finish
                last = _unfinished(problem, arcs, values, report, added, rounds)
            return _out_of_time(problem, arcs, last, added, rounds)
        _check_optimal(problem, report)
        assert report.objective is not None
        if not price:
            return Pricing(arcs, values, report.objective, None, True, False, 0, rounds)
        cost = np.zeros((1, 1)) if phase == 1 else None  # broadcasts
        reduced = reduced_costs(problem, report.duals, cost=cost)
        new = _entering(problem, arcs, reduced, phase=phase)
        if phase == 2 and len(new):
            del reduced  # the bound recomputes them at clipped duals: one array at a time
            last = _lagrangian(problem, arcs, values, report, added, rounds)
            log.info(
                "pricing round %d: LP %.8g, bound over all arcs %.8g, %d arcs enter",
                rounds,
                report.objective,
                last.bound,
                len(new),
            )
            if report.objective - (last.bound or 0.0) <= _early(report.objective, solver.gap):
                log.info("pricing: stopped early at a Lagrangian bound within the gap")
                return replace(last, stopped=True)
            # its reduced costs are rebuilt from its duals only if the next LP runs out of
            # time: one (items, reps) array less during the next round
            last, last_report = replace(last, reduced=None), report
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
        return _converged(problem, arcs, values, report, reduced, added, rounds)


def _early(objective: float, gap: float) -> float:
    return EARLY_STOP * gap * max(1.0, abs(objective))


def _check_optimal(problem: ArcProblem, report: SolveReport) -> None:
    if report.status is not Status.OPTIMAL or report.objective is None:
        raise SolverError(f"the LP relaxation of {problem.name} ended {report.status.value}")


def _lagrangian(
    problem: ArcProblem,
    arcs: IntArray,
    values: FloatArray,
    report: SolveReport,
    added: int,
    rounds: int,
) -> Pricing:
    """The bound over all eligible arcs from a restricted LP's duals (``models/assignment.md``).

    Every item takes one arc, so no solution costs less than the Lagrangian dual function at
    the LP's duals (:func:`allocator.territory.bound.dual_bound`: proven by weak duality for
    any multipliers, so an inexact LP cannot make it invalid); with exact duals it is the
    restricted LP optimum plus each item's most negative reduced cost. The reduced costs are
    shifted per item (all >= 0), which keeps :func:`augment_arcs` exact against this bound.
    """
    assert report.objective is not None
    found = dual_bound(problem, report.duals)
    if found is None:  # goal_balance cap: LP value + each item's most negative reduced cost
        reduced = reduced_costs(problem, report.duals)
        low = np.minimum(_row_min(reduced, problem.eligible), 0.0)
        reduced -= low[:, None]
        bound = report.objective + float(low.sum())
    else:
        bound, reduced, _ = found
    return Pricing(arcs, values, bound, reduced, True, True, added, rounds)


def _unfinished(
    problem: ArcProblem,
    arcs: IntArray,
    values: FloatArray,
    report: SolveReport,
    added: int,
    rounds: int,
) -> Pricing | None:
    """The bound over all eligible arcs from the duals of an LP stopped at its time limit.

    The Lagrangian dual function is a lower bound at any multipliers after sign clipping
    (:func:`allocator.territory.bound.dual_bound`), so the dual simplex's duals where it
    stopped still prove a bound (weaker than the LP optimum); ``values`` are its column
    values clipped to [0, 1], a base for the warm start. None without a bound (a
    ``goal_balance`` cap) or when the bound is not finite.
    """
    found = dual_bound(problem, report.duals)
    if found is None or not np.isfinite(found[0]):
        return None
    log.warning("%s: the first LP stopped at its time limit; bounding by its duals", problem.name)
    return Pricing(arcs, values, found[0], found[1], True, True, added, rounds, stopped=True)


def _converged(
    problem: ArcProblem,
    arcs: IntArray,
    values: FloatArray,
    report: SolveReport,
    reduced: FloatArray,
    added: int,
    rounds: int,
) -> Pricing:
    """No arc prices out: the LP optimum is the bound; it is checked against the Lagrangian
    dual function at the same duals, and the lower of the two is kept (they agree up to the
    solver's tolerances), so the bound never rests on the LP's accuracy alone."""
    assert report.objective is not None
    value = dual_bound_value(problem, report.duals)
    bound = report.objective if value is None else min(report.objective, value)
    return Pricing(arcs, values, bound, reduced, True, True, added, rounds)


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
        report = solve(model.prob, solver, deadline=deadline)
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
        cost = np.zeros((1, 1)) if phase == 1 else None  # broadcasts
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
    m = len(problem.reps)
    scale = 1.0 if phase == 1 else _largest_cost(problem)
    eps = 1e-7 * max(1.0, scale)
    found = pruned.entering(problem, arcs, reduced, eps, PER_ITEM)  # far pairs skipped, exactly
    if found is not None:
        return found
    outside = without(problem.eligible, arcs)
    rows, cols, value = smallest(reduced, outside, PER_ITEM)
    take = value < -eps
    return np.sort(rows[take] * m + cols[take]).astype(np.int64)


def _row_min(values: FloatArray, mask: BoolArray) -> FloatArray:
    """Each row's smallest ``values`` where ``mask`` (inf when none), block by block."""
    return np.concatenate(
        [
            np.min(values[lo : lo + CHUNK], axis=1, where=mask[lo : lo + CHUNK], initial=np.inf)
            for lo in range(0, len(values), CHUNK)
        ]
        or [np.zeros(0)]
    )


def _largest_cost(problem: ArcProblem) -> float:
    """max |cost| over the eligible arcs (:attr:`ArcProblem.largest_cost`, computed once)."""
    return problem.largest_cost


def augment_arcs(
    problem: ArcProblem,
    arcs: IntArray,
    pricing: Pricing,
    incumbent: float,
    *,
    gap: float = 0.0,
    limit: int | None = None,
) -> IntArray:
    """Eligible arcs outside ``arcs`` with reduced cost below ``incumbent - gap - LP bound``.

    Only these can appear in a solution better than ``incumbent`` by more than the relative MIP
    ``gap`` (``models/assignment.md``, step 5); none are needed when the incumbent is already
    within the gap of the LP bound. On the sparse path the search stops once more than
    ``limit`` are found (the caller cannot add them anyway).
    """
    if pricing.reduced is None or pricing.bound is None:
        return np.zeros(0, np.int64)
    scale = max(1.0, abs(incumbent))
    threshold = incumbent - gap * scale - pricing.bound + 1e-6 * scale
    if threshold <= 0:
        return np.zeros(0, np.int64)
    found = pruned.augment(problem, arcs, pricing.reduced, threshold)  # far pairs skipped
    if found is not None:
        return found
    if problem.lazy:  # block by block, outside ``arcs`` only, at most ``limit`` + 1 blocks' worth
        outside = without(problem.eligible, arcs) & (pricing.reduced < threshold)
        return nonzero_arcs(outside, limit=limit)
    candidates = nonzero_arcs(problem.eligible & (pricing.reduced < threshold))
    return np.setdiff1d(candidates, arcs).astype(np.int64)
