"""Repair a complete plan that breaks rows: the ascent's first plan at scale (issue 19).

At 250,000 x 2,000 the Lagrangian choice (each account's cheapest rep at the ascent's
multipliers) breaks about a thousand capacity and balance rows, each by a little, and every
LP or MIP over the items it would take to repair them all at once ran past the run's time
(session 25). The repair is local instead, in two steps:

1. :func:`shift`: for each broken rep, most broken first, the cheapest move (in reduced
   costs) that lowers the total excess of the rows it touches: an item leaving the rep,
   one joining it, else a swap. At 250,000 x 2,000 about 27,000 moves in a minute repair
   every row (``benchmarks/profile_scale.md``, session 26).
2. Windows, for what single moves and swaps cannot repair: the reps around the most broken
   one (breadth first over the candidate graph, whose edges join an item's rep and the reps
   of its candidate arcs) and their items; the MIP over those items only (every other item
   fixed, :func:`~allocator.territory.fixed.fix_items`), between the window's reps, with a
   slack on every soft row at ``penalty`` per unit (an *elastic* MIP). The plan is feasible
   for it and is its warm start, so a window never makes the plan break rows more; one that
   repairs nothing grows (longer chains of moves) the next time its rep is the seed.

This is the Lagrangian heuristic's local repair (Fisher 1981, Management Science 27(1);
shift and swap neighbourhoods as in Yagiura, Ibaraki & Glover 2004, INFORMS J. Computing
16(2)) with MIP neighbourhoods over an elastic model (Chinneck 2008, *Feasibility and
Infeasibility in Optimization*, ch. 6). :func:`window_mip` is also the ascent plan's
improvement step (hard rows, no slack).
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from allocator.io.settings import SolverSettings
from allocator.solver.deadline import call_limit
from allocator.territory.arc_mip import elastic_mip, solve_arc_mip
from allocator.territory.core import (
    ArcProblem,
    activities,
    objective_terms,
    row_slack,
)
from allocator.territory.fixed import fix_items, to_part
from allocator.territory.lagrange_model import gather
from allocator.territory.pairs import at

__all__ = ["elastic_mip", "excess", "repair", "shift", "window_mip"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Most single moves and swaps the repair makes before its windows.
MOVES = 200_000

#: Items in a window at first; a window that repairs nothing doubles the next time.
WINDOW = 1000

#: Largest window, in items.
WINDOW_MAX = 24_000

#: Cost of a unit of slack (a whole row's right-hand side) in a window's elastic MIP, in mean
#: costs of a rep's territory: a row broken by 1% costs as much as the territory moving a
#: whole rep's cost, so a window repairs wherever moves can.
PENALTY = 100.0

#: Seconds a window's MIP may take.
WINDOW_LIMIT = 10.0

#: Relative gap at which a window's MIP stops (the penalty dominates its objective: the run's
#: ``solver.gap`` would stop it with rows still broken).
WINDOW_GAP = 1e-4


def excess(problem: ArcProblem, plan: IntArray) -> tuple[FloatArray, float]:
    """How far ``plan`` (rep per item) breaks the soft rows: per rep (m,), the sum over its
    rows of the excess in units of the row's right-hand side (0 where every row holds), and
    the same sum over the single rows (``max_moved``)."""
    m = problem.shape[1]
    per_rep, single = np.zeros(m), 0.0
    for family in problem.families:
        if not family.soft or family.axis == "item":
            continue
        rhs = np.asarray(family.rhs, float)
        unit = np.maximum(np.abs(rhs), 1.0)
        over = np.maximum(-row_slack(family, activities(problem, family, plan)), 0.0) / unit
        over[over < 1e-9] = 0.0
        if family.axis == "rep":
            per_rep += over
        else:
            single += float(over.sum())
    return per_rep, single


def repair(
    problem: ArcProblem,
    plan: IntArray,
    short: IntArray,
    solver: SolverSettings,
    deadline: float,
    cost: object = None,
    *,
    moves: int = MOVES,
) -> IntArray | None:
    """A plan that meets every row, from ``plan`` (rep per item, every arc eligible): at most
    ``moves`` moves and swaps (:func:`shift`, cheapest by ``cost``, lazy or (n, m); None:
    the problem's), then
    elastic MIP windows, along the candidate arcs ``short`` (sorted flat ids; each item's own
    arc is added in the windows). None when rows are still broken at ``deadline`` (absolute
    :func:`time.monotonic`)."""
    m = problem.shape[1]
    plan = shift(problem, plan, short, problem.cost if cost is None else cost, moves=moves)
    penalty = PENALTY * max(abs(_value(problem, plan)), 1.0) / m
    size = np.full(m, WINDOW)
    per_rep, single = excess(problem, plan)
    rounds = 0
    while per_rep.sum() + single > 0:
        if call_limit(deadline) <= 1.0:
            log.info("repair: %d windows, rows still broken at the deadline", rounds)
            return None
        seed = _seed(problem, plan, per_rep)
        reps = _window(short, plan, seed, int(size[seed]), m)
        new = window_mip(problem, plan, reps, short, solver, deadline, penalty=penalty)
        rounds += 1
        before = per_rep.sum() + single
        if new is not None:
            plan = new
            per_rep, single = excess(problem, plan)
        if per_rep.sum() + single >= before - 1e-9:
            if size[seed] >= WINDOW_MAX:  # the largest window repaired nothing either
                log.info("repair: the window of rep %d repairs nothing at its largest", seed)
                return None
            size[seed] = min(2 * size[seed], WINDOW_MAX)
        log.info(
            "repair window %d: seed rep %d, %d reps, excess %.4g -> %.4g",
            rounds,
            seed,
            int(reps.sum()),
            before,
            per_rep.sum() + single,
        )
    return plan


class _Rows:
    """The hard rows of a plan as arrays (every family but deviations and per-item rows): the
    activity, limits and unit of each, and what moves do to their total excess."""

    def __init__(self, problem: ArcProblem, plan: IntArray) -> None:
        self.fams = [f for f in problem.families if f.deviation is None and f.axis != "item"]
        self.shape = problem.shape
        self.act = [activities(problem, f, plan) for f in self.fams]
        self.hi = [np.full(len(f.rhs), np.inf) if f.sense == ">=" else f.rhs for f in self.fams]
        self.lo = [np.full(len(f.rhs), -np.inf) if f.sense == "<=" else f.rhs for f in self.fams]
        self.unit = [np.maximum(np.abs(np.asarray(f.rhs, float)), 1.0) for f in self.fams]

    def coef(self, items: IntArray, reps: IntArray) -> list[FloatArray]:
        """Each family's coefficient of the arcs ``(items, reps)``."""
        return [gather(f.coef, self.shape, items, reps) for f in self.fams]

    def bad(self, q: int, rows: IntArray, value: FloatArray) -> FloatArray:
        """The excess of rows ``rows`` of family ``q`` at activity ``value``."""
        over = np.maximum(np.maximum(value - self.hi[q][rows], self.lo[q][rows] - value), 0.0)
        over = over / self.unit[q][rows]
        return np.where(over > 1e-9, over, 0.0)

    def per_rep(self) -> FloatArray:
        """Each rep's excess over its rows (m,)."""
        m = self.shape[1]
        parts = [self.bad(q, np.arange(m), self.act[q]) for q in self._rep_families()]
        return np.sum(parts, axis=0) if parts else np.zeros(m)

    def per_rep_of(self, rep: int) -> float:
        """The excess of one rep's rows."""
        one = np.array([rep])
        return float(sum(self.bad(q, one, self.act[q][one])[0] for q in self._rep_families()))

    def _rep_families(self) -> list[int]:
        return [q for q, f in enumerate(self.fams) if f.axis == "rep"]

    def delta(self, changes: list[tuple[IntArray, list[FloatArray]]]) -> FloatArray:
        """The change of the total excess for each of a batch of moves: a move adds
        ``coef[q][k]`` to row ``rep[k]`` of family ``q`` for every ``(rep, coef)`` of
        ``changes`` (and to the single rows)."""
        out = np.zeros(len(changes[0][0]))
        for q, f in enumerate(self.fams):
            if f.axis == "one":
                zero = np.zeros(len(out), np.int64)
                add = sum(c[q] for _, c in changes)
                out += self.bad(q, zero, self.act[q][0] + add) - self.bad(
                    q, zero, self.act[q][zero]
                )
                continue
            for k, (rep, _) in enumerate(changes):  # a rep's total change, at its first change
                add = sum(c[q] * (r == rep) for r, c in changes)
                first = np.all([r != rep for r, _ in changes[:k]], axis=0)
                val = self.act[q][rep]
                out += np.where(first, self.bad(q, rep, val + add) - self.bad(q, rep, val), 0.0)
        return out

    def move(self, src: int, dst: int, out: list[float], into: list[float]) -> None:
        """An item leaves ``src`` (its coefficients there ``out``) and joins ``dst``
        (``into``)."""
        for q, f in enumerate(self.fams):
            if f.axis == "one":
                self.act[q][0] += into[q] - out[q]
            else:
                self.act[q][src] -= out[q]
                self.act[q][dst] += into[q]


class _Moves:
    """The candidate moves of :func:`shift`: every arc of ``arcs`` (flat ids, sorted), its
    coefficients and cost, and those of its item's current arc."""

    def __init__(self, problem: ArcProblem, plan: IntArray, arcs: IntArray, cost: object):
        n, m = problem.shape
        self.ii, self.rr = arcs // m, arcs % m
        self.rows = _Rows(problem, plan)
        self.plan = plan.copy()
        self.src = plan[self.ii]
        self.to_coef = self.rows.coef(self.ii, self.rr)
        self.from_coef = self.rows.coef(self.ii, self.src)
        self.to_cost = gather(cost, (n, m), self.ii, self.rr)
        self.here_cost = gather(cost, (n, m), self.ii, self.src)
        self.first = np.searchsorted(self.ii, np.arange(n + 1))  # item i: first[i]:first[i+1]
        self.joining = _by_rep(self.rr, m)

    def best(self, a: int) -> list[int] | None:
        """The cheapest move that lowers the total excess, for the broken rep ``a``: one arc
        (an item leaving ``a`` or joining it) or two (a swap); None when there is none."""
        leaving = _arcs_of(np.flatnonzero(self.plan == a), self.first)
        leaving = leaving[self.rr[leaving] != a]
        joining = self.joining[a][self.src[self.joining[a]] != a]
        single = np.concatenate([leaving, joining])
        gain = self.to_cost[single] - self.here_cost[single]
        d = self.rows.delta(
            [(self.src[single], self._neg(single)), (self.rr[single], self._to(single))]
        )
        ok = np.flatnonzero(d < -1e-12)
        if len(ok):
            return [int(single[ok[np.argmin(gain[ok])]])]
        return self._swap(leaving, joining)

    def _swap(self, leaving: IntArray, joining: IntArray) -> list[int] | None:
        """The cheapest swap that lowers the excess: an arc of ``leaving`` (an item of rep a
        to rep b) with one of ``joining`` (an item of rep b to a)."""
        x, y = (v.ravel() for v in np.meshgrid(leaving, joining, indexing="ij"))
        pair = self.rr[x] == self.src[y]
        x, y = x[pair], y[pair]
        if not len(x):
            return None
        to_a = [t[y] - f[x] for t, f in zip(self.to_coef, self.from_coef, strict=True)]
        to_b = [t[x] - f[y] for t, f in zip(self.to_coef, self.from_coef, strict=True)]
        d = self.rows.delta([(self.src[x], to_a), (self.rr[x], to_b)])
        ok = np.flatnonzero(d < -1e-12)
        if not len(ok):
            return None
        x, y = x[ok], y[ok]
        gain = self.to_cost[x] - self.here_cost[x] + self.to_cost[y] - self.here_cost[y]
        best = int(np.argmin(gain))
        return [int(x[best]), int(y[best])]

    def _neg(self, k: IntArray) -> list[FloatArray]:
        return [-c[k] for c in self.from_coef]

    def _to(self, k: IntArray) -> list[FloatArray]:
        return [c[k] for c in self.to_coef]

    def make(self, k: int) -> None:
        """Move the item of arc ``k`` to the arc's rep."""
        i, src, dst = int(self.ii[k]), int(self.src[k]), int(self.rr[k])
        self.rows.move(src, dst, [c[k] for c in self.from_coef], [c[k] for c in self.to_coef])
        self.plan[i] = dst
        own = slice(self.first[i], self.first[i + 1])
        self.src[own] = dst
        for f, t in zip(self.from_coef, self.to_coef, strict=True):
            f[own] = t[k]
        self.here_cost[own] = self.to_cost[k]


def shift(
    problem: ArcProblem, plan: IntArray, arcs: IntArray, cost: object, *, moves: int = MOVES
) -> IntArray:
    """``plan`` (rep per item) with items moved along ``arcs`` (sorted flat ids, the plan's
    own among them) so that the rows it breaks are broken less: for each broken rep, most
    broken first, the cheapest by ``cost`` (lazy or (n, m); e.g. reduced costs) of the moves
    that lower the total excess of the rows they touch: an item leaving the rep or joining
    it, else a swap (an item of the rep for one of a rep it can go to). Rounds over the broken
    reps until one makes no move, or after ``moves`` moves; longer chains are the windows'
    work. A move costs O(n + the rep's arcs)."""
    state = _Moves(problem, plan, arcs, cost)
    done, last = 0, -1
    while last < done < moves:
        last = done
        per_rep = state.rows.per_rep()
        for a in np.argsort(-per_rep)[: int((per_rep > 0).sum())].tolist():
            while done < moves and state.rows.per_rep_of(a) > 0:
                step = state.best(a)
                if step is None:
                    break
                for k in step:
                    state.make(k)
                done += len(step)
    log.info("repair: %d single moves and swaps", done)
    return state.plan


def _arcs_of(items: IntArray, first: IntArray) -> IntArray:
    """The indices of the arcs of ``items``, whose arcs are ``first[i]:first[i + 1]``."""
    size = first[items + 1] - first[items]
    shift_to = np.repeat(first[items] - np.cumsum(size) + size, size)
    return shift_to + np.arange(int(size.sum()))


def _by_rep(reps: IntArray, m: int) -> list[IntArray]:
    """Indices of ``reps`` grouped by value (one array per rep)."""
    order = np.argsort(reps, kind="stable")
    return np.split(order, np.searchsorted(reps[order], np.arange(1, m)))


def _seed(problem: ArcProblem, plan: IntArray, per_rep: FloatArray) -> int:
    """The most broken rep; with only single rows broken, the rep with most moved in."""
    if per_rep.max() > 0:
        return int(np.argmax(per_rep))
    n, m = problem.shape
    weight = np.zeros(n)
    for family in problem.families:
        if family.soft and family.axis == "one":
            weight += np.asarray(at(family.coef, (n, m), np.arange(n), plan), float)
    return int(np.argmax(np.bincount(plan, weights=weight, minlength=m)))


def _window(short: IntArray, plan: IntArray, seed: int, size: int, m: int) -> BoolArray:
    """Reps breadth first from ``seed`` over the candidate graph (an item's rep to the reps of
    its arcs in ``short``, both ways) while their items number at most ``size`` (the seed and
    its first neighbour at least)."""
    si, sr = short // m, short % m
    a, b = plan[si], sr
    graph = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m)).tocsr()
    order = breadth_first_order(graph, seed, directed=False, return_predecessors=False)
    counts = np.bincount(plan, minlength=m)[order]
    take = max(int(np.searchsorted(np.cumsum(counts), size, side="right")), min(2, len(order)))
    reps = np.zeros(m, bool)
    reps[order[:take]] = True
    return reps


