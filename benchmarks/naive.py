"""The naive dense PuLP formulation of an arc problem: every eligible pair, no pruning.

This is how the model is usually written by hand (``LpVariable`` per pair, ``lpSum`` per row)
and solved with PuLP's own ``pulp.HiGHS`` class. It is the "before" of the side-by-side
benchmark; it shares the :class:`~allocator.territory.core.ArcProblem` data with our model, so the
two solve the same problem.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pulp

from allocator.territory.core import ArcProblem

__all__ = ["DenseRun", "solve_naive"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DenseRun:
    """What a dense run produced: rep per item (-1 when none), objective, bound, timings.

    ``trace`` holds (seconds since building began, objective) of each incumbent the solver
    reported, in the model's sense.
    """

    assign: IntArray
    objective: float | None
    bound: float | None
    status: str
    build_seconds: float
    solve_seconds: float
    variables: int
    trace: tuple[tuple[float, float], ...] = ()


def _sense(sense: str) -> int:
    return {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}[sense]


def build_naive(
    problem: ArcProblem,
) -> tuple[pulp.LpProblem, dict[tuple[int, int], pulp.LpVariable]]:
    """The dense PuLP model written the textbook way."""
    n, m = problem.shape
    cost = problem.cost
    pairs = [(i, r) for i in range(n) for r in range(m) if problem.eligible[i, r]]
    x = pulp.LpVariable.dicts("x", pairs, cat=pulp.LpBinary)
    prob = pulp.LpProblem("naive", pulp.LpMinimize)
    objective = [cost[i, r] * x[i, r] for i, r in pairs]
    by_item: dict[int, list[pulp.LpVariable]] = {}
    by_rep: dict[int, list[tuple[int, int]]] = {}
    for i, r in pairs:
        by_item.setdefault(i, []).append(x[i, r])
        by_rep.setdefault(r, []).append((i, r))
    for i, xs in by_item.items():
        prob += pulp.lpSum(xs) == 1, f"assign_once_{i}"
    for family in problem.families:
        coef = np.broadcast_to(family.coef, (n, m))
        for j in range(len(family.rhs)):
            members = by_rep.get(j, []) if family.axis == "rep" else pairs
            if family.axis == "item":
                members = [(i, r) for i, r in pairs if i == j]
            expr = pulp.lpSum(coef[i, r] * x[i, r] for i, r in members if coef[i, r])
            if family.deviation is not None:
                up = pulp.LpVariable(f"dp_{family.key}_{j}", 0)
                down = pulp.LpVariable(f"dm_{family.key}_{j}", 0)
                expr = expr - up + down
                weight = float(family.deviation[j]) * problem.balance_weight
                objective += [weight * up, weight * down]
            prob += pulp.LpConstraint(
                expr, _sense(family.sense), f"{family.key}_{j}", float(family.rhs[j])
            )
    prob += pulp.lpSum(objective)
    return prob, x


def solve_naive(problem: ArcProblem, *, time_limit: float, gap: float, threads: int) -> DenseRun:
    """Build the dense model and solve it with ``pulp.HiGHS`` in what is left of ``time_limit``.

    PuLP passes no incumbent callback: the trace is the final answer only.
    """
    began = time.perf_counter()
    prob, x = build_naive(problem)
    built = time.perf_counter()
    left = max(time_limit - (built - began), 1.0)
    solver = pulp.HiGHS(msg=False, timeLimit=left, gapRel=gap, threads=threads)
    prob.solve(solver)
    solved = time.perf_counter()
    n, _ = problem.shape
    assign = np.full(n, -1, np.int64)
    for (i, r), var in x.items():
        if (var.varValue or 0.0) > 0.5:
            assign[i] = r
    has = bool((assign >= 0).all())
    objective = pulp.value(prob.objective) if has else None
    return DenseRun(
        assign=assign,
        objective=None if objective is None else float(objective),
        bound=None,
        status=pulp.LpSolution[prob.sol_status],  # LpStatus says Optimal at a time limit
        build_seconds=built - began,
        solve_seconds=solved - built,
        variables=len(x),
        trace=() if objective is None else ((solved - began, float(objective)),),
    )
