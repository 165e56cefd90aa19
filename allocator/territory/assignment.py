"""Territory assignment: every active account to one active rep (``models/assignment.md``).

:func:`solve_assignment` reads as the method: build the account-level data, check that a plan
can exist (naming the numbers when not), build the arc problem, solve it with the shared core
(candidate arcs, pricing, warm start, MIP, contiguity cuts), turn the answer into tables, and
verify it with the independent checker before returning it.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import replace

from allocator.exceptions import (
    CheckError,
    InfeasibleError,
    NoSolutionInTimeError,
    TimeLimitWarning,
)
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.io.tables import Tables
from allocator.solver import SolveReport, Status
from allocator.solver.deadline import resolve_deadline
from allocator.solver.trace import note, traced_as
from allocator.territory.build import Territory, build_territory, territory_problem, within_km
from allocator.territory.check import check_assignment
from allocator.territory.core import ArcProblem, objective
from allocator.territory.diagnose import precheck, relaxations
from allocator.territory.lexicographic import solve_lexicographic
from allocator.territory.regions import analyse_regions
from allocator.territory.result import AssignmentResult, make_result
from allocator.territory.solve_arcs import ArcSolution, CoreOptions, solve_arcs
from allocator.territory.solve_contiguous import NoContiguousPlan, solve_contiguous

__all__ = ["AssignmentResult", "solve_assignment", "verify_assignment"]

log = logging.getLogger("allocator")


def solve_assignment(
    tables: Tables,
    settings: AssignmentSettings,
    solver: SolverSettings | None = None,
    *,
    deadline: float | None = None,
) -> AssignmentResult:
    """Assign every active account to one active rep, optimally under ``settings``.

    Parameters
    ----------
    tables
        The validated input tables (reps and accounts; regions and adjacency for contiguity).
    settings
        The scenario's ``assignment:`` block.
    solver
        Backend, time limit, gap and threads; defaults when None.
    deadline
        Absolute ``time.monotonic()`` by which the run must end (None: ``solver.time_limit``
        from now); contiguity honours it for the whole run.

    Raises
    ------
    InputError
        No active account or rep.
    ScenarioError
        Contiguity without an adjacency table.
    InfeasibleError
        No assignment satisfies every hard constraint; ``diagnosis`` says which and by how much.
    SolverError
        The solver failed or found nothing within the time limit.
    NoSolutionInTimeError
        Contiguity: time ran out before a plan met every hard rule; ``result`` is the best
        plan found (connected, marked ``time_limit_infeasible``, not verified).
    CheckError
        The independent checker rejected the solution (a bug: please report it).
    """
    solver = solver or SolverSettings()
    # the whole solve, data and pre-checks included, within solver.time_limit (or the run's)
    deadline = resolve_deadline(deadline, solver.time_limit)
    territory = build_territory(tables, settings)
    problem = territory_problem(tables, settings, territory)
    problem = replace(problem, relax=relaxations(settings, territory, problem))
    precheck(territory, settings, problem=problem, solver=solver, deadline=deadline)
    candidates = settings.constraints.candidates
    options = CoreOptions(
        nearest=candidates.nearest,
        price_out=candidates.price_out,
        within=within_km(territory, candidates.max_km),
    )
    if problem.contiguity is not None and settings.objective.mode != "lexicographic":
        solution = _solve_contiguous(tables, settings, solver, territory, problem, deadline)
    elif settings.objective.mode == "lexicographic":
        solution = solve_lexicographic(
            problem, settings.objective, options, solver, deadline=deadline
        )
    else:
        solution = solve_arcs(problem, options, solver, deadline=deadline)
    result = make_result(territory, problem, settings, solution)
    verify_assignment(tables, settings, result)
    if result.report.status is Status.TIME_LIMIT:
        warnings.warn(
            f"assignment stopped at the time limit ({solver.time_limit:g} s) with gap "
            f"{result.report.gap if result.report.gap is not None else float('nan'):.4%}",
            TimeLimitWarning,
            stacklevel=2,
        )
    log.info("%s", result.summary())
    return result


def _solve_contiguous(
    tables: Tables,
    settings: AssignmentSettings,
    solver: SolverSettings,
    territory: Territory,
    problem: ArcProblem,
    deadline: float | None,
) -> ArcSolution:
    """Contiguity's own method, after the graph analysis (which stops on what it proves); out
    of time, the best plan found travels with the error."""
    proofs = analyse_regions(tables, settings).infeasible
    if proofs:
        raise InfeasibleError(
            "assignment: no plan with connected territories exists; the region graph proves it "
            "before solving (more time would not help):",
            diagnosis=[f"{f.message}; fix: {f.fix}" if f.fix else f.message for f in proofs],
        )
    try:
        # its flow and group models are not the plan's objective: only the answer is traced
        with traced_as(None):
            solution = solve_contiguous(problem, solver, deadline=deadline)
        note(solution.report.objective, solution.report.bound, "contiguity")
        return solution
    except NoContiguousPlan as exc:
        value = objective(problem, exc.assign)
        report = SolveReport(
            status=Status.TIME_LIMIT_INFEASIBLE,
            solver=solver.name,
            objective=value,
            bound=None,
            gap=None,
            seconds=0.0,
            has_solution=True,
            message="best found, not within the rules: " + "; ".join(exc.why[:5]),
        )
        solution = ArcSolution(exc.assign, report, None, None, 0, 0, 0, False, ())
        result = make_result(territory, problem, settings, solution)
        raise NoSolutionInTimeError(str(exc), result=result) from None


def verify_assignment(
    tables: Tables, settings: AssignmentSettings, result: AssignmentResult
) -> None:
    """Run the independent checker on ``result``; compare its objective with the solver's.

    Raises
    ------
    CheckError
        On any violated rule, or when the objectives differ by more than 1e-6 (relative).
    """
    check = check_assignment(tables, settings, result.assignments[["account_id", "rep_id"]])
    if check.violations:
        shown = "\n  ".join(check.violations[:10])
        raise CheckError(f"the checker found {len(check.violations)} violation(s):\n  {shown}")
    solver_objective = result.report.objective
    if solver_objective is None or not math.isclose(
        check.objective, solver_objective, rel_tol=1e-6, abs_tol=1e-6
    ):
        raise CheckError(
            f"the checker's objective {check.objective!r} differs from the solver's "
            f"{solver_objective!r}"
        )
