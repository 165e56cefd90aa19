"""Best-improvement descent for the GAP: shift, swap and depth-two ejection-chain moves.

The *shift* (move one job) and *swap* (exchange the agents of two jobs) neighbourhoods are the
two basic neighbourhoods of Yagiura, Ibaraki & Glover (2004), "An ejection chain approach for
the generalized assignment problem", INFORMS J. Computing 16(2):133-151; the chains are
:func:`~allocator.territory.gap_chain.best_chain`. Each move keeps every capacity, vectorised
in numpy. :mod:`allocator.territory.gap_search` builds its search on this descent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from allocator.solver.deadline import expired
from allocator.solver.highs_assign import solve_assign_mip
from allocator.territory.gap_chain import best_chain

__all__ = ["TOL", "GapArrays", "complete", "local_search"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Largest job count for the swap neighbourhood (its arrays are jobs x jobs): at 80 x 1600 the
#: descent from a Lagrangian start took 12.5 s with swaps and 1.2 s without, and the search
#: 15 s later was at the same cost (``benchmarks/notes.md``).
SWAP_MAX_JOBS = 1000
#: Capacity slack tolerance, relative to the capacity.
TOL = 1e-9


@dataclass(frozen=True)
class GapArrays:
    """A minimisation GAP: ``cost`` and ``weight`` (agents x jobs), ``capacity`` (agents,)."""

    cost: FloatArray
    weight: FloatArray
    capacity: FloatArray

    def loads(self, assign: IntArray) -> FloatArray:
        """Capacity used per agent (agents,) by ``assign`` (an agent per job)."""
        used = np.zeros(len(self.capacity))
        np.add.at(used, assign, self.weight[assign, np.arange(len(assign))])
        return used

    def value(self, assign: IntArray) -> float:
        """The cost of ``assign``."""
        return float(self.cost[assign, np.arange(len(assign))].sum())

    def feasible(self, assign: IntArray) -> bool:
        """True when every job has an agent and no capacity is exceeded."""
        m = len(self.capacity)
        if assign.min(initial=0) < 0 or assign.max(initial=0) >= m:
            return False
        return bool((self.loads(assign) <= self.capacity * (1 + TOL) + TOL).all())


def complete(
    cost: FloatArray,
    weight: FloatArray,
    capacity: FloatArray,
    partial: IntArray,
    *,
    limit: float,
    cutoff: float | None = None,
    seed: int = 0,
) -> IntArray | None:
    """``partial`` (jobs,; -1 for a free job) completed exactly: the free jobs solved as a
    sub-GAP in the room the others leave (arrays agents x jobs, capacity (agents,); HiGHS
    from arrays, at most ``limit`` seconds). ``cutoff``: only a completion whose whole cost
    is below it counts. None when nothing (better) is found in time, or when HiGHS's answer
    overloads an agent beyond :data:`TOL` (its own row tolerance is looser): the answer is
    always feasible as :meth:`GapArrays.feasible` says."""
    free = np.flatnonzero(partial < 0)
    if not len(free):
        return partial.copy()
    held = np.flatnonzero(partial >= 0)
    room = capacity - np.bincount(
        partial[held], weights=weight[partial[held], held], minlength=len(capacity)
    )
    agent, job = np.nonzero(weight[:, free] <= room[:, None] * (1 + TOL) + TOL)
    sunk = float(cost[partial[held], held].sum())
    mip = solve_assign_mip(
        agent,
        job,
        cost[agent, free[job]],
        weight[agent, free[job]],
        room,
        jobs=len(free),
        time_limit=limit,
        cutoff=None if cutoff is None else cutoff - sunk,
        seed=seed,
    )
    if mip.chosen is None:
        return None
    done = partial.copy()
    done[free[job[mip.chosen]]] = agent[mip.chosen]
    return done if GapArrays(cost, weight, capacity).feasible(done) else None


def local_search(
    arrays: GapArrays, assign: IntArray, *, deadline: float | None, max_moves: int = 100_000
) -> IntArray:
    """Best-improvement shift, swap and ejection-chain moves until none improves, the deadline
    or ``max_moves``.

    ``assign`` (jobs,) must be feasible; the answer is feasible and no more costly.
    """
    assign = assign.copy()
    load = arrays.loads(assign)
    swaps = len(assign) <= SWAP_MAX_JOBS
    for _ in range(max_moves):
        if expired(deadline):
            break
        if _shift(arrays, assign, load):
            continue
        if swaps and _swap(arrays, assign, load):
            continue
        if not _chain(arrays, assign, load):
            break
    return assign


def _room(arrays: GapArrays, load: FloatArray) -> FloatArray:
    return arrays.capacity * (1 + TOL) + TOL - load


def _shift(arrays: GapArrays, assign: IntArray, load: FloatArray) -> bool:
    """Apply the best improving single-job move in place; False when there is none."""
    jobs = np.arange(len(assign))
    delta = arrays.cost - arrays.cost[assign, jobs][None, :]
    delta[arrays.weight > _room(arrays, load)[:, None]] = np.inf
    a, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
    if not delta[a, j] < -1e-9:
        return False
    load[assign[j]] -= arrays.weight[assign[j], j]
    load[a] += arrays.weight[a, j]
    assign[j] = a
    return True


def _swap(arrays: GapArrays, assign: IntArray, load: FloatArray) -> bool:
    """Apply the best improving exchange of two jobs' agents in place; False when none."""
    jobs = np.arange(len(assign))
    own = arrays.cost[assign, jobs]
    other = arrays.cost[assign, :]  # other[j1, j2]: cost of j2 on j1's agent
    delta = other + other.T - own[:, None] - own[None, :]
    wrow = arrays.weight[assign, :]
    fits = wrow - arrays.weight[assign, jobs][:, None] <= _room(arrays, load)[assign][:, None]
    delta[~(fits & fits.T) | (assign[:, None] == assign[None, :])] = np.inf
    j1, j2 = np.unravel_index(int(np.argmin(delta)), delta.shape)
    if not delta[j1, j2] < -1e-9:
        return False
    a1, a2 = assign[j1], assign[j2]
    load[a1] += arrays.weight[a1, j2] - arrays.weight[a1, j1]
    load[a2] += arrays.weight[a2, j1] - arrays.weight[a2, j2]
    assign[j1], assign[j2] = a2, a1
    return True


def _chain(arrays: GapArrays, assign: IntArray, load: FloatArray) -> bool:
    """Apply the best improving depth-two ejection chain in place; False when none."""
    change, j1, a2, j2, a3 = best_chain(arrays.cost, arrays.weight, _room(arrays, load), assign)
    if not change < -1e-9:
        return False
    for job, agent in ((j1, a2), (j2, a3)):
        load[assign[job]] -= arrays.weight[assign[job], job]
        load[agent] += arrays.weight[agent, job]
        assign[job] = agent
    return True
