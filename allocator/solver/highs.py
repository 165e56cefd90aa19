"""HiGHS through highspy: whole matrices in one call, warm starts, bound and gap, LP sessions."""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import highspy
import numpy as np
import pulp

from allocator.io.settings import SolverSettings
from allocator.solver.deadline import OVERRUNS
from allocator.solver.report import SolveReport, Status, relative_gap, spent_report
from allocator.solver.trace import current_trace, solver_source

__all__ = [
    "ArrayColumns",
    "HighsLpSession",
    "highs_status",
    "new_highs",
    "read_report",
    "solve_highs",
    "trace_incumbents",
    "use_threads",
]

log = logging.getLogger("allocator")


def solve_highs(
    prob: pulp.LpProblem,
    settings: SolverSettings,
    warm_start: Mapping[str, float] | None,
    limit: float,
) -> SolveReport:
    variables = prob.variables()
    index = {v.name: i for i, v in enumerate(variables)}
    is_mip = any(v.cat == pulp.LpInteger for v in variables)
    h = new_highs(quiet=not settings.msg)
    h.setOptionValue("output_flag", bool(settings.msg))
    h.setOptionValue("time_limit", float(limit))
    h.setOptionValue("mip_rel_gap", float(settings.gap))
    use_threads(h, settings.threads or 0)
    h.passModel(_highs_lp(prob, variables, index))
    if warm_start and is_mip:
        sol = highspy.HighsSolution()
        sol.col_value = [float(warm_start.get(v.name, 0.0)) for v in variables]
        sol.value_valid = True
        h.setSolution(sol)
    if is_mip:
        trace_incumbents(h)
    h.run()
    report = read_report(h, is_mip=is_mip)
    duals: dict[str, float] = {}
    if report.has_solution:
        solution = h.getSolution()
        values = solution.col_value
        for v in variables:
            v.varValue = values[index[v.name]]
        if not is_mip and solution.dual_valid:
            # HiGHS reports d(objective)/d(rhs) in the model's own sense; no flip needed here
            rows = prob.constraints()
            duals = {c.name: float(d) for c, d in zip(rows, solution.row_dual, strict=True)}
            for c in rows:
                c.pi = duals[c.name]
    return replace(report, duals=duals)


def read_report(h: highspy.Highs, *, is_mip: bool) -> SolveReport:
    """The :class:`SolveReport` of the model ``h`` just ran (``seconds`` 0: the caller times).

    The objective is HiGHS's, in the model's sense; the bound is the MIP dual bound (None when
    not finite), or for an LP the objective when optimal. No duals: the caller reads them.
    """
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    status = highs_status(model_status, has_solution)
    objective = float(info.objective_function_value) if has_solution else None
    bound: float | None
    if is_mip:
        bound = float(info.mip_dual_bound)
        bound = bound if math.isfinite(bound) else None
    else:
        bound = objective if status == Status.OPTIMAL else None
    return SolveReport(
        status=status,
        solver="highs",
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        seconds=0.0,
        has_solution=has_solution,
        message=h.modelStatusToString(model_status),
    )


def trace_incumbents(h: highspy.Highs) -> None:
    """Note every improving MIP solution in the run's trace (nothing outside a trace).

    The trace and the label are read here, on the calling thread, and closed over: HiGHS may
    call back from one of its own threads, where the run's context is not set.
    """
    trace, label = current_trace(), solver_source("highs")
    if trace is None or label is None:
        return
    source, keep_bound = label

    def improving(event: highspy.HighsCallbackEvent) -> None:
        out = event.data_out
        bound = out.mip_dual_bound if keep_bound and math.isfinite(out.mip_dual_bound) else None
        trace.note(float(out.objective_function_value), bound, source)

    h.cbMipImprovingSolution.subscribe(improving)


@dataclass(frozen=True)
class ArrayColumns:
    """Columns of a linear program as arrays: costs, bounds and the column-wise (CSC) matrix."""

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.cost)


