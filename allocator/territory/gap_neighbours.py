"""Which agents a GAP large-neighbourhood step frees: Lagrangian prices and relatedness.

The capacity prices ``u`` come from a subgradient ascent on the Lagrangian relaxation of the
capacities (Ross & Soland 1975, "A branch and bound algorithm for the generalized assignment
problem", Math. Programming 8:91-103); two agents are *related* (Shaw 1998, "Using constraint
programming and local search methods to solve vehicle routing problems", CP-98) when they are
often both among a job's cheapest under the Lagrangian costs ``c[a,j] + u[a] w[a,j]``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from allocator.territory.gap_search import GapArrays

__all__ = ["capacity_prices", "fresh_agents", "pick_agents", "related_agents"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def capacity_prices(arrays: GapArrays, *, iterations: int = 200) -> FloatArray:
    """Capacity prices ``u >= 0`` (agents,) from a subgradient ascent on the Lagrangian bound.

    Relaxing the capacities leaves ``min sum_j min_a (c[a,j] + u[a] w[a,j]) - u . b``
    (Ross & Soland 1975); the step follows Held, Wolfe & Crowder (1974) with the agenda's
    best cost as the target. Cost units per capacity unit.
    """
    cost, weight, cap = arrays.cost, arrays.weight, arrays.capacity
    u = np.zeros(len(cap))
    best_u, best = u, -math.inf
    target = float(cost.max(axis=0).sum())
    step = 2.0
    jobs = np.arange(cost.shape[1])
    for _ in range(iterations):
        reduced = cost + u[:, None] * weight
        pick = np.argmin(reduced, axis=0)
        value = float(reduced[pick, jobs].sum() - u @ cap)
        if value > best + 1e-9:
            best, best_u = value, u.copy()
        else:
            step *= 0.95
        grad = np.zeros(len(cap))
        np.add.at(grad, pick, weight[pick, jobs])
        grad -= cap
        norm = float(grad @ grad)
        if norm <= 1e-12:
            break
        u = np.maximum(0.0, u + step * (target - value) / norm * grad)
    return best_u


def related_agents(arrays: GapArrays, prices: FloatArray, top: int = 4) -> FloatArray:
    """How often two agents are both among a job's ``top`` cheapest under the Lagrangian costs
    (``prices`` (agents,), cost units per capacity unit): an (agents x agents) count matrix
    with a zero diagonal."""
    m, n = arrays.cost.shape
    top = min(top, m)
    reduced = arrays.cost + prices[:, None] * arrays.weight
    best = np.argpartition(reduced, top - 1, axis=0)[:top]  # (top, n)
    member = np.zeros((m, n))
    member[best, np.arange(n)[None, :]] = 1.0
    related = member @ member.T
    np.fill_diagonal(related, 0.0)
    return related


def pick_agents(rng: np.random.Generator, related: FloatArray, k: int) -> IntArray:
    """A random seed agent and ``k - 1`` more drawn by relatedness (one in five: at random);
    ``related`` is (agents x agents), the answer the sorted agent indices (min(k, agents),)."""
    m = len(related)
    chosen = [int(rng.integers(m))]
    weights = np.ones(m) if rng.random() < 0.2 else related[chosen[0]] + 0.1
    while len(chosen) < min(k, m):
        p = weights.copy()
        p[chosen] = 0.0
        nxt = int(rng.choice(m, p=p / p.sum()))
        chosen.append(nxt)
        weights = weights + related[nxt]
    return np.array(sorted(chosen))


def fresh_agents(
    rng: np.random.Generator, related: FloatArray, k: int, tried: set[tuple[int, ...]]
) -> IntArray:
    """Related agents whose sub-GAP has not been proven empty since the last improvement."""
    agents = pick_agents(rng, related, k)
    for _ in range(10):
        if tuple(agents) not in tried:
            break
        agents = pick_agents(rng, related, k + int(rng.integers(0, 2)))
    return agents
