"""CBC through PuLP: status from sol_status, bound and gap read from the log."""

from __future__ import annotations

import logging
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import pulp

from allocator.exceptions import SolverError
from allocator.io.settings import SolverSettings
from allocator.solver.report import SolveReport, Status, relative_gap

__all__ = ["solve_cbc"]

log = logging.getLogger("allocator")


_CBC_RESULT = re.compile(r"^Result - (.*)$", re.M)
_CBC_OBJ = re.compile(r"^Objective value:\s+(\S+)", re.M)
_CBC_BOUND = re.compile(r"^(?:Lower|Upper) bound:\s+(\S+)", re.M)


def solve_cbc(
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