def window_mip(
    problem: ArcProblem,
    plan: IntArray,
    reps: BoolArray,
    short: IntArray,
    solver: SolverSettings,
    deadline: float,
    *,
    penalty: float | None = None,
    time_limit: float = WINDOW_LIMIT,
) -> IntArray | None:
    """The MIP over the items of ``reps`` (m,) in ``plan`` (rep per item), each between the
    window's reps only (its arcs in ``short`` there, and its own), every other item fixed;
    hard rows, or with ``penalty`` elastic (:func:`elastic_mip`). Warm-started from the plan,
    at most ``time_limit`` s and what ``deadline`` (absolute :func:`time.monotonic`) leaves.
    The whole plan with the window's answer, or None without one."""
    m = problem.shape[1]
    free = reps[plan]
    si, sr = short // m, short % m
    inside = free[si] & reps[sr]
    own = np.flatnonzero(free) * m + plan[free]
    arcs = np.union1d(short[inside], own)
    sub = fix_items(problem, free, plan)
    part = np.sort(to_part(arcs, free, m))
    limit = min(time_limit, call_limit(deadline))
    if limit <= 0.5:
        return None
    tight = solver.model_copy(update={"gap": WINDOW_GAP})
    if penalty is None:
        _, found = solve_arc_mip(
            sub, part, tight, start=plan[free], time_limit=limit, deadline=deadline
        )
    else:
        found = elastic_mip(sub, part, plan[free], tight, penalty, limit)
    if found is None:
        return None
    out = plan.copy()
    out[free] = found
    return out


def _value(problem: ArcProblem, plan: IntArray) -> float:
    return float(sum(objective_terms(problem, plan).values()))
