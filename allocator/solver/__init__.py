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
from dataclasses import replace

import pulp

from allocator.io.settings import SolverSettings
from allocator.solver.cbc import solve_cbc
from allocator.solver.deadline import (
    OVERRUNS,
    call_limit,
    current_deadline,
    deadline_after,
    run_deadline,
    time_left,
)
from allocator.solver.highs import ArrayColumns, HighsLpSession, solve_highs
from allocator.solver.report import SolveReport, Status, relative_gap, spent_report
from allocator.solver.trace import current_trace, solver_source

__all__ = [
    "ArrayColumns",
    "HighsLpSession",
    "SolveReport",
    "Status",
    "call_limit",
    "current_deadline",
    "deadline_after",
    "relative_gap",
    "run_deadline",
    "solve",
    "spent_report",
    "time_left",
]

log = logging.getLogger("allocator")


#: Seconds an LP (target mix, quotas, expenses: small and needed for a plan) always gets, even
#: when the run's budget is spent; the run's overrun is reported in ``metrics.json``.
LP_FLOOR = 2.0


def _is_lp(prob: pulp.LpProblem) -> bool:
    return not any(v.cat == pulp.LpInteger for v in prob.variables())


def _trace_final(prob: pulp.LpProblem, report: SolveReport) -> None:
    """CBC has no incumbent callback through PuLP: note its final MIP solution in the trace."""
    label = solver_source(report.solver)
    trace = current_trace()
    if trace is None or label is None or not report.has_solution or _is_lp(prob):
        return
    trace.note(report.objective, report.bound if label[1] else None, label[0])


def solve(
    prob: pulp.LpProblem,
    settings: SolverSettings | None = None,
    *,
    warm_start: Mapping[str, float] | None = None,
    time_limit: float | None = None,
    deadline: float | None = None,
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
        Seconds for this call (callers that split a budget); at most what ``deadline`` leaves.
    deadline
        The run's deadline (absolute ``time.monotonic()``); the call gets what is left minus the
        measured safety margin (:func:`allocator.solver.deadline.call_limit`). None: the
        deadline of the run in progress (:func:`allocator.solver.deadline.run_deadline`);
        outside a run, without ``time_limit``, the call gets ``settings.time_limit``.

    Returns
    -------
    SolveReport
        With the limit given and the overrun measured. When the deadline has already passed a
        MIP is not solved (status ``time_limit``, no solution); an LP still gets
        :data:`LP_FLOOR` seconds, so a territory that solved always gets its quotas.

    Raises
    ------
    SolverError
        When the backend cannot run at all.
    """
    settings = settings or SolverSettings()
    deadline = current_deadline() if deadline is None else deadline
    if deadline is None and time_limit is None:
        time_limit = settings.time_limit
    limit = call_limit(deadline, cap=time_limit)
    if limit < LP_FLOOR and _is_lp(prob):
        limit = LP_FLOOR if time_limit is None else min(LP_FLOOR, max(time_limit, 0.1))
    if limit <= 0:
        log.info("%s: not solved, the run's time budget is spent", prob.name)
        return spent_report(settings.name)
    start = time.monotonic()
    if settings.name == "highs":
        report = solve_highs(prob, settings, warm_start, limit)
    else:
        report = solve_cbc(prob, settings, warm_start, limit)
        _trace_final(prob, report)
    seconds = time.monotonic() - start
    over = OVERRUNS.record(limit, seconds)
    report = replace(report, seconds=seconds, time_limit=limit, overrun=over)
    log.info("%s: %s", prob.name, report.summary())
    return report
