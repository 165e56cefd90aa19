"""Moves of single items and swaps between reps: the repair of a plan that breaks rows
(:func:`shift`) and the improvement of one that meets them (:func:`improve`), issue 19.

Both work on the hard rows as arrays (:class:`_Rows`: every row family but the deviation rows,
which hold whatever the plan, and rows per item) and on a fixed set of candidate arcs. The
*excess* of a row is how far it is broken in units of its right-hand side,
``max(0, a - b) / max(1, |b|)`` for ``a <= b`` (likewise for ``>=``); a rep's excess is the sum
over its rows. :func:`shift` makes the cheapest moves that lower the total excess (the
Lagrangian heuristic's repair, Fisher 1981, Management Science 27(1); shift and swap
neighbourhoods as in Yagiura, Ibaraki & Glover 2004, INFORMS J. Computing 16(2));
:func:`improve` the best moves that lower the objective and keep every row (first-improvement
local search in rounds). ``models/assignment.md``, "A plan from the ascent".
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import numpy.typing as npt

from allocator.territory.core import ArcProblem, activities
from allocator.territory.lagrange_model import gather

__all__ = ["MOVES", "excess", "improve", "shift"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Most single moves and swaps :func:`shift` makes.
MOVES = 200_000

#: Most rounds of :func:`improve`.
ROUNDS = 20

#: Most pairs :func:`shift` weighs for the swaps of one rep with one other (the cheapest
#: leaving and joining arcs are kept when there would be more).
SWAP_PAIRS = 40_000

#: Excess (in units of a row's right-hand side) below which a row holds: the tolerance of
#: :func:`allocator.territory.core.violations`.
TOLERANCE = 1e-6


def excess(problem: ArcProblem, plan: IntArray) -> tuple[FloatArray, float]:
    """How far ``plan`` (rep per item) breaks the rows (every family but deviation rows and
    rows per item): per rep (m,), the sum over its rows of the excess in units of the row's
    right-hand side, ``max(0, a - b) / max(1, |b|)`` for ``a <= b`` (0 within the tolerance
    of :func:`~allocator.territory.core.violations`), and that sum over the single rows."""
    rows = _Rows(problem, plan)
    return rows.per_rep(), rows.single()


class _Rows:
    """The rows of a plan that moves must keep, as arrays (every family but the deviation
    rows, which hold whatever the plan, and rows per item): the activity, limits and unit of
    each, and what moves do to their total excess."""

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
        """The excess of rows ``rows`` of family ``q`` at activity ``value``: 0 within the
        feasibility tolerance of :func:`~allocator.territory.core.violations` (1e-6 of the
        unit), so a plan has no excess exactly when it breaks no row."""
        over = np.maximum(np.maximum(value - self.hi[q][rows], self.lo[q][rows] - value), 0.0)
        over = over / self.unit[q][rows]
        return np.where(over > TOLERANCE, over, 0.0)

    def per_rep(self) -> FloatArray:
        """Each rep's excess over its rows (m,)."""
        m = self.shape[1]
        parts = [self.bad(q, np.arange(m), self.act[q]) for q in self._rep_families()]
        return np.sum(parts, axis=0) if parts else np.zeros(m)

    def single(self) -> float:
        """The excess of the single rows (``max_moved``)."""
        zero = np.zeros(1, np.int64)
        ones = [q for q, f in enumerate(self.fams) if f.axis == "one"]
        return float(sum(self.bad(q, zero, self.act[q][:1])[0] for q in ones))

    def per_rep_of(self, rep: int) -> float:
        """The excess of one rep's rows."""
        one = np.array([rep])
        return float(sum(self.bad(q, one, self.act[q][one])[0] for q in self._rep_families()))

    def _rep_families(self) -> list[int]:
        return [q for q, f in enumerate(self.fams) if f.axis == "rep"]

    def delta(
        self, changes: list[tuple[IntArray, list[FloatArray]]], *, single: bool = True
    ) -> FloatArray:
        """The change of the total excess for each of a batch of moves: a move adds
        ``coef[q][k]`` to row ``rep[k]`` of family ``q`` for every ``(rep, coef)`` of
        ``changes``, and their sum to the single rows (left out when not ``single``)."""
        out = np.zeros(len(changes[0][0]))
        for q, f in enumerate(self.fams):
            if f.axis == "one":
                if not single:
                    continue
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

    def fits(self, src: int, dst: int, out: list[float], into: list[float]) -> bool:
        """Whether no row of ``src``, of ``dst`` or single is broken more after an item
        leaves ``src`` (its coefficients there ``out``) and joins ``dst`` (``into``)."""
        for q, f in enumerate(self.fams):
            steps = [(0, into[q] - out[q])] if f.axis == "one" else [(src, -out[q]), (dst, into[q])]
            for j, add in steps:
                if self._bad(q, j, self.act[q][j] + add) > self._bad(q, j, self.act[q][j]):
                    return False
        return True

    def _bad(self, q: int, j: int, value: float) -> float:
        """:meth:`bad` of one row, in floats."""
        over = max(value - self.hi[q][j], self.lo[q][j] - value, 0.0) / self.unit[q][j]
        return float(over) if over > TOLERANCE else 0.0

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
        extra = self._extra(single)
        d = self.rows.delta(
            [(self.src[single], self._neg(single)), (self.rr[single], self._to(single))]
        )
        ok = np.flatnonzero(d < -1e-12)
        if len(ok):
            return [int(single[ok[np.argmin(extra[ok])]])]
        return self._swap(leaving, joining)

    def _swap(self, leaving: IntArray, joining: IntArray) -> list[int] | None:
        """The cheapest swap that lowers the excess: an arc of ``leaving`` (an item of rep a
        to rep b) with one of ``joining`` (an item of rep b to a), rep b by rep b."""
        xs, ys = [], []
        to_b, from_b = self.rr[leaving], self.src[joining]
        for b in np.intersect1d(to_b, from_b).tolist():
            x, y = self._cheapest(leaving[to_b == b]), self._cheapest(joining[from_b == b])
            x, y = (v.ravel() for v in np.meshgrid(x, y, indexing="ij"))
            xs.append(x), ys.append(y)
        if not xs:
            return None
        x, y = np.concatenate(xs), np.concatenate(ys)
        to_a = [t[y] - f[x] for t, f in zip(self.to_coef, self.from_coef, strict=True)]
        to_b_ = [t[x] - f[y] for t, f in zip(self.to_coef, self.from_coef, strict=True)]
        d = self.rows.delta([(self.src[x], to_a), (self.rr[x], to_b_)])
        ok = np.flatnonzero(d < -1e-12)
        if not len(ok):
            return None
        x, y = x[ok], y[ok]
        extra = self._extra(x) + self._extra(y)
        best = int(np.argmin(extra))
        return [int(x[best]), int(y[best])]

    def _cheapest(self, k: IntArray) -> IntArray:
        """Arcs ``k``, or the :data:`SWAP_PAIRS` ** 0.5 of them of least extra cost."""
        keep = int(SWAP_PAIRS**0.5)
        return k if len(k) <= keep else k[np.argsort(self._extra(k), kind="stable")[:keep]]

    def _extra(self, k: IntArray) -> FloatArray:
        """What moving the items of arcs ``k`` along them adds to the cost."""
        return self.to_cost[k] - self.here_cost[k]

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
    problem: ArcProblem,
    plan: IntArray,
    arcs: IntArray,
    cost: object,
    *,
    moves: int = MOVES,
    deadline: float = math.inf,
) -> IntArray:
    """``plan`` (rep per item) with items moved along ``arcs`` (sorted flat ids, the plan's
    own among them) so that the rows it breaks are broken less: for each broken rep, most
    broken first, the cheapest by ``cost`` (lazy or (n, m); e.g. reduced costs) of the moves
    that lower the total excess of the rows they touch: an item leaving the rep or joining
    it, else a swap (an item of the rep for one of a rep it can go to). Rounds over the broken
    reps until a round makes no move, after ``moves`` moves, or at ``deadline`` (absolute
    :func:`time.monotonic`); longer chains are the windows' work. A move costs O(n + the
    rep's arcs) (about 2 ms at 250,000 x 2,000)."""
    state = _Moves(problem, plan, arcs, cost)
    done, last = 0, -1
    while last < done < moves:
        last = done
        per_rep = state.rows.per_rep()
        for a in np.argsort(-per_rep)[: int((per_rep > 0).sum())].tolist():
            if time.monotonic() >= deadline:
                log.info("repair: %d single moves and swaps, stopped at the deadline", done)
                return state.plan
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