class HighsLpSession:
    """One HiGHS LP built from arrays and kept alive, so added columns re-solve warm.

    Rows are fixed at construction (bounds ``row_lower``/``row_upper``, names for the duals);
    :meth:`add_columns` appends columns (they enter non-basic at their lower bound, so the
    next :meth:`run` starts from the previous optimal basis). Minimisation only.
    """

    def __init__(
        self,
        row_lower: np.ndarray,
        row_upper: np.ndarray,
        row_names: list[str],
        settings: SolverSettings,
    ) -> None:
        self.row_names = row_names
        self.settings = settings
        self.columns = 0
        h = new_highs(quiet=not settings.msg)
        h.setOptionValue("output_flag", bool(settings.msg))
        use_threads(h, settings.threads or 0)
        inf = highspy.kHighsInf
        lower = np.where(np.isfinite(row_lower), row_lower, -inf).astype(float)
        upper = np.where(np.isfinite(row_upper), row_upper, inf).astype(float)
        h.addRows(len(lower), lower, upper, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), [])
        self.highs = h

    def add_columns(self, cols: ArrayColumns) -> None:
        """Append ``cols`` (row indices refer to the session's rows)."""
        inf = highspy.kHighsInf
        upper = np.where(np.isfinite(cols.upper), cols.upper, inf).astype(float)
        self.highs.addCols(
            len(cols),
            np.asarray(cols.cost, float),
            np.asarray(cols.lower, float),
            upper,
            len(cols.values),
            np.asarray(cols.starts[:-1], np.int32),
            np.asarray(cols.index, np.int32),
            np.asarray(cols.values, float),
        )
        self.columns += len(cols)

    def run(self, time_limit: float) -> tuple[SolveReport, np.ndarray, np.ndarray]:
        """Solve (warm when columns were added since the last run).

        Returns the report (duals by row name, d(objective)/d(rhs)), the column values and the
        row duals as arrays (empty when there is no solution).
        """
        if time_limit <= 0:
            return spent_report("highs"), np.zeros(0), np.zeros(0)
        began = time.monotonic()
        h = self.highs
        # HiGHS compares time_limit with its run time summed over every run() of this object,
        # so a kept session's later runs would get less than asked (none after a long first LP)
        h.setOptionValue("time_limit", float(time_limit) + float(h.getRunTime()))
        h.run()
        model_status = h.getModelStatus()
        info = h.getInfo()
        has_solution = info.primal_solution_status == 2
        status = highs_status(model_status, has_solution)
        values = row_dual = np.zeros(0)
        duals: dict[str, float] = {}
        if has_solution:
            solution = h.getSolution()
            values = np.asarray(solution.col_value, float)
            if solution.dual_valid:
                row_dual = np.asarray(solution.row_dual, float)
                duals = dict(zip(self.row_names, row_dual.tolist(), strict=True))
        objective = float(info.objective_function_value) if has_solution else None
        bound = objective if status == Status.OPTIMAL else None
        report = SolveReport(
            status=status,
            solver="highs",
            objective=objective,
            bound=bound,
            gap=relative_gap(objective, bound),
            seconds=time.monotonic() - began,
            has_solution=has_solution,
            duals=duals,
            message=h.modelStatusToString(model_status),
            time_limit=time_limit,
        )
        report = replace(report, overrun=OVERRUNS.record(time_limit, report.seconds))
        log.info("arc LP (%d columns): %s", self.columns, report.summary())
        return report, values, row_dual


_banner_done = False
_threads_in_use: int | None = None
_thread_state = threading.local()


def use_threads(h: highspy.Highs, threads: int) -> None:
    """Set HiGHS's thread count (0 = automatic).

    HiGHS sizes one global thread pool at the first solve of a process, and each thread that
    solves keeps its own view of it; a later solve that asks for another count than the pool's
    or than this thread's last one fails with status 'Not Set' unless the pool is reset first
    (seen when a sweep ran variants in threads and the main thread solved afterwards).
    """
    global _threads_in_use
    mine = getattr(_thread_state, "threads", None)
    if (_threads_in_use is not None and _threads_in_use != threads) or (
        mine is not None and mine != threads
    ):
        highspy.Highs.resetGlobalScheduler(True)
    _threads_in_use = _thread_state.threads = threads
    h.setOptionValue("threads", int(threads))


def new_highs(*, quiet: bool) -> highspy.Highs:
    """A Highs instance; the first one of a process prints a banner on fd 1 unless hushed."""
    global _banner_done
    if _banner_done or not quiet:
        _banner_done = True
        return highspy.Highs()
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _banner_done = True
    return h


def highs_status(model_status: highspy.HighsModelStatus, has_solution: bool) -> Status:
    ms = highspy.HighsModelStatus
    if model_status == ms.kOptimal:
        return Status.OPTIMAL
    if model_status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        return Status.INFEASIBLE
    if model_status == ms.kUnbounded:
        return Status.UNBOUNDED
    if model_status == ms.kTimeLimit:
        return Status.TIME_LIMIT
    if has_solution and model_status in (
        ms.kIterationLimit,
        ms.kInterrupt,
        ms.kObjectiveBound,
        ms.kObjectiveTarget,
        ms.kSolutionLimit,
    ):
        return Status.FEASIBLE
    return Status.ERROR


def _highs_lp(
    prob: pulp.LpProblem, variables: list[pulp.LpVariable], index: dict[str, int]
) -> highspy.HighsLp:
    """The whole program as one row-wise HighsLp (one call, not one call per row)."""
    inf = highspy.kHighsInf
    n = len(variables)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    cost = np.zeros(n)
    objective = prob.objective if prob.objective is not None else pulp.LpAffineExpression()
    for v, c in objective.items():
        cost[index[v.name]] = c
    lp.col_cost_ = cost
    lp.offset_ = float(objective.constant)
    lp.col_lower_ = np.array([-inf if v.lowBound is None else v.lowBound for v in variables], float)
    lp.col_upper_ = np.array([inf if v.upBound is None else v.upBound for v in variables], float)
    if prob.sense == pulp.LpMaximize:
        lp.sense_ = highspy.ObjSense.kMaximize
    starts, cols, vals, lower, upper = [0], [], [], [], []
    for c in prob.constraints():
        for v, a in c.items():
            if a != 0:
                cols.append(index[v.name])
                vals.append(a)
        starts.append(len(cols))
        rhs = -c.constant
        lower.append(rhs if c.sense in (pulp.LpConstraintGE, pulp.LpConstraintEQ) else -inf)
        upper.append(rhs if c.sense in (pulp.LpConstraintLE, pulp.LpConstraintEQ) else inf)
    lp.num_row_ = len(lower)
    lp.row_lower_ = np.array(lower, float)
    lp.row_upper_ = np.array(upper, float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = len(lower)
    lp.a_matrix_.start_ = np.array(starts, np.int32)
    lp.a_matrix_.index_ = np.array(cols, np.int32)
    lp.a_matrix_.value_ = np.array(vals, float)
    if any(v.cat == pulp.LpInteger for v in variables):
        kint, kcont = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
        lp.integrality_ = [kint if v.cat == pulp.LpInteger else kcont for v in variables]
    return lp
