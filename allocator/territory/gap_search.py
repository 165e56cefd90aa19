"""Search over a GAP incumbent: shift/swap local search and MIP-based large-neighbourhood search.

The MIP (:func:`~allocator.territory.solve_arcs.solve_arcs`) gives a good incumbent and a tight
bound early on the hard GAP sets, then spends the rest of its time on a search tree that
rarely improves the incumbent. :func:`improve` spends that time on the incumbent instead,
within the run's one deadline (:mod:`allocator.solver.deadline`) and in the calling thread:

1. **Local search** (:func:`~allocator.territory.gap_local.local_search`): shift, swap and
   ejection-chain moves with capacity, best improvement, vectorised in numpy.
2. **Large-neighbourhood search** (:func:`improve`): free every job of ``k`` agents and solve
   that sub-GAP exactly with HiGHS from numpy arrays (highspy), warm-started with the incumbent
   (``setSolution``) and cut off at the incumbent's cost (``objective_bound``), so a
   neighbourhood with nothing better ends as soon as that is proven. The agents are *related*
   (Shaw 1998, "Using constraint programming and local search methods to solve vehicle
   routing problems", CP-98): they compete for the same jobs under the Lagrangian costs
   ``c[a,j] + u[a] w[a,j]``, whose capacity prices ``u`` come from a subgradient ascent on the
   Lagrangian relaxation of the capacities (Ross & Soland 1975, "A branch and bound algorithm
   for the generalized assignment problem", Math. Programming 8:91-103). The neighbourhood
   size ``k`` adapts to how fast the sub-MIPs solve (adaptive LNS, Pisinger & Ropke 2010,
   "Large neighborhood search", Handbook of Metaheuristics, 399-419).

3. **Tabu walk** (:mod:`allocator.territory.gap_tabu`) and, on instances with few agents and
   many jobs each, the **Lagrangian heuristic** (:mod:`allocator.territory.gap_lagrange`)
   and exact **crossovers** of elite assignments
   (:func:`~allocator.territory.gap_relink.crossover`): each kind of phase gets time by its
   recent gains.

Every accepted move lowers the cost and keeps every capacity, so the search is monotone and
never returns an infeasible assignment; each improvement is noted in the run's trace
(:func:`allocator.solver.trace.note`, sources ``"local"``, ``"lns"``, ``"tabu"``,
``"lagrange"`` and ``"polish"``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from allocator.solver.deadline import call_limit, expired
from allocator.solver.highs_assign import solve_assign_mip
from allocator.solver.trace import note
from allocator.territory.gap_lagrange import Multipliers, applies, lagrangian_heuristic
from allocator.territory.gap_local import TOL, GapArrays, local_search
from allocator.territory.gap_neighbours import capacity_prices, fresh_agents, related_agents
from allocator.territory.gap_relink import Elite, crossover
from allocator.territory.gap_tabu import TabuState, tabu_search

__all__ = [
    "GapArrays",
    "SearchResult",
    "capacity_prices",
    "feasible_start",
    "improve",
    "local_search",
]

log = logging.getLogger("allocator")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: First time cap (s) of one sub-MIP, and its bounds as it adapts.
SUB_LIMIT = 0.5
#: Neighbourhood sizes (agents freed at once): first, smallest, largest.
K_FIRST, K_MIN, K_MAX = 3, 2, 8
#: A stall (``kick`` seconds without improvement) doubles the sub-MIP cap, up to this (s),
#: and lets the neighbourhood grow by ``K_STEP`` more agents.
SUB_MAX, K_STEP = 4.0, 2
#: Sub-MIPs in a row without improvement that end an LNS phase; steps of a tabu phase (a step
#: costs ~0.6 ms at 20 x 100 but ~30 ms at 60 x 900, so phases are also bounded in time).
LNS_IDLE, TABU_STEPS = 12, 3000
#: Time cap (s) of one crossover's sub-MIP, and crossovers in a row adding nothing new to the
#: elite that end a phase.
POLISH_LIMIT, POLISH_IDLE = 1.0, 20
#: Mean seconds of a phase; each kind gets a share by its recent cost gain per second,
#: within (PHASE_MIN, PHASE_MAX) seconds.
PHASE_SECONDS, PHASE_MIN, PHASE_MAX = 2.0, 0.5, 8.0


@dataclass(frozen=True)
class SearchResult:
    """The improved assignment and how the search went.

    ``history`` is the objective after each accepted improvement, the start first (strictly
    decreasing). ``stop`` says why the search ended: the ``deadline``, the ``bound`` reached,
    ``rounds`` (the round cap), or ``stalled`` (no improvement for ``patience`` seconds).
    ``bound`` is the best lower bound the search proved itself (the Lagrangian phase's), None
    without one.
    """

    assign: IntArray
    objective: float
    history: tuple[float, ...]
    rounds: int
    stop: Literal["deadline", "bound", "rounds", "stalled"]
    bound: float | None = None


@dataclass(frozen=True)
class _Sub:
    """The answer of one sub-GAP: new agents of the freed jobs (or None), proven, seconds."""

    agents: IntArray | None
    proven: bool
    seconds: float


def _solve_sub(
    arrays: GapArrays,
    assign: IntArray,
    agents: IntArray,
    limit: float,
    seed: int,
) -> _Sub:
    """Re-assign every job of ``agents`` among them, exactly, with a cut-off at today's cost."""
    jobs = np.flatnonzero(np.isin(assign, agents))
    w = arrays.weight[np.ix_(agents, jobs)]
    c = arrays.cost[np.ix_(agents, jobs)]
    cap = arrays.capacity[agents]
    ai, ji = np.nonzero(w <= cap[:, None] * (1 + TOL) + TOL)
    p = len(jobs)
    today = float(c[np.searchsorted(agents, assign[jobs]), np.arange(p)].sum())
    mip = solve_assign_mip(
        ai,
        ji,
        c[ai, ji],
        w[ai, ji],
        cap,
        jobs=p,
        time_limit=limit,
        cutoff=today - 1e-7 * max(1.0, abs(today)),
        seed=seed,
    )
    if mip.chosen is None:
        return _Sub(None, mip.proven, mip.seconds)
    on = mip.chosen
    new = np.full(p, -1)
    new[ji[on]] = agents[ai[on]]
    if (new < 0).any():  # solve_assign_mip returns nothing that misses the cut-off
        return _Sub(None, mip.proven, mip.seconds)
    return _Sub(new, mip.proven, mip.seconds)


def improve(
    arrays: GapArrays,
    assign: IntArray,
    *,
    deadline: float | None,
    bound: float | None = None,
    max_rounds: int = 1_000_000,
    patience: float = math.inf,
    kick: float = math.inf,
    sub_limit: float = SUB_LIMIT,
    seed: int = 0,
    methods: tuple[str, ...] | None = None,
    duals: Multipliers | None = None,
    elite: Elite | None = None,
) -> SearchResult:
    """Improve a feasible ``assign`` (jobs,) by local search, then LNS, tabu and Lagrangian
    phases in turn.

    ``methods`` names the phases that alternate until the deadline: ``"lns"`` (sub-MIPs until
    :data:`LNS_IDLE` in a row find nothing), ``"tabu"`` (:data:`TABU_STEPS` steps of
    :func:`~allocator.territory.gap_tabu.tabu_search` from the best) and ``"lagrange"``
    (:func:`~allocator.territory.gap_lagrange.lagrangian_heuristic`, its multipliers kept
    from phase to phase; its bound joins ``bound``) and ``"polish"`` (exact crossovers of two
    elite assignments, :func:`~allocator.territory.gap_relink.crossover`, each polished by
    the descent). None: all four where :func:`~allocator.territory.gap_lagrange.applies`,
    else the first two. ``duals``: the Lagrangian phases' multipliers to go on from (None: a
    fresh start); ``elite``: a pool of good assignments to start from (updated in place by
    every phase).

    ``sub_limit`` caps each sub-MIP (seconds). ``patience`` (seconds) ends the search when
    nothing improved for that long; ``kick`` (seconds) without improvement escalates instead:
    the sub-MIP cap doubles (up to :data:`SUB_MAX`) and the neighbourhood may grow by
    :data:`K_STEP` more agents, so a stalled search tries larger, slower neighbourhoods.
    ``bound`` (a valid lower bound) stops the search once the cost reaches it (rounded up
    when every cost is an integer). ``deadline`` is absolute (``time.monotonic()``); each
    sub-MIP gets at most what is left of it
    (:func:`~allocator.solver.deadline.call_limit`). The answer is feasible and no more
    costly than ``assign``; a passed deadline returns ``assign``.

    Raises
    ------
    ValueError
        When ``assign`` is not a feasible assignment.
    """
    if not arrays.feasible(assign):
        raise ValueError("improve needs a feasible assignment to start from")
    lagrange = applies(*_arrays(arrays))
    if methods is None:
        methods = ("lns", "tabu", "lagrange", "polish") if lagrange else ("lns", "tabu")
    if "lagrange" not in methods or not lagrange:
        duals = None
    elif duals is None:
        duals = Multipliers.start(arrays.cost)
    integral = bool(np.all(arrays.cost == np.round(arrays.cost)))
    goal = -math.inf if bound is None else (math.ceil(bound - 1e-6) if integral else bound)
    start = arrays.value(assign)
    history = [start]
    if start <= goal + 1e-9:
        return SearchResult(assign.copy(), start, tuple(history), 0, "bound")
    best = local_search(arrays, assign, deadline=deadline)
    _accept(arrays, best, history, bound, "local")
    rng = np.random.default_rng(seed)
    related = related_agents(arrays, capacity_prices(arrays))
    walk = TabuState.start(arrays.cost, arrays.weight, seed)
    elite = elite if elite is not None else Elite()
    elite.add(history[-1], best)
    m = len(arrays.capacity)
    k, rounds, idle, stop = min(K_FIRST, m), 0, 0, "rounds"
    last = (time.monotonic(), len(history))  # when the history last grew
    tried: set[tuple[int, ...]] = set()  # agent sets proven to hold nothing better
    phase, level, kicked = 0, 0, last[0]
    credit = dict.fromkeys(methods, 1.0)  # smoothed cost gain per second of each kind of phase
    began = (last[0], history[-1])  # when and at what cost the current phase began
    while rounds < max_rounds:
        if history[-1] <= goal + 1e-9:
            stop = "bound"
            break
        now = time.monotonic()
        if len(history) > last[1]:
            last, kicked, level = (now, len(history)), now, max(0, level - 1)
        elif now - last[0] > patience:
            stop = "stalled"
            break
        elif now - kicked > kick:
            level, kicked = level + 1, now
            tried.clear()
        budget = call_limit(deadline, min(SUB_MAX, sub_limit * 2**level))
        if expired(deadline) or budget < 0.05:
            stop = "deadline"
            break
        method = methods[phase % len(methods)]
        length = _length(credit, method)
        if method == "lns" and (idle >= LNS_IDLE or now - began[0] > length):
            began = _credit(credit, method, began, history[-1])
            phase, idle = phase + 1, 0
            continue
        if method in ("tabu", "lagrange", "polish"):
            clock = (now + length, deadline, level)
            if method == "polish":
                best = _polish(arrays, best, (elite, rng), history, (*clock[:2], goal), bound)
            elif duals is not None and method == "lagrange":
                best = _dual_phase(arrays, best, duals, history, clock[:2], elite)
                if math.isfinite(duals.bound):
                    lower = math.ceil(duals.bound - 1e-6) if integral else duals.bound
                    goal = max(goal, lower)
            else:
                best = _walk(arrays, best, (walk, elite, rng), history, clock, bound)
            began = _credit(credit, method, began, history[-1])
            phase += 1
            continue
        rounds += 1
        agents = fresh_agents(rng, related, k, tried)
        sub = _solve_sub(arrays, best, agents, budget, seed + rounds)
        idle += 1
        if sub.agents is not None:
            best[np.isin(best, agents)] = sub.agents
            best = local_search(arrays, best, deadline=deadline)
            _accept(arrays, best, history, bound, "lns")
            elite.add(history[-1], best)
            tried.clear()
            idle = 0
        elif sub.proven:
            tried.add(tuple(agents))
        k = _adapt(k, min(m, K_MAX + K_STEP * level), sub, budget)
    log.info("gap search: %g -> %g in %d sub-MIPs (%s)", start, history[-1], rounds, stop)
    proved = None if duals is None or not math.isfinite(duals.bound) else duals.bound
    return SearchResult(best, history[-1], tuple(history), rounds, stop, proved)


def _dual_phase(
    arrays: GapArrays,
    best: IntArray,
    duals: Multipliers,
    history: list[float],
    clock: tuple[float, float | None],
    elite: Elite,
) -> IntArray:
    """One Lagrangian phase (until ``clock`` = (end, deadline)); the new best."""
    end, deadline = clock
    found = lagrangian_heuristic(
        *_arrays(arrays),
        deadline=end if deadline is None else min(end, deadline),
        record=history[-1],
        state=duals,
        descend=lambda a: local_search(arrays, a, deadline=deadline),
        collect=lambda a: elite.add(arrays.value(a), a),
    )
    log.debug("gap search: Lagrangian phase to step %d, bound %g", found.steps, found.bound)
    if found.assign is None:
        return best
    _accept(arrays, found.assign, history, None, "")  # noted by the heuristic
    elite.add(history[-1], found.assign)
    return found.assign


def _polish(
    arrays: GapArrays,
    best: IntArray,
    state: tuple[Elite, np.random.Generator],
    history: list[float],
    clock: tuple[float, float | None, float],
    bound: float | None,
) -> IntArray:
    """Crossovers of two elite members (each at most :data:`POLISH_LIMIT` seconds), descended
    and added to the elite, until ``clock`` = (end, deadline, goal): the end, the goal reached
    or :data:`POLISH_IDLE` crossovers in a row that add nothing new to the elite. The new
    best."""
    (elite, rng), (end, deadline, goal) = state, clock
    until = end if deadline is None else min(end, deadline)
    idle = 0
    while not expired(until) and history[-1] > goal + 1e-9 and idle < POLISH_IDLE:
        child = crossover(arrays, elite, rng, call_limit(until, POLISH_LIMIT))
        if child is None:
            if len(elite.members) < 2:
                break
            idle += 1
            continue
        child = local_search(arrays, child, deadline=deadline)
        value = arrays.value(child)
        idle = 0 if elite.add(value, child) else idle + 1
        if value < history[-1] - 1e-9:
            best = child
            _accept(arrays, best, history, bound, "polish")
    return best


def _walk(
    arrays: GapArrays,
    best: IntArray,
    state: tuple[TabuState, Elite, np.random.Generator],
    history: list[float],
    clock: tuple[float, float | None, int],
    bound: float | None,
) -> IntArray:
    """One tabu phase (until ``end``) from ``best`` or, after a stall (``level`` > 0 in
    ``clock`` = (end, deadline, level)), from a point between ``best`` and an elite member
    (path relinking); the walk's answer joins the elite. The new best."""
    (walk, elite, rng), (end, deadline, level) = state, clock
    until = end if deadline is None else min(deadline, end)
    origin = elite.relink(best, rng) if level > 0 else None
    walked = tabu_search(
        *_arrays(arrays),
        best if origin is None else origin,
        deadline=until,
        steps=TABU_STEPS,
        state=walk,
        bound=bound,
        record=history[-1],
    )
    if walked is None:  # a relinked start the walk could not repair in time
        return best
    reached = arrays.value(walked)  # noted by the walk when it beat the best
    walked = local_search(arrays, walked, deadline=deadline)
    value = arrays.value(walked)
    elite.add(value, walked)
    if value < history[-1] - 1e-9:
        _accept(arrays, walked, history, bound, "local" if value < reached - 1e-9 else "")
        return walked
    return best


def feasible_start(
    arrays: GapArrays, *, deadline: float | None, seed: int = 0, record: float = math.inf
) -> IntArray | None:
    """A feasible assignment found without the MIP, or None by the deadline.

    Each job starts on its cheapest agent under the Lagrangian costs ``c + u w``
    (:func:`capacity_prices`), which overloads some agents; the tabu walk's rising penalties
    then push the overload out (strategic oscillation) until the first feasible point, noted
    in the trace when it costs less than ``record``.
    """
    prices = capacity_prices(arrays)
    assign = np.argmin(arrays.cost + prices[:, None] * arrays.weight, axis=0)
    walk = TabuState.start(arrays.cost, arrays.weight, seed)
    return tabu_search(
        *_arrays(arrays),
        assign,
        deadline=deadline,
        steps=10**9,
        state=walk,
        first=True,
        record=record,
    )


def _arrays(arrays: GapArrays) -> tuple[FloatArray, FloatArray, FloatArray]:
    return arrays.cost, arrays.weight, arrays.capacity


def _accept(
    arrays: GapArrays, assign: IntArray, history: list[float], bound: float | None, source: str
) -> None:
    """Record the objective of ``assign`` when it improved, and note it in the trace."""
    value = arrays.value(assign)
    if value < history[-1] - 1e-9:
        history.append(value)
        if source:
            note(value, bound, source)


def _length(credit: dict[str, float], method: str) -> float:
    """Seconds of the next ``method`` phase: its share of the recent gains (adaptive LNS,
    Ropke & Pisinger 2006, "An adaptive large neighborhood search heuristic for the pickup
    and delivery problem with time windows", Transportation Science 40(4):455-472)."""
    share = credit[method] / max(sum(credit.values()), 1e-12)
    return min(PHASE_MAX, max(PHASE_MIN, PHASE_SECONDS * len(credit) * share))


def _credit(
    credit: dict[str, float], method: str, began: tuple[float, float], value: float
) -> tuple[float, float]:
    """Credit ``method`` with its phase's gain per second; (now, value) begins the next."""
    now = time.monotonic()
    rate = max(0.0, began[1] - value) / max(now - began[0], 1e-3)
    credit[method] = 0.5 * credit[method] + 0.5 * rate + 1e-9
    return now, value


def _adapt(k: int, largest: int, sub: _Sub, limit: float) -> int:
    """Grow the neighbourhood (up to ``largest`` agents) after a quick proof, shrink it after
    a time-out."""
    if not sub.proven:
        return max(K_MIN, k - 1)
    if sub.seconds < 0.25 * limit:
        return min(largest, k + 1)
    return min(largest, k)