def improve(
    problem: ArcProblem, plan: IntArray, arcs: IntArray, *, deadline: float = math.inf
) -> IntArray:
    """``plan`` (rep per item, meeting every row) with items moved along ``arcs`` (sorted flat
    ids) while a move lowers the objective and keeps every row. In rounds: each arc's change
    of the objective at the round's start (its arc terms and the change of the two reps'
    deviation terms), then the improving moves best first, each made when, recomputed at the
    time (the deviation terms move with every move), it still improves and every row still
    holds. An item moves at most once a round. Until a round makes no move, after
    :data:`ROUNDS` rounds, or at ``deadline`` (absolute :func:`time.monotonic`). A round is a
    pass over the arcs (about 2 s at 2 million)."""
    n, m = problem.shape
    ii, rr = arcs // m, arcs % m
    rows = _Rows(problem, plan)
    devs = _Deviations(problem, plan)
    to_cost = gather(problem.cost, (n, m), ii, rr)
    to_rows = rows.coef(ii, rr)
    to_dev = devs.coef(ii, rr)
    plan = plan.copy()
    made, gain = 0, 0.0
    for _ in range(ROUNDS):
        if time.monotonic() >= deadline:
            break
        src = plan[ii]
        arc = to_cost - gather(problem.cost, (n, m), ii, src)
        out, dev_out = rows.coef(ii, src), devs.coef(ii, src)
        change = arc + devs.change(src, rr, dev_out, to_dev)
        k = np.flatnonzero((change < -1e-9) & (rr != src))
        moves = [(src[k], [-c[k] for c in out]), (rr[k], [c[k] for c in to_rows])]
        k = k[rows.delta(moves, single=False) <= 1e-12]  # the reps' rows still hold
        k = k[np.argsort(change[k], kind="stable")]
        moved = np.zeros(n, bool)
        step = 0
        for j in k.tolist():
            i, a, b = int(ii[j]), int(src[j]), int(rr[j])
            if moved[i]:
                continue
            gone, come = [c[j] for c in dev_out], [c[j] for c in to_dev]
            now = float(arc[j]) + devs.change_of(a, b, gone, come)
            out_j, in_j = [c[j] for c in out], [c[j] for c in to_rows]
            if now >= -1e-9 or not rows.fits(a, b, out_j, in_j):
                continue
            rows.move(a, b, out_j, in_j)
            devs.move(a, b, gone, come)
            plan[i], moved[i] = b, True
            step, gain = step + 1, gain + now
        made += step
        if not step:
            break
    log.info("improve: %d moves, objective %+.6g", made, gain)
    return plan


