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
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import highspy
import numpy as np
import pulp

from allocator.exceptions import SolverError
from allocator.settings import SolverSettings

__all__ = ["ArrayColumns", "HighsLpSession", "SolveReport", "Status", "solve"]

log = logging.getLogger("allocator")


class Status(StrEnum):
    """Outcome of a solve, the same for every backend."""

    OPTIMAL = "optimal"  # proven optimal within the configured gap
    FEASIBLE = "feasible"  # a solution, stopped by a limit other than time
    TIME_LIMIT = "time_limit"  # stopped at the time limit (see ``has_solution``)
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"


@dataclass(frozen=True)
class SolveReport:
    """What a solver run produced: status, objective, bound, gap, seconds, duals."""

    status: Status
    solver: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    has_solution: bool
    duals: Mapping[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def is_ok(self) -> bool:
        """True when there is a solution to read (optimal, or feasible within limits)."""
        return self.has_solution and self.status in (
            Status.OPTIMAL,
            Status.FEASIBLE,
            Status.TIME_LIMIT,
        )

    def summary(self) -> str:
        obj = "-" if self.objective is None else f"{self.objective:,.4f}"
        gap = "-" if self.gap is None else f"{100 * self.gap:.3f}%"
        return (
            f"{self.status.value} ({self.solver}): objective {obj}, gap {gap}, {self.seconds:.2f} s"
        )


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Relative gap |obj - bound| / max(1, |obj|), None when either is unknown."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(1.0, abs(objective))


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
        report = _solve_highs(prob, settings, warm_start, limit)
    else:
        report = _solve_cbc(prob, settings, warm_start, limit)
    seconds = time.perf_counter() - start
    report = SolveReport(**{**report.__dict__, "seconds": seconds})
    log.info("%s: %s", prob.name, report.summary())
    return report


# ---------------------------------------------------------------- HiGHS


def _solve_highs(
    prob: pulp.LpProblem,
    settings: SolverSettings,
    warm_start: Mapping[str, float] | None,
    limit: float,
) -> SolveReport:
    variables = prob.variables()
    index = {v.name: i for i, v in enumerate(variables)}
    is_mip = any(v.cat == pulp.LpInteger for v in variables)
    h = _new_highs(quiet=not settings.msg)
    h.setOptionValue("output_flag", bool(settings.msg))
    h.setOptionValue("time_limit", float(limit))
    h.setOptionValue("mip_rel_gap", float(settings.gap))
    _use_threads(h, settings.threads or 0)
    h.passModel(_highs_lp(prob, variables, index))
    if warm_start and is_mip:
        sol = highspy.HighsSolution()
        sol.col_value = [float(warm_start.get(v.name, 0.0)) for v in variables]
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    status = _highs_status(model_status, has_solution)
    solution = h.getSolution()
    duals: dict[str, float] = {}
    if has_solution:
        values = solution.col_value
        for v in variables:
            v.varValue = values[index[v.name]]
        if not is_mip and solution.dual_valid:
            # HiGHS reports d(objective)/d(rhs) in the model's own sense; no flip needed here
            rows = prob.constraints()
            duals = {c.name: float(d) for c, d in zip(rows, solution.row_dual, strict=True)}
            for c in rows:
                c.pi = duals[c.name]
    objective = info.objective_function_value if has_solution else None
    bound: float | None
    if is_mip:
        bound = info.mip_dual_bound
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
        duals=duals,
        message=h.modelStatusToString(model_status),
    )


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
        h = _new_highs(quiet=not settings.msg)
        h.setOptionValue("output_flag", bool(settings.msg))
        _use_threads(h, settings.threads or 0)
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
        began = time.perf_counter()
        h = self.highs
        h.setOptionValue("time_limit", float(max(time_limit, 0.1)))
        h.run()
        model_status = h.getModelStatus()
        info = h.getInfo()
        has_solution = info.primal_solution_status == 2
        status = _highs_status(model_status, has_solution)
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
            seconds=time.perf_counter() - began,
            has_solution=has_solution,
            duals=duals,
            message=h.modelStatusToString(model_status),
        )
        log.info("arc LP (%d columns): %s", self.columns, report.summary())
        return report, values, row_dual


