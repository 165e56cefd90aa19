"""Better contiguous plans: a connected local search, then a large neighbourhood search.

:func:`improve` moves boundary items between neighbouring territories, never disconnecting one,
first to cut the violation of the hard rows (balance, capacity, account limits; pulling balance
rows towards their fair share when plain moves are stuck) and then the objective, with random
kicks while time remains (iterated local search; Ricca & Simeone 2008 compare such searches for
political districting). :func:`neighbourhood` re-optimises the items of two or three
neighbouring reps at a time exactly, with the flow model of :mod:`allocator.territory.flow`
(the other reps keep theirs): a ReCom-like move (DeFord, Duchin & Solomon 2021) solved to
optimality instead of sampled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from allocator.territory.grow import Graph, PlanState, Rows

__all__ = ["SearchResult", "better", "improve", "neighbour_groups", "neighbourhood"]

log = logging.getLogger("allocator")

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SearchResult:
    """A complete assignment, its total relative violation of the hard rows and its objective."""

    assign: IntArray
    violation: float
    objective: float
    moves: int


def better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Lexicographic (violation, objective) comparison with tolerances."""
    if a[0] < b[0] - 1e-7:
        return True
    return a[0] <= b[0] + 1e-7 and a[1] < b[1] - 1e-9 * max(1.0, abs(b[1]))


def _descend(state: PlanState, rng: np.random.Generator, deadline: float) -> int:
    """Apply improving boundary moves until none is left or time is up; return the count."""
    n = len(state.assign)
    moves = 0
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for i in rng.permutation(n).tolist():
            if state.g.fixed[i] >= 0:
                continue
            best, best_b = (0.0, 0.0), -1
            for b in state.candidates(i):
                d = state.delta(i, b)
                if better(d, best) and state.can_join(i, b):
                    best, best_b = d, b
            if best_b >= 0 and state.can_leave(i):
                state.move(i, best_b)
                moves += 1
                improved = True
    return moves


def _perturb(state: PlanState, rng: np.random.Generator, share: float) -> None:
    """Random connected boundary moves on about ``share`` of the items (a kick for the search)."""
    n = len(state.assign)
    for i in rng.choice(n, size=max(1, int(share * n)), replace=False).tolist():
        if state.g.fixed[i] >= 0:
            continue
        options = [b for b in state.candidates(i) if state.can_join(i, b)]
        if options and state.can_leave(i):
            state.move(i, options[int(rng.integers(len(options)))])


def improve(
    graph: Graph,
    rows: Rows,
    assign: IntArray,
    *,
    deadline: float,
    seed: int = 0,
    stall: int = 30,
    pull: bool = True,
) -> SearchResult:
    """The best plan an iterated connected local search finds from ``assign`` by ``deadline``.

    Stops early after ``stall`` kicks without improvement. Every move keeps each rep's served
    regions connected (and its root served), so a connected start stays connected. ``pull``:
    when the start violates rows, first pull every balance row towards its fair share (frees
    chains of moves, but moves a plan far from an LP optimum that sits at the band edges).
    """
    rng = np.random.default_rng(seed)
    state = PlanState(graph, rows, assign)
    moves = 0
    if pull and state.totals()[0] > 0:  # pull balance rows to their targets: chains open up
        spread = PlanState(graph, rows, assign, spread=0.05)
        moves += _descend(spread, rng, deadline)
        state = PlanState(graph, rows, spread.assign)
    moves += _descend(state, rng, deadline)
    best_assign, best = state.assign.copy(), state.totals()
    idle = 0
    while time.monotonic() < deadline and (idle < stall or best[0] > 0):
        _perturb(state, rng, 0.02 + 0.03 * rng.random())
        moves += _descend(state, rng, deadline)
        now = state.totals()
        if better(now, best):
            best_assign, best, idle = state.assign.copy(), now, 0
        else:
            idle += 1
            state = PlanState(graph, rows, best_assign)
    return SearchResult(best_assign, best[0], best[1], moves)


def neighbour_groups(graph: Graph, assign: IntArray, size: int) -> list[tuple[int, ...]]:
    """Sets of ``size`` (2 or 3) reps whose territories touch (share or border a region)."""
    own: dict[int, set[int]] = {}
    for i, r in enumerate(assign.tolist()):
        own.setdefault(int(graph.region[i]), set()).add(r)
    pairs: set[tuple[int, int]] = set()
    for u, reps in own.items():
        near = set(reps).union(*(own.get(v, set()) for v in graph.neighbours[u]))
        for a in reps:
            pairs.update((min(a, b), max(a, b)) for b in near if b != a)
    if size == 2:
        return sorted(pairs)
    adjacent: dict[int, set[int]] = {}
    for a, b in pairs:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    triples = {
        tuple(sorted((a, b, c))) for a, b in pairs for c in adjacent[a] | adjacent[b] - {a, b}
    }
    return sorted(t for t in triples if len(set(t)) == 3)


def neighbourhood(
    graph: Graph,
    rows: Rows,
    assign: IntArray,
    *,
    deadline: float,
    solve_group: Callable[[IntArray, tuple[int, ...], float | None, float], IntArray | None],
) -> SearchResult:
    """Large neighbourhood search: re-optimise groups of touching reps until none improves.

    ``solve_group(assign, reps, penalty, seconds)`` returns the best plan that changes only the
    items of ``reps`` (None when it has none in time). Pairs first; triples when no pair helps.
    """
    current = assign.copy()
    score = PlanState(graph, rows, current).totals()
    size, rounds = 2, 0
    tried: set[tuple[tuple[int, ...], bytes]] = set()  # groups already optimal as they are
    while time.monotonic() < deadline:
        changed = False
        for group in neighbour_groups(graph, current, size):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            key = (group, np.where(np.isin(current, group), current, -1).tobytes())
            if key in tried:
                continue
            penalty = 10.0 * max(abs(score[1]), 1.0) if score[0] > 0 else None
            found = solve_group(current, group, penalty, left)
            if found is None:
                continue
            now = PlanState(graph, rows, found).totals()
            if better(now, score):
                current, score, changed = found, now, True
            else:
                tried.add(key)
        rounds += 1
        log.info("contiguity: neighbourhood round %d (groups of %d): %s", rounds, size, score)
        if changed:
            size = 2
        elif size == 2:
            size = 3
        else:
            break
    return SearchResult(current, score[0], score[1], rounds)
