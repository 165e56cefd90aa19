"""Lexicographic objectives: one goal at a time, each earlier goal held near its optimum.

Stage ``j`` solves the arc problem with goal ``j`` alone as the objective (weight 1, in its own
unit) and rows ``goal[k] <= (1 + tolerance) * z*_k`` for the earlier goals ``k``. Each stage is a
full :func:`~allocator.territory.solve_arcs.solve_arcs` run, so pricing and its exactness argument
hold
stage by stage; the previous stage's solution is feasible for the next one and is its warm start.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np

from allocator.exceptions import SolverError
from allocator.io.settings import ObjectiveWeights, SolverSettings
from allocator.solver.deadline import resolve_deadline, time_left
from allocator.solver.trace import traced_as
from allocator.territory.core import ArcProblem, RowFamily
from allocator.territory.solve_arcs import ArcSolution, CoreOptions, solve_arcs

__all__ = ["solve_lexicographic"]

log = logging.getLogger("allocator")


def solve_lexicographic(
    problem: ArcProblem,
    weights: ObjectiveWeights,
    options: CoreOptions,
    solver: SolverSettings,
    *,
    deadline: float | None = None,
) -> ArcSolution:
    """Optimise ``weights.order`` goal by goal; return the last stage's solution.

    ``problem`` must carry unweighted goals: ``terms`` travel and disruption with weight 1 and
    deviation rows with weight ``100 / fair share`` (``territory_problem`` does so in this mode).
    ``deadline`` (absolute ``time.monotonic()``; None: ``solver.time_limit`` from now) bounds all
    the stages together.

    Raises
    ------
    InfeasibleError, SolverError
        As :func:`~allocator.territory.solve_arcs.solve_arcs`, for any stage.
    """
    caps: dict[str, float] = {}
    solution: ArcSolution | None = None
    deadline = resolve_deadline(deadline, solver.time_limit)
    for k, goal in enumerate(weights.order):
        stage = _stage(problem, goal, caps)
        start = solution.assign if solution is not None else None
        # each stage gets an equal share of what is left; the last one gets all of it
        share = time_left(deadline) / (len(weights.order) - k)
        ends = min(deadline, time.monotonic() + share)
        # only the last stage's objective is the plan's: earlier stages stay out of the trace
        with traced_as("" if k == len(weights.order) - 1 else None):
            solution = solve_arcs(stage, options, solver, start=start, deadline=ends)
        value = solution.report.objective
        if value is None:
            raise SolverError(f"lexicographic stage {goal}: no objective value")
        caps[goal] = (
            value + weights.lexicographic_tolerance * abs(value) + 1e-7 * max(1.0, abs(value))
        )
        log.info("lexicographic stage %s: %.6g", goal, value)
    if solution is None:
        raise SolverError("objective.order is empty")
    return solution


def _stage(problem: ArcProblem, goal: str, caps: dict[str, float]) -> ArcProblem:
    """The problem of one stage: ``goal`` as objective, earlier goals capped."""
    terms = {goal: problem.terms[goal]} if goal in problem.terms else {}
    families = list(problem.families)
    for name, cap in caps.items():
        if name in problem.terms:
            rhs = np.array([cap])
            families.append(
                RowFamily(f"goal_{name}", "goal", "one", problem.terms[name], "<=", rhs, (name,))
            )
    return replace(
        problem,
        terms=terms or {"travel": np.zeros(problem.shape)},
        families=tuple(families),
        balance_weight=1.0 if goal == "balance" else 0.0,
        balance_cap=caps.get("balance"),
    )
