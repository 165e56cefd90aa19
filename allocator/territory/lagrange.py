"""Lagrangian ascent: a proven lower bound over every eligible pair without the first LP.

Relax every family row (capacity, balance, deviation, max_accounts, max_moved, managers) with
multipliers ``pi`` and keep ``assign_once``: for every valid ``pi`` (signs and weight clips as
:mod:`allocator.territory.bound`) the dual function

    L(pi) = sum_j pi_j b_j + sum_i min_{r eligible} (c[i, r] - sum_j pi_j a_j[i, r])

bounds every plan from below (Fisher 1981, Management Science 27(1)). :func:`ascend` maximises
it by the Volume algorithm (Barahona & Anbil 2000, Math. Programming 87(3)): Polyak steps
along averaged subgradients, rows scaled by their mean ``|a_j|``, each step a minimum over
the candidate arcs only (1-D numpy vectors, a segment per item; an over-estimate of L). Every
few steps an *exact pass* evaluates L over all eligible pairs (pruned passes of
:mod:`allocator.territory.pruned` on the sparse path, row blocks otherwise) and the pairs that
beat their item's candidate minimum enter. Only exact values are reported
(``models/assignment.md``, "Lagrangian ascent").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from allocator.territory import pruned
from allocator.territory.core import ArcProblem, reduced_costs
from allocator.territory.lagrange_model import (
    Arcs,
    Rows,
    activity,
    gather,
    inner,
    merged,
    prepare,
)
from allocator.territory.pairs import rows_of

__all__ = ["Ascent", "ascend", "entering_pairs", "evaluate", "gather"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Pairs that may enter per item and exact pass (the most negative first).
PER_ITEM = 3

#: Entering: reduced cost below the item's candidate minimum by this x max(1, max |minimum|).
EPS = 1e-9

#: Fewest cheap steps between exact passes (more while the median pass took longer, ``_steps``).
MIN_STEPS = 10

#: Cheap steps between exact passes of a capped ascent without a deadline (reproducible runs).
FIXED_STEPS = 20

#: A pass below the best bound whose value falls short of the candidates' model by more than
#: the model's promised gain plus this share of the bound makes the box shrink (``ascend``).
TRUST = 1e-3

#: An improving pass doubles the box only when it gained at least this share of what the
#: candidates' model promised over the best bound (the ratio test of trust-region methods).
KEPT = 0.75

#: Volume algorithm: weight of the newest subgradient in the average; the step factor's range;
#: non-improving ("red") steps before that factor shrinks by 0.66 (Barahona & Anbil 2000).
ALPHA, LAMBDA, REDS = 0.1, (5e-4, 2.0), 20


@dataclass(frozen=True)
class Ascent:
    """What :func:`ascend` proved.

    ``bound``: the best ``L(pi)`` over all eligible pairs (objective units; None under a
    ``goal_balance`` cap); ``duals``: the multipliers that gave it (PuLP row name -> value,
    valid signs, no ``assign_once``); ``arcs``: sorted flat ids ``item * reps + rep``, the
    candidates and those that entered; ``iterations``: cheap steps; ``passes``: exact passes;
    ``trace``: (seconds since the start, bound) after each exact pass."""

    bound: float | None
    duals: dict[str, float]
    arcs: IntArray
    iterations: int
    passes: int
    trace: tuple[tuple[float, float], ...]


def entering_pairs(
    pairs: tuple[IntArray, IntArray, FloatArray],
    limit: FloatArray,
    arcs: IntArray,
    m: int,
    per_item: int,
) -> IntArray:
    """Sorted flat ids of the pairs ``(items, reps, reduced cost)`` whose reduced cost is below
    their item's ``limit`` and that are not in ``arcs`` (sorted flat ids): at most ``per_item``
    per item, the most negative first (ties: lower rep); duplicates count once."""
    items, reps, value = pairs
    flat = items * m + reps
    keep = (value < limit[items]) & ~_member(flat, arcs)
    flat, first = np.unique(flat[keep], return_index=True)
    value, items = value[keep][first], flat // m
    order = np.lexsort((flat, value, items))
    flat, items = flat[order], items[order]
    rank = np.arange(len(items)) - np.searchsorted(items, items, side="left")
    return np.sort(flat[rank < per_item]).astype(np.int64)


def _member(values: IntArray, sorted_ids: IntArray) -> npt.NDArray[np.bool_]:
    """``np.isin(values, sorted_ids)`` for sorted ``sorted_ids``, by binary search (no sort
    of both arrays: at 250,000 x 2,000 a pass tests millions of pairs against 3 million)."""
    if not len(sorted_ids):
        return np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return np.asarray(sorted_ids[at] == values)


def _block_scan(
    problem: ArcProblem, duals: dict[str, float], rr: IntArray, arcs: IntArray, per_item: int
) -> tuple[FloatArray, IntArray]:
    """Each item's least reduced cost over every eligible pair (its candidate minimiser ``rr``
    gives the entering limit) and the pairs that enter (:func:`entering_pairs`), a block of
    items at a time: memory stays one block's, however many pairs price in."""
    n, m = problem.shape
    best, new = np.zeros(n), []
    step = max(1, (1 << 22) // max(m, 1))
    for lo in range(0, n, step):
        block = slice(lo, min(lo + step, n))
        rc = np.asarray(reduced_costs(problem, duals, rows=block))
        ok = np.asarray(rows_of(problem.eligible, problem.shape, block), bool)
        here = rc[np.arange(len(rc)), rr[block]]
        best[block] = np.min(rc, axis=1, where=ok, initial=np.inf)
        r, c = np.nonzero(ok & (rc <= here[:, None]))
        limit = np.full(n, -np.inf)
        limit[block] = here - EPS * max(1.0, float(np.abs(here).max(initial=0.0)))
        new.append(entering_pairs((r + lo, c, rc[r, c]), limit, arcs, m, per_item))
    return best, np.concatenate(new) if new else np.zeros(0, np.int64)


#: Most pairs a pruned exact pass may gather (24 bytes each: about 1.2 GB); beyond it the
#: multipliers are far off (a run-away step) and the pass is skipped (:func:`ascend`).
PASS_PAIRS = 50_000_000


def exact_pass(
    problem: ArcProblem,
    rows: Rows,
    data: Arcs,
    pi: FloatArray,
    per_item: int,
    *,
    full: bool = True,
) -> tuple[float, IntArray] | None:
    """``L(pi)`` over every eligible pair (objective units) and the pairs that enter: outside
    the candidates, reduced cost below their item's candidate minimum (:func:`entering_pairs`).
    None when the pruned scan would gather more than :data:`PASS_PAIRS` pairs, or when it
    cannot prune, there are more than that many pairs and not ``full`` (after a pass that
    pruned, multipliers where nothing prunes are far off: :func:`ascend` goes back).

    Each item's minimum over all eligible pairs is at most its candidate minimum, so the pairs
    at or below that value (all of them: the pruned scan skips only pairs proven above it) give
    the exact minimum; the reduced costs are those of
    :func:`~allocator.territory.core.reduced_costs`.
    """
    duals = dict(zip(rows.names, pi.tolist(), strict=True))
    _, first = inner(data, rows, pi)
    m = len(problem.reps)
    rr = data.arcs[first] % m
    found = None
    if problem.near is not None:  # far pairs skipped, exactly (a superset of those <= here)
        reduced = reduced_costs(problem, duals)
        here = gather(reduced, problem.shape, np.arange(len(rr)), rr)
        try:
            found = pruned.scan(problem, reduced, here, limit=PASS_PAIRS)
            log.debug("lagrange: pass gathered %d pairs", -1 if found is None else len(found[0]))
        except pruned.TooManyPairs:
            log.info("lagrange: exact pass skipped (over %d pairs)", PASS_PAIRS)
            return None
    if found is None and not full and problem.shape[0] * m > PASS_PAIRS:
        # no pair could be skipped: every pair (5e8 at 250,000 x 2,000) would take minutes
        log.info("lagrange: exact pass skipped (no pruning at these multipliers)")
        return None
    if found is None:
        best, new = _block_scan(problem, duals, rr, data.arcs, per_item)
        return float(pi @ rows.rhs + best.sum()), new
    best = here.copy()
    np.minimum.at(best, found[0], found[2])
    eps = EPS * max(1.0, float(np.abs(here).max(initial=0.0)))
    new = entering_pairs(found, here - eps, data.arcs, m, per_item)
    return float(pi @ rows.rhs + best.sum()), new


def evaluate(
    problem: ArcProblem, arcs: IntArray, duals: Mapping[str, float] | None, *, per_item: int = 3
) -> tuple[float, IntArray] | None:
    """One exact pass at ``duals`` (clipped to valid multipliers): ``L`` over every eligible
    pair and the pairs that would enter ``arcs`` (:func:`exact_pass`; None when over its pair
    limit); ValueError as :func:`ascend`."""
    rows, data = prepare(problem, np.unique(np.asarray(arcs, np.int64)))
    return exact_pass(problem, rows, data, _start(rows, duals), per_item)


class _Volume:
    """The Volume algorithm's state over the candidates (Barahona & Anbil 2000, section 3):
    the best multipliers ``pi`` and their value, the averaged activities ``act`` (``A x̄``),
    the step factor ``lam`` and the count of non-improving steps; steps stay in a box of
    ``radius`` (scaled units: reduced cost per average arc) around ``center``, the last
    exactly evaluated multipliers (boxstep: Marsten, Hogan & Blankenship 1975), because the
    candidates model L well only near the multipliers they were priced at."""

    def __init__(self, rows: Rows, data: Arcs, pi: FloatArray, upper: float | None) -> None:
        self.rows, self.upper, self.pi, self.center = rows, upper, pi, pi
        self.lam, self.reds, self.moved = 0.1, 0, False
        self.value, first = inner(data, rows, pi)
        self.act = activity(data, first)
        c, at = data.cost, data.starts  # the box: a typical item's range of candidate costs
        spread = np.maximum.reduceat(c, at) - np.minimum.reduceat(c, at)
        self.radius = max(0.25 * float(spread.mean()), 1e-9)

    def restart(self, data: Arcs, pi: FloatArray) -> None:
        """Back to ``pi`` (the best exactly evaluated multipliers) with a quarter of the step,
        the box centred there."""
        self.lam = max(self.lam / 4, LAMBDA[0])
        self._back(data, pi)

    def shrink(self, data: Arcs, pi: FloatArray) -> None:
        """Back to ``pi`` (the best exactly evaluated multipliers) in a box a quarter the
        size, centred there: the candidates' model failed inside the old one."""
        self.radius /= 4.0
        self._back(data, pi)

    def _back(self, data: Arcs, pi: FloatArray) -> None:
        """At ``pi``, the box centred there, the average restarted at ``x(pi)``."""
        self.pi, self.center, self.reds = pi, pi, 0
        self.value, first = inner(data, self.rows, pi)
        self.act, self.moved = activity(data, first), False

    def recentre(self, data: Arcs, grow: bool) -> None:
        """Re-evaluate ``pi`` over the grown candidates and centre the box there; the box
        doubles after an exact improvement."""
        self.radius *= 2.0 if grow else 1.0
        self.center, (self.value, _), self.moved = self.pi, inner(data, self.rows, self.pi), False

    def step(self, data: Arcs) -> bool:
        """One step; False when the subgradient at ``pi`` vanishes (nothing left to gain)."""
        rows = self.rows
        d = (rows.rhs - self.act) / rows.scale
        d[((self.pi <= rows.lo) & (d < 0)) | ((self.pi >= rows.hi) & (d > 0))] = 0.0
        norm = float(d @ d)
        if norm <= 1e-30:  # the average balances: restart it at x(pi); stop if that does too
            fresh = activity(data, inner(data, rows, self.pi)[1])
            stuck, self.act = np.array_equal(fresh, self.act), fresh
            return not stuck
        size = max(1.0, abs(self.value))  # T - L: the incumbent's distance, else 1% of |L|
        above = -1.0 if self.upper is None else self.upper - self.value
        t = self.lam * (above if above > 1e-4 * size else 0.01 * size) / norm
        box = self.radius / rows.scale
        pi = np.clip(self.pi + t * d / rows.scale, self.center - box, self.center + box)
        pi = np.clip(pi, rows.lo, rows.hi)
        value, first = inner(data, rows, pi)
        act = activity(data, first)
        g, diff = (rows.rhs - act) / rows.scale, (act - self.act) / rows.scale
        # the weight that makes the new average shortest, within [ALPHA / 10, ALPHA]
        old = (rows.rhs - self.act) / rows.scale
        alpha = float(np.clip((old @ diff) / max(float(diff @ diff), 1e-300), ALPHA / 10, ALPHA))
        self.act = alpha * act + (1 - alpha) * self.act
        if value > self.value:
            if g @ d >= 0:  # green: a longer step next
                self.lam = min(self.lam * 1.1, LAMBDA[1])
            self.pi, self.value, self.moved, self.reds = pi, value, True, 0
        else:
            self.reds += 1
            if self.reds >= REDS:
                self.lam, self.reds = max(self.lam * 0.66, LAMBDA[0]), 0
        return True


def _start(rows: Rows, duals: Mapping[str, float] | None) -> FloatArray:
    """The starting multipliers (0 where ``duals`` has no value), clipped to valid ones."""
    pi = np.array([float((duals or {}).get(name, 0.0)) for name in rows.names])
    return np.clip(pi, rows.lo, rows.hi)


def _steps(
    state: _Volume,
    data: Arcs,
    deadline: float,
    reserve: tuple[float, float],
    limit: int,
    fixed: bool,
) -> int:
    """Cheap steps (at most ``limit``) until :data:`MIN_STEPS` are done and twice the typical
    exact pass (``reserve`` = (typical, latest) seconds) has passed, while a pass as long as
    the latest still fits before ``deadline``. ``fixed``: exactly :data:`FIXED_STEPS` (no
    clock: a capped ascent is reproducible)."""
    typical, latest = reserve
    done, began = 0, time.monotonic()
    while done < limit:
        now = time.monotonic()
        pace = (now - began) / max(done, 1)
        enough = done >= (FIXED_STEPS if fixed else MIN_STEPS)
        enough = enough and (fixed or now - began >= 2 * typical)
        if enough or now + pace + 1.2 * max(typical, latest) > deadline or not state.step(data):
            break
        done += 1
    return done


#: Exact passes over which ``ascend(stall=...)`` measures the bound's rise.
STALL_PASSES = 3


def _kept(bound: float, best: float, model: float) -> bool:
    """Whether an exact pass's ``bound`` kept at least :data:`KEPT` of the rise over the best
    bound ``best`` that the candidates' ``model`` promised (the ratio test of trust-region
    methods, Conn, Gould & Toint 2000, ch. 6); False after the first pass (no promise yet).
    Only then does the box double: at 250,000 x 2,000 doubling after a pass that kept half
    the promise was followed by a pass at -55 million."""
    return bool(np.isfinite(best)) and bound - best >= KEPT * (model - best)


def _stalled(bests: list[float], stall: float) -> bool:
    """Whether the best bound (after each pass, ``bests``) rose by less than ``stall x
    |bound|`` over the last :data:`STALL_PASSES` passes."""
    if len(bests) <= STALL_PASSES or not np.isfinite(bests[-1 - STALL_PASSES]):
        return False
    return bests[-1] - bests[-1 - STALL_PASSES] < stall * abs(bests[-1])


def ascend(
    problem: ArcProblem,
    arcs: IntArray,
    duals: Mapping[str, float] | None,
    *,
    deadline: float,
    upper: float | None = None,
    target_gap: float | None = None,
    per_item: int = PER_ITEM,
    steps: int | None = None,
    stall: float | None = None,
) -> Ascent:
    """Maximise the Lagrangian dual function from ``duals`` (PuLP row name -> multiplier; None
    or missing rows: 0; ``assign_once`` ignored: it cancels) over valid multipliers, by Volume
    steps over the candidate ``arcs`` (flat ids ``item * reps + rep``, eligible, one or more
    per item) and exact passes over all eligible pairs that grow them (module docstring), on
    the dense and the sparse path. Stops at ``deadline`` (:func:`time.monotonic`; the first
    exact pass always runs, later ones only when they fit), when the best exact bound is
    within ``target_gap x |upper|`` of ``upper`` (an incumbent's objective), when the
    subgradient vanishes, after ``steps`` cheap steps (None: no cap; with a cap and an
    infinite ``deadline`` the passes come every :data:`FIXED_STEPS` steps: reproducible), or,
    with ``stall``, when the best bound rose by less than ``stall x |bound|`` over the last
    :data:`STALL_PASSES` exact passes.

    Raises
    ------
    ValueError
        When an item has no candidate arc or an arc is not eligible.
    """
    began = time.monotonic()
    arcs = np.unique(np.asarray(arcs, np.int64))
    if problem.balance_cap is not None:  # no Lagrangian relaxation of the goal_balance cap
        return Ascent(None, {}, arcs, 0, 0, ())
    rows, data = prepare(problem, arcs)
    state = _Volume(rows, data, _start(rows, duals), upper)
    best, best_pi, trace, done, took, bests = -np.inf, state.pi, [], 0, [], []
    cap = np.iinfo(np.int64).max if steps is None else steps
    fixed = steps is not None and deadline == np.inf
    while True:
        tick = time.monotonic()
        result = exact_pass(problem, rows, data, state.pi, per_item, full=not trace)
        took.append(time.monotonic() - tick)
        # one slow pass (far-off multipliers) sets no pace, but the deadline keeps room for it
        reserve = (float(np.median(took)), took[-1])
        if result is None:  # a run-away step: back to the best exact point, shorter steps
            if not np.isfinite(best) or time.monotonic() >= deadline:
                break
            state.restart(data, best_pi)
            while not state.moved and (
                more := _steps(state, data, deadline, reserve, cap - done, fixed)
            ):
                done += more
            if not state.moved:
                break
            continue
        bound, new = result
        grow = bound > best
        kept = _kept(bound, best, state.value)
        # the candidates' model promised state.value; far below it (and below the best) the
        # model was wrong at this distance: back to the best point in a smaller box
        wrong = not grow and state.value - bound > max(state.value - best, 0.0) + TRUST * abs(best)
        if grow:
            best, best_pi = bound, state.pi
        trace.append((round(time.monotonic() - began, 3), bound))
        log.info(
            "lagrange: step %d, bound %.10g (model %.10g), %d pairs enter",
            done,
            bound,
            state.value,
            len(new),
        )
        data = merged(problem, rows, data, new)
        if wrong:
            state.shrink(data, best_pi)
        else:
            state.recentre(data, grow and kept)
        if upper is not None and target_gap is not None and upper - best <= target_gap * abs(upper):
            break
        bests.append(best)
        if stall is not None and _stalled(bests, stall):
            log.info("lagrange: bound %.10g stalled after %d passes", best, len(bests))
            break
        while not state.moved and (
            more := _steps(state, data, deadline, reserve, cap - done, fixed)
        ):
            done += more
        if not state.moved:
            break
    duals_out = dict(zip(rows.names, best_pi.tolist(), strict=True))
    value = float(best) if np.isfinite(best) else None
    return Ascent(value, duals_out, data.arcs, done, len(trace), tuple(trace))
