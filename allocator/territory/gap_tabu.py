"""Tabu search with strategic oscillation for the GAP (shift, swap and chain moves, numpy).

The search of Díaz & Fernández (2001), "A tabu search heuristic for the generalized
assignment problem", European J. Operational Research 132(1):22-38, in the form Yagiura,
Ibaraki & Glover (2004, "An ejection chain approach for the generalized assignment problem",
INFORMS J. Computing 16(2):133-151) use for their penalty: the walk may overload agents, at a
price per unit of overload and per agent that rises while the agent is overloaded and falls while
it is not (strategic oscillation), so the search crosses the capacity boundary instead of
creeping along it. Each step takes the best non-tabu *shift* (move one job), *swap* (exchange
the agents of two jobs) or depth-two *ejection chain* (a job into another agent, one of whose
jobs moves on to a third: Yagiura et al. 2004,
:func:`~allocator.territory.gap_chain.penalised_chains`) under
``cost + sum_a alpha[a] * max(0, load[a] - capacity[a])``;
moving a job away from an agent forbids its return for a random tenure, unless the move would
beat the best cost found (aspiration). Only feasible assignments are ever returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from allocator.solver.deadline import expired
from allocator.solver.trace import note
from allocator.territory.gap_chain import penalised_chains

__all__ = ["TabuState", "tabu_search"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Jobs scanned for swaps per step: all when the swap table (rows x jobs) stays under
#: SWAP_CELLS, else a random sample that fits it, at least SWAP_MIN_ROWS (a step at 60 x 900
#: took ~30 ms with 250 rows; most of it in the swap table).
SWAP_CELLS, SWAP_MIN_ROWS = 40_000, 32
#: Tabu tenure range, in units of sqrt(jobs).
TENURE = (0.1, 0.4)
#: Penalty update factors while overloaded / not.
RISE, FALL = 1.02, 0.98
#: Lowest penalty, as a share of the typical cost per capacity unit.
FLOOR = 0.1
#: Whether the walk also takes depth-two ejection chains (measured in ``models/assignment.md``).
CHAINS = True


@dataclass
class TabuState:
    """The walk's state between calls: ``alpha`` (agents,) penalties, the tabu list, steps."""

    alpha: FloatArray
    tabu: IntArray
    floor: float = 1e-6
    step: int = 0
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    chains: bool = True

    @classmethod
    def start(cls, cost: FloatArray, weight: FloatArray, seed: int = 0) -> TabuState:
        """Penalties at the cost per capacity unit of a typical arc (agents x jobs arrays)."""
        ratio = float(np.median(cost / np.maximum(weight, 1e-9)))
        m, n = cost.shape
        return cls(
            alpha=np.full(m, max(ratio, 1e-6)),
            floor=max(ratio, 1e-6) * FLOOR,
            tabu=np.zeros((m, n), dtype=np.int64),
            rng=np.random.default_rng(seed),
            chains=CHAINS,
        )


def tabu_search(
    cost: FloatArray,
    weight: FloatArray,
    capacity: FloatArray,
    assign: IntArray,
    *,
    deadline: float | None,
    steps: int,
    state: TabuState,
    bound: float | None = None,
    first: bool = False,
    record: float = math.inf,
) -> IntArray | None:
    """Walk ``steps`` tabu steps from ``assign`` (jobs,); the best feasible point visited.

    Arrays are agents x jobs (``cost`` minimised). Stops early at the deadline, when the best
    cost reaches ``bound``, or (``first``) at the first feasible point. Each new best is noted
    in the trace as ``"tabu"`` when it beats ``record`` (the run's best cost so far). From a
    feasible ``assign`` the answer is never worse than it;
    from an infeasible one (overloaded agents) it is None when no feasible point was reached.
    """
    m, n = cost.shape
    jobs = np.arange(n)
    cur = assign.copy()
    load = np.zeros(m)
    np.add.at(load, cur, weight[cur, jobs])
    value = float(cost[cur, jobs].sum())
    fits = bool((load <= capacity + 1e-9 * np.maximum(1.0, capacity)).all())
    best, best_value = (cur.copy(), value) if fits else (None, math.inf)
    for _ in range(steps):
        if expired(deadline) or (bound is not None and best_value <= bound + 1e-9):
            break
        if first and best is not None:
            break
        state.step += 1
        move = _best_move(cost, weight, capacity, cur, load, state, best_value - value)
        if move is None:
            break
        value += _apply(cost, weight, cur, load, state, move, n)
        over = load - capacity > 1e-9 * np.maximum(1.0, capacity)
        if over.any():
            state.alpha[over] *= RISE
        else:
            state.alpha = np.maximum(state.alpha * FALL, state.floor)
        if value < best_value - 1e-9 and not over.any():
            best, best_value = cur.copy(), float(cost[cur, jobs].sum())
            if best_value < record - 1e-9:
                note(best_value, bound, "tabu")
    return best


