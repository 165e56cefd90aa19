"""Depth-two ejection chains for the GAP: move a job into a full agent by ejecting another.

A *shift* fails when the receiving agent has no room; an ejection chain makes the room: job
``j1`` goes from agent ``a1`` to ``a2``, and job ``j2`` (on ``a2``, heavy enough there) goes on
to a third agent ``a3`` that has room for it. This is the depth-two case of the chains of
Yagiura, Ibaraki & Glover (2004), "An ejection chain approach for the generalized assignment
problem", INFORMS J. Computing 16(2):133-151; the best chain over all ``j1, a2`` is found in
O(m n + n log n + p log n) with the jobs sorted by (agent, weight), a running minimum of the
ejected job's best onward move within each agent, and one search, in that order, of the needed
weight of the ``p`` pairs ``(a2, j1)`` whose move plus ``a2``'s best onward gain is negative
(only they can start an improving chain), and no loop over agents (at 80 x 1600 a loop over
agents took 18 ms a call and 10 of the search's 38 s).

:func:`penalised_chains` prices the same chains for the tabu walk
(:mod:`allocator.territory.gap_tabu`), where agents may be overloaded at a price per unit: it
is built like the walk's swap table (whole rows of ``cost`` and ``weight``), with each ejected
job's best and second-best onward agent found once per step.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["best_chain", "penalised_chains"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NONE = (np.inf, -1, -1, -1, -1)


def best_chain(
    cost: FloatArray, weight: FloatArray, room: FloatArray, assign: IntArray
) -> tuple[float, int, int, int, int]:
    """The cheapest feasible chain that lowers the cost: (cost change, j1, a2, j2, a3);
    change ``inf`` when no chain lowers it.

    ``cost`` and ``weight`` are agents x jobs, ``room`` (agents,) the capacity left (with any
    tolerance already added), ``assign`` (jobs,) the current agents. Room is taken before the
    chain, so a chain that would need ``j1``'s freed room at ``a3 = a1`` is not seen: every
    chain returned is feasible (checked again before it is returned).
    """
    m, n = cost.shape
    jobs = np.arange(n)
    own_c = cost[assign, jobs]
    onward = cost - own_c[None, :]
    a2_all = np.arange(m)[:, None]
    onward[(weight > room[:, None]) | (a2_all == assign[None, :])] = np.inf
    to = np.argmin(onward, axis=0)  # each job's best feasible onward agent
    gain = onward[to, jobs]
    own_w = weight[assign, jobs]
    order = np.lexsort((own_w, assign))  # jobs by agent, then by weight on it
    agent, heavy = assign[order], own_w[order]
    ends = np.searchsorted(agent, np.arange(m), side="right")  # (m,) end of each agent's run
    ahead = _suffix_best(gain[order], agent, n)  # position in order of the best at or after
    into = cost - own_c[None, :]  # (m, n): j1 into a2
    low = np.full(m, np.inf)  # each agent's best onward gain: no chain through a2 beats
    np.minimum.at(low, assign, gain)  # into[a2, j1] + low[a2]
    need = weight - room[:, None]  # (m, n): how much a2 must shed to take j1
    a2s, j1s = np.nonzero((need > 0) & (into + low[:, None] < 0) & (assign[None, :] != a2_all))
    if not len(a2s):
        return NONE
    span = float(heavy.max(initial=0.0)) + 2.0
    first = np.searchsorted(agent * span + heavy, a2s * span + np.minimum(need[a2s, j1s], span))
    ok = first < ends[a2s]
    pick = ahead[np.minimum(first, n - 1)]
    total = np.where(ok, into[a2s, j1s] + gain[order[pick]], np.inf)
    best = int(np.argmin(total))
    if not total[best] < 0:
        return NONE
    a2, j1 = int(a2s[best]), int(j1s[best])
    j2 = int(order[pick[best]])
    a3 = int(to[j2])
    fits = weight[a2, j1] <= room[a2] + weight[a2, j2] and weight[a3, j2] <= room[a3]
    if not fits or assign[j2] != a2 or j1 == j2:  # a rounding slip in the combined keys
        return NONE
    return float(total[best]), j1, a2, j2, a3


def _suffix_best(values: FloatArray, agent: IntArray, n: int) -> IntArray:
    """For each position of ``values`` (sorted by ``agent``), the position of the smallest
    value at or after it within the same agent (the first such on ties)."""
    by_value = np.argsort(values, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_value] = np.arange(n)
    shifted = rank + agent.astype(np.int64) * n  # later agents never win inside an earlier one
    best = np.minimum.accumulate(shifted[::-1])[::-1] - agent.astype(np.int64) * n
    return by_value[best]


def penalised_chains(
    cost: FloatArray,
    weight: FloatArray,
    cur: IntArray,
    penalty: tuple[FloatArray, FloatArray, FloatArray],
    rows: IntArray,
    shut: BoolArray,
) -> tuple[FloatArray, IntArray]:
    """Penalised change of every depth-two chain that starts with a job of ``rows``.

    Chain ``(r, j2)``: job ``j1 = rows[r]`` leaves its agent ``a1`` for ``a2``, the agent of job
    ``j2``, which moves on to ``a3``, its best agent other than ``a1`` and ``a2`` (the cheapest
    onward move; ``a3 = a1`` would be a swap). The change is in the tabu walk's penalised cost
    ``cost + sum_a alpha[a] * max(0, load[a] - capacity[a])``: the walk may pass through
    overloaded agents, as the chains of Yagiura, Ibaraki & Glover (2004) do. ``penalty`` is
    (load - capacity, its positive part, alpha), each (agents,); ``shut`` (agents x jobs) is
    True where a job may not enter an agent (tabu, or outside its candidate list). Arrays are
    agents x jobs; the answer is (len(rows) x jobs) changes, ``inf`` where no chain exists,
    and the ``a3`` of each cell.
    """
    excess, over, alpha = penalty
    m, n = cost.shape
    jobs = np.arange(n)
    a1 = cur[rows]
    if m < 3:
        return np.full((len(rows), n), np.inf), np.zeros((len(rows), n), np.int64)
    own_c, own_w = cost[cur, jobs], weight[cur, jobs]
    onward = (
        cost
        - own_c[None, :]
        + alpha[:, None] * (np.maximum(excess[:, None] + weight, 0.0) - over[:, None])
    )
    onward[shut | (np.arange(m)[:, None] == cur[None, :])] = np.inf
    first = np.argmin(onward, axis=0)  # each j2's best onward agent and the runner-up
    best1 = onward[first, jobs]
    onward[first, jobs] = np.inf
    second = np.argmin(onward, axis=0)
    best2 = onward[second, jobs]
    clash = first[None, :] == a1[:, None]  # the best onward agent is j1's own: take the next
    gain = np.where(clash, best2[None, :], best1[None, :])
    to = np.where(clash, second[None, :], first[None, :])
    leave = -own_c[rows] + alpha[a1] * (np.maximum(excess[a1] - own_w[rows], 0.0) - over[a1])
    into_c, into_w = cost[:, rows][cur].T, weight[:, rows][cur].T  # rows[r] on j2's agent
    mid = alpha[cur][None, :] * (
        np.maximum(excess[cur][None, :] + into_w - own_w[None, :], 0.0) - over[cur][None, :]
    )
    delta = leave[:, None] + into_c + mid + gain
    delta[(a1[:, None] == cur[None, :]) | shut[:, rows][cur].T] = np.inf
    return delta, to
