"""A small assignment MIP straight from numpy arrays into HiGHS (highspy), for repeated sub-solves.

Each column ``(agent[k], job[k])`` is a binary with cost ``cost[k]`` and capacity use
``use[k]``; every job is taken exactly once, every agent's use is at most its capacity. Used by
the GAP's large-neighbourhood search (:mod:`allocator.territory.gap_search`), which solves
hundreds of these per run: building through PuLP would cost more than solving.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from allocator.solver.highs import new_highs, use_threads

__all__ = ["AssignMip", "assign_lp_prices", "misses_cutoff", "solve_assign_mip"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AssignMip:
    """The answer: chosen columns (bool per column) or None, proven (optimal or proven that
    nothing beats the cut-off), wall seconds."""

    chosen: npt.NDArray[np.bool_] | None
    proven: bool
    seconds: float


def solve_assign_mip(
    agent: IntArray,
    job: IntArray,
    cost: FloatArray,
    use: FloatArray,
    capacity: FloatArray,
    *,
    jobs: int,
    time_limit: float,
    cutoff: float | None = None,
    seed: int = 0,
) -> AssignMip:
    """Solve ``min cost.x`` s.t. each of ``jobs`` jobs once, ``use`` per agent <= ``capacity``.

    ``agent`` and ``job`` (columns,) are 0-based indices into ``capacity`` and ``range(jobs)``.
    ``cutoff`` makes HiGHS look only for solutions costing less (``objective_bound``), so an
    answer that cannot beat it ends as soon as that is proven (``chosen`` None, ``proven``).
    One thread; ``time_limit`` in seconds.
    """
    began = time.perf_counter()
    lp = _assign_lp(agent, job, cost, use, capacity, jobs)
    cols = len(cost)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * cols
    h = _one_thread(time_limit)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("random_seed", int(seed) % 2_000_000_000)
    if cutoff is not None:
        h.setOptionValue("objective_bound", float(cutoff))
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    proven = status in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kInfeasible)
    found = (
        h.getInfo().primal_solution_status == 2 and status != highspy.HighsModelStatus.kInfeasible
    )
    chosen = np.asarray(h.getSolution().col_value) > 0.5 if found else None
    if chosen is not None and misses_cutoff(cost, chosen, cutoff):
        chosen = None  # nothing better than the cut-off was found
    return AssignMip(chosen, proven, time.perf_counter() - began)


def misses_cutoff(cost: FloatArray, chosen: npt.NDArray[np.bool_], cutoff: float | None) -> bool:
    """Whether the chosen columns (bool (columns,)) cost at least ``cutoff``: HiGHS 1.16 may
    end "optimal" on such a solution when ``objective_bound`` is set (seen on a sub-GAP of
    Yagiura's d40400 cut off at 24,460.5: optimal at 24,569, the incumbent 24,461 feasible)."""
    return cutoff is not None and float(np.asarray(cost, float) @ chosen) >= cutoff


def assign_lp_prices(
    agent: IntArray,
    job: IntArray,
    cost: FloatArray,
    use: FloatArray,
    capacity: FloatArray,
    *,
    jobs: int,
    time_limit: float,
) -> FloatArray | None:
    """The LP relaxation's capacity prices (agents,): cost units per unit of capacity, >= 0.

    The same model as :func:`solve_assign_mip` with ``0 <= x <= 1``; the prices are the
    negated duals of the capacity rows, an optimal multiplier vector of the Lagrangian
    relaxation of the capacities (Ross & Soland 1975). None when the LP does not end optimal
    within ``time_limit`` seconds (one thread).
    """
    lp = _assign_lp(agent, job, cost, use, capacity, jobs)
    h = _one_thread(time_limit)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.maximum(0.0, -np.asarray(h.getSolution().row_dual)[jobs:])


def _one_thread(time_limit: float) -> highspy.Highs:
    """A quiet one-thread HiGHS with a time limit (seconds)."""
    h = new_highs(quiet=True)
    h.setOptionValue("output_flag", False)
    # through the same pool bookkeeping as every other solve: asking HiGHS for another thread
    # count than its process-wide pool's makes run() fail (seen after a 2-thread solve)
    use_threads(h, 1)
    h.setOptionValue("time_limit", max(0.0, float(time_limit)))
    return h


def _assign_lp(
    agent: IntArray,
    job: IntArray,
    cost: FloatArray,
    use: FloatArray,
    capacity: FloatArray,
    jobs: int,
) -> highspy.HighsLp:
    """The assignment LP in HiGHS's column-wise arrays: job rows ``== 1``, then capacity rows."""
    cols, agents = len(cost), len(capacity)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = cols, jobs + agents
    lp.col_cost_ = np.asarray(cost, float)
    lp.col_lower_, lp.col_upper_ = np.zeros(cols), np.ones(cols)
    lp.row_lower_ = np.concatenate([np.ones(jobs), np.full(agents, -highspy.kHighsInf)])
    lp.row_upper_ = np.concatenate([np.ones(jobs), np.asarray(capacity, float)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * cols + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = np.stack([job, jobs + agent], axis=1).ravel().astype(np.int32)
    lp.a_matrix_.value_ = np.stack([np.ones(cols), use], axis=1).ravel()
    return lp
