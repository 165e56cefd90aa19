"""Depth-two ejection chains for the GAP: move a job into a full agent by ejecting another.

A *shift* fails when the receiving agent has no room; an ejection chain makes the room: job
``j1`` goes from agent ``a1`` to ``a2``, and job ``j2`` (on ``a2``, heavy enough there) goes on
to a third agent ``a3`` that has room for it. This is the depth-two case of the chains of
Yagiura, Ibaraki & Glover (2004), "An ejection chain approach for the generalized assignment
problem", INFORMS J. Computing 16(2):133-151; the best chain over all ``j1, a2`` is found in
O(m n log n) with, per agent, its jobs sorted by weight and a running minimum of the
ejected job's best onward move.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["best_chain"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def best_chain(
    cost: FloatArray, weight: FloatArray, room: FloatArray, assign: IntArray
) -> tuple[float, int, int, int, int]:
    """The cheapest feasible chain: (cost change, j1, a2, j2, a3); change ``inf`` when none.

    ``cost`` and ``weight`` are agents x jobs, ``room`` (agents,) the capacity left (with any
    tolerance already added), ``assign`` (jobs,) the current agents. Room is taken before the
    chain, so a chain that would need ``j1``'s freed room at ``a3 = a1`` is not seen: every
    chain returned is feasible.
    """
    m, n = cost.shape
    jobs = np.arange(n)
    own_c = cost[assign, jobs]
    onward = cost - own_c[None, :]
    onward[(weight > room[:, None]) | (np.arange(m)[:, None] == assign[None, :])] = np.inf
    to = np.argmin(onward, axis=0)  # each job's best feasible onward agent
    gain = onward[to, jobs]
    into = cost - own_c[None, :]  # j1 into a2
    need = weight - room[:, None]  # how much a2 must shed to take j1
    best = (np.inf, -1, -1, -1, -1)
    for a2 in range(m):
        on = np.flatnonzero(assign == a2)
        if not len(on):
            continue
        order = on[np.argsort(weight[a2, on])]
        heavy = weight[a2, order]
        tail = np.minimum.accumulate(gain[order][::-1])[::-1]  # best onward gain at or above
        first = np.searchsorted(heavy, need[a2], side="left")
        ok = (need[a2] > 0) & (first < len(order)) & (assign != a2)
        if not ok.any():
            continue
        total = np.full(n, np.inf)
        total[ok] = into[a2, ok] + tail[first[ok]]
        j1 = int(np.argmin(total))
        if total[j1] < best[0]:
            j2 = _argmin_from(gain, order, int(first[j1]))
            best = (float(total[j1]), j1, a2, j2, int(to[j2]))
    return best


def _argmin_from(gain: FloatArray, order: IntArray, first: int) -> int:
    """The job of ``order[first:]`` with the best onward gain."""
    rest = order[first:]
    return int(rest[int(np.argmin(gain[rest]))])