class _Deviations:
    """The deviation rows of a plan (balance): activity, target and weight of each, and the
    change of their terms ``w |activity - target|`` when items move."""

    def __init__(self, problem: ArcProblem, plan: IntArray) -> None:
        self.fams = [f for f in problem.families if f.deviation is not None]
        self.shape = problem.shape
        self.act = [activities(problem, f, plan) for f in self.fams]
        self.weight = [np.asarray(f.deviation, float) * problem.balance_weight for f in self.fams]

    def coef(self, items: IntArray, reps: IntArray) -> list[FloatArray]:
        return [gather(f.coef, self.shape, items, reps) for f in self.fams]

    def change(
        self, src: IntArray, dst: IntArray, out: list[FloatArray], into: list[FloatArray]
    ) -> FloatArray:
        """For each move (an item leaving ``src`` with coefficients ``out``, joining ``dst``
        with ``into``), the change of the deviation terms when it is made alone."""
        total = np.zeros(len(src))
        for f, act, w, o, i in zip(self.fams, self.act, self.weight, out, into, strict=True):
            t = f.rhs
            total += w[src] * (np.abs(act[src] - o - t[src]) - np.abs(act[src] - t[src]))
            total += w[dst] * (np.abs(act[dst] + i - t[dst]) - np.abs(act[dst] - t[dst]))
        return total

    def change_of(self, src: int, dst: int, out: list[float], into: list[float]) -> float:
        """:meth:`change` of one move, at the activities now."""
        total = 0.0
        for f, act, w, o, i in zip(self.fams, self.act, self.weight, out, into, strict=True):
            t = f.rhs
            total += w[src] * (abs(act[src] - o - t[src]) - abs(act[src] - t[src]))
            total += w[dst] * (abs(act[dst] + i - t[dst]) - abs(act[dst] - t[dst]))
        return float(total)

    def move(self, src: int, dst: int, out: list[float], into: list[float]) -> None:
        for act, o, i in zip(self.act, out, into, strict=True):
            act[src] -= o
            act[dst] += i