_banner_done = False
_threads_in_use: int | None = None


def _use_threads(h: highspy.Highs, threads: int) -> None:
    """Set HiGHS's thread count (0 = automatic).

    HiGHS sizes one global thread pool at the first solve of a process; a later solve that
    asks for another count fails with status 'Not Set' unless the pool is reset first.
    """
    global _threads_in_use
    if _threads_in_use is not None and _threads_in_use != threads:
        highspy.Highs.resetGlobalScheduler(True)
    _threads_in_use = threads
    h.setOptionValue("threads", int(threads))


def _new_highs(*, quiet: bool) -> highspy.Highs:
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


def _highs_status(model_status: highspy.HighsModelStatus, has_solution: bool) -> Status:
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


# ---------------------------------------------------------------- CBC

_CBC_RESULT = re.compile(r"^Result - (.*)$", re.M)
_CBC_OBJ = re.compile(r"^Objective value:\s+(\S+)", re.M)
_CBC_BOUND = re.compile(r"^(?:Lower|Upper) bound:\s+(\S+)", re.M)


def _solve_cbc(
    prob: pulp.LpProblem,
    settings: SolverSettings,
    warm_start: Mapping[str, float] | None,
    limit: float,
) -> SolveReport:
    is_mip = any(v.cat == pulp.LpInteger for v in prob.variables())
    if warm_start:
        for v in prob.variables():
            v.setInitialValue(warm_start.get(v.name, 0.0))
    # own temporary folder: parallel solves must not share PuLP's file names
    with tempfile.TemporaryDirectory(prefix="allocator-cbc-") as tmp:
        log_path = Path(tmp) / "cbc.log"
        # CBC's threads option can hang: we never pass it
        with warnings.catch_warnings():
            # PuLP 3.3 deprecates its bundled CBC for 4.0; pyproject pins pulp < 4
            warnings.simplefilter("ignore", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(
                msg=False,
                timeLimit=limit,
                gapRel=settings.gap,
                warmStart=bool(warm_start),
                logPath=str(log_path),
            )
        solver.tmpDir = tmp
        try:
            prob.solve(solver)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"CBC failed to run: {exc}") from None
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return _cbc_report(prob, text, is_mip)


def _cbc_report(prob: pulp.LpProblem, text: str, is_mip: bool) -> SolveReport:
    result = (_CBC_RESULT.findall(text) or [""])[-1]
    sol = prob.sol_status
    has_solution = sol in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if sol == pulp.LpSolutionInfeasible or "infeasible" in result.lower():
        status, has_solution = Status.INFEASIBLE, False
    elif sol == pulp.LpSolutionUnbounded or "unbounded" in result.lower():
        status = Status.UNBOUNDED
    elif "time limit" in result.lower():
        status = Status.TIME_LIMIT
    elif sol == pulp.LpSolutionOptimal:
        status = Status.OPTIMAL
    elif has_solution:
        status = Status.FEASIBLE
    else:
        status = Status.ERROR
    objective = pulp.value(prob.objective) if has_solution else None
    if objective is not None:
        objective = float(objective)
    bound: float | None
    if not is_mip:
        bound = objective if status == Status.OPTIMAL else None
    elif status == Status.OPTIMAL:
        bound = _parse_float(_CBC_BOUND.findall(text)) or objective
    else:
        bound = _parse_float(_CBC_BOUND.findall(text))
    duals: dict[str, float] = {}
    if has_solution and not is_mip:
        # CBC's duals through PuLP are already d(objective)/d(rhs) in the problem's sense
        # (PuLP's own HiGHS class is the one that flips them on maximisation; we bypass it)
        duals = {c.name: float(c.pi or 0.0) + 0.0 for c in prob.constraints()}
    return SolveReport(
        status=status,
        solver="cbc",
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        seconds=0.0,
        has_solution=has_solution,
        duals=duals,
        message=result,
    )


def _parse_float(found: list[str]) -> float | None:
    for text in reversed(found):
        try:
            return float(text)
        except ValueError:
            continue
    return None