def _best_move(
    cost: FloatArray,
    weight: FloatArray,
    capacity: FloatArray,
    cur: IntArray,
    load: FloatArray,
    state: TabuState,
    aspire: float,
) -> tuple[int, int, int, int] | None:
    """(0, agent, job, -1) for a shift, (1, job1, job2, -1) for a swap or (2, job1, job2,
    agent3) for a chain (:func:`~allocator.territory.gap_chain.penalised_chains`): the best
    admissible step.

    ``aspire`` is the cost change below which a tabu step is allowed (it beats the best).
    """
    n = len(cur)
    jobs = np.arange(n)
    alpha, excess = state.alpha, load - capacity
    over = np.maximum(excess, 0.0)
    own_w, own_c = weight[cur, jobs], cost[cur, jobs]
    leave = alpha[cur] * (np.maximum(excess[cur] - own_w, 0.0) - over[cur])  # (n,)
    enter = alpha[:, None] * (np.maximum(excess[:, None] + weight, 0.0) - over[:, None])
    d_cost = cost - own_c[None, :]
    shift = d_cost + enter + leave[None, :]
    shift[cur, jobs] = np.inf
    feasible = not (over > 0).any()
    barred = state.tabu > state.step  # (agents, jobs): the job may not enter the agent
    shift[barred & ~_aspired(d_cost, enter + leave[None, :], aspire, feasible)] = np.inf
    a, j = np.unravel_index(int(np.argmin(shift)), shift.shape)
    best = (float(shift[a, j]), (0, int(a), int(j), -1))
    sample = max(SWAP_MIN_ROWS, SWAP_CELLS // n)
    rows = jobs if n <= sample else state.rng.choice(n, sample, replace=False)
    penalty = (excess, over, alpha)
    swap = _swap_deltas(cost, weight, cur, penalty, rows, barred, aspire)
    r, j2 = np.unravel_index(int(np.argmin(swap)), swap.shape)
    if swap[r, j2] < best[0]:
        best = (float(swap[r, j2]), (1, int(rows[r]), int(j2), -1))
    if state.chains:
        chain, to = penalised_chains(cost, weight, cur, penalty, rows, barred)
        r, j2 = np.unravel_index(int(np.argmin(chain)), chain.shape)
        if chain[r, j2] < best[0]:
            best = (float(chain[r, j2]), (2, int(rows[r]), int(j2), int(to[r, j2])))
    return best[1] if math.isfinite(best[0]) else None


def _swap_deltas(
    cost: FloatArray,
    weight: FloatArray,
    cur: IntArray,
    penalty: tuple[FloatArray, FloatArray, FloatArray],
    rows: IntArray,
    tabu: BoolArray,
    aspire: float,
) -> FloatArray:
    """Penalised change of swapping job ``rows[r]`` with every job (len(rows) x jobs).

    ``penalty`` is (load - capacity, its positive part, alpha), each (agents,); ``tabu``
    (agents x jobs) is True where a job may not enter an agent. Every table
    is built from whole rows (``cost[cur[rows]]``: job ``j2`` on the agent of ``rows[r]``;
    ``cost[:, rows][cur].T``: job ``rows[r]`` on the agent of ``j2``), which numpy copies
    row by row, instead of an element-wise gather per cell (4x faster at 20 x 100).
    """
    excess, over, alpha = penalty
    jobs = np.arange(len(cur))
    a1 = cur[rows]
    own_c, own_w = cost[cur, jobs], weight[cur, jobs]
    here_c, there_c = cost[a1], cost[:, rows][cur].T  # (r, n): j2 on a1, rows[r] on a2
    here_w, there_w = weight[a1], weight[:, rows][cur].T
    d_cost = there_c + here_c - own_c[rows][:, None] - own_c[None, :]
    new1 = (excess[a1] - own_w[rows])[:, None] + here_w
    new2 = (excess[cur] - own_w)[None, :] + there_w
    pen = alpha[a1][:, None] * (np.maximum(new1, 0) - over[a1][:, None]) + alpha[cur][None, :] * (
        np.maximum(new2, 0) - over[cur][None, :]
    )
    delta = d_cost + pen
    feasible = not (over > 0).any()
    barred = tabu[:, rows][cur].T | tabu[a1]
    delta[(a1[:, None] == cur[None, :]) | (barred & ~_aspired(d_cost, pen, aspire, feasible))] = (
        np.inf
    )
    return delta


def _aspired(d_cost: FloatArray, pen: FloatArray, aspire: float, feasible: bool) -> FloatArray:
    """Tabu steps allowed anyway: from a feasible point, staying feasible, beating the best."""
    if not feasible:
        return np.zeros(d_cost.shape, bool)
    return (d_cost < aspire - 1e-9) & (pen <= 1e-12)


def _apply(
    cost: FloatArray,
    weight: FloatArray,
    cur: IntArray,
    load: FloatArray,
    state: TabuState,
    move: tuple[int, int, int, int],
    n: int,
) -> float:
    """Make the step in place, forbid the moved jobs' return; the cost change."""
    kind, x, y, z = move
    if kind == 0:
        pairs = [(y, x)]
    elif kind == 1:
        pairs = [(x, int(cur[y])), (y, int(cur[x]))]
    else:
        pairs = [(x, int(cur[y])), (y, z)]
    change = 0.0
    for job, agent in pairs:
        old = int(cur[job])
        low = max(2, int(TENURE[0] * math.sqrt(n)))
        tenure = int(state.rng.integers(low, max(low + 1, int(TENURE[1] * math.sqrt(n)))))
        state.tabu[old, job] = state.step + tenure
        load[old] -= weight[old, job]
        load[agent] += weight[agent, job]
        change += cost[agent, job] - cost[old, job]
    for job, agent in pairs:
        cur[job] = agent
    return float(change)
