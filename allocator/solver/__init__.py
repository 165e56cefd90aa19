"""The solver layer: the one place that knows PuLP, HiGHS and CBC.

Formulations build a :class:`pulp.LpProblem` and call :func:`solve`. It returns a frozen
:class:`SolveReport` with our own :class:`Status`, the objective, the best bound, the relative
gap and the wall-clock seconds, and leaves the solution values on the problem's variables.

Why not simply ``prob.solve(pulp.HiGHS())``: PuLP's HiGHS class adds columns and rows one call at
a time (seconds at 500k variables), ignores warm starts, and hides bound and gap; PuLP's CBC class
calls a time-limited feasible run ``Optimal``. Here HiGHS gets the whole matrix in one
``passModel`` call, a warm start through ``setSolution``, and the bound from ``getInfo``; CBC's
bound and gap are read from its log, its status from ``sol_status``.

Duals are normalised: ``report.duals[name]`` is the change of the objective per unit increase of
the constraint's right-hand side, in the problem's own sense, whatever the backend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import pulp

from allocator.io.settings import SolverSettings
from allocator.solver.cbc import solve_cbc
from allocator.solver.highs import ArrayColumns, HighsLpSession, solve_highs
from allocator.solver.report import SolveReport, Status, relative_gap

__all__ = ["ArrayColumns", "HighsLpSession", "SolveReport", "Status", "relative_gap", "solve"]

log = logging.getLogger("allocator")


def solve(
    prob: pulp.LpProblem,
    settings: SolverSettings | None = None,
    *,
    warm_start: Mapping[str, float] | None = None,
    time_limit: float | None = None,
) -> SolveReport:
    """Solve ``prob`` with the backend in ``settings``; variable values are left on ``prob``.

    Parameters
    ----------
    prob
        The program; its variables get ``varValue`` set when a solution exists.
    settings
        Backend, time limit, relative MIP gap, threads; defaults when None.
    warm_start
        Variable name -> value of a feasible solution to start the MIP search from.
    time_limit
        Overrides ``settings.time_limit`` (used by callers that split a time budget).

    Raises
    ------
    SolverError
        When the backend cannot run at all.
    """
    settings = settings or SolverSettings()
    limit = settings.time_limit if time_limit is None else max(time_limit, 0.1)
    start = time.perf_counter()
    if settings.name == "highs":
        report = solve_highs(prob, settings, warm_start, limit)
    else:
        report = solve_cbc(prob, settings, warm_start, limit)
    seconds = time.perf_counter() - start
    report = SolveReport(**{**report.__dict__, "seconds": seconds})
    log.info("%s: %s", prob.name, report.summary())
    return report
