"""What constrains a plan: the value of relaxing each constraint family, and the shadow prices.

The assignment is a MIP, so its rows have no duals of their own. :func:`assignment_relaxation`
solves the LP relaxation of the plan's territory model over every eligible arc (HiGHS, the
model's own arrays: :class:`allocator.territory.arc_lp.ArcLp`) and reads

- per family, the **value of relaxing it**: LP optimum with the family minus LP optimum without
  it (objective units; >= 0). The LP bounds the MIP from below, so the value measures how much the
  family holds the plan's cost up, not what a re-solve would save exactly;
- per row, the LP **shadow price** (d objective / d right-hand side, the same sign convention as
  the quota LP's duals: :mod:`allocator.solver`), e.g. what one more hour of capacity is worth;
- for the balance band, what one more percentage point of tolerance is worth (the duals of
  ``balance_lo``/``balance_hi`` times 1% of each rep's fair share).

Contiguity enters the MIP only through cuts, not the LP: its value comes from a re-solve of the
MIP without it (:func:`contiguity_value`) when time allows, else it is reported as not measured.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator.io.settings import SolverSettings
from allocator.territory.arc_lp import ArcLp
from allocator.territory.build import build_territory, territory_problem

if TYPE_CHECKING:
    from allocator.plan import Plan
    from allocator.territory.core import ArcProblem, RowFamily

__all__ = ["FAMILY_COLUMNS", "Relaxation", "assignment_relaxation", "contiguity_value"]

log = logging.getLogger("allocator")

FAMILY_COLUMNS = [
    "family",
    "rows",
    "binding",
    "value",
    "value_share",
    "top_row",
    "top_dual",
    "unit",
]
#: Seconds each LP may take, and the whole analysis when the caller gives no deadline.
LP_SECONDS = 30.0
RELAX_SECONDS = 90.0
#: Above this many eligible arcs the report does not solve the LP relaxation (not measured).
MAX_ARCS = 2_000_000


@dataclass(frozen=True)
class Relaxation:
    """The assignment's LP relaxation: its optimum, the value of each family, every row's dual.

    ``families``: family (document name), rows, binding (rows binding in the MIP plan), value
    (LP objective it costs; NaN when not measured), value_share (of the LP optimum), top_row and
    top_dual (the row with the largest shadow price), unit (of the right-hand side).
    ``duals``: name (document name), family, dual. ``tolerance_point``: objective change per
    +1 percentage point of balance tolerance (negative = it would save), None without balance.
    """

    objective: float | None
    families: pd.DataFrame
    duals: pd.DataFrame
    tolerance_point: float | None


def _solver(plan: Plan) -> SolverSettings:
    return plan.scenario.solver.model_copy(update={"threads": 1, "msg": False})


def _lp(
    problem: ArcProblem, solver: SolverSettings, deadline: float | None
) -> tuple[float | None, dict[str, float]]:
    """LP optimum over every eligible arc and its duals by PuLP-style row name."""
    limit = LP_SECONDS if deadline is None else min(LP_SECONDS, deadline - time.monotonic())
    if limit <= 0:
        return None, {}
    report, _ = ArcLp(problem, problem.all_arcs, solver, elastic=False).run(limit)
    if not report.is_ok or report.objective is None:
        return None, {}
    return float(report.objective), dict(report.duals)


def assignment_relaxation(plan: Plan, *, deadline: float | None = None) -> Relaxation | None:
    """The :class:`Relaxation` of the plan's territory model; None without an assignment, or
    when the LP cannot be solved in time (``deadline``: a ``time.monotonic()`` value)."""
    if plan.assignment is None:
        return None
    settings = plan.scenario.assignment
    territory = build_territory(plan.tables, settings)
    problem = territory_problem(plan.tables, settings, territory)
    if problem.n_arcs > MAX_ARCS:  # counted block by block on the sparse path
        log.info("report: %d arcs, the LP relaxation is not solved", problem.n_arcs)
        return None
    if deadline is None:
        deadline = time.monotonic() + RELAX_SECONDS
    solver = _solver(plan)
    base, duals = _lp(problem, solver, deadline)
    if base is None:
        return None
    rows = _dual_rows(problem, duals)
    binding = plan.assignment.constraints
    families = []
    for family in problem.families:
        if family.deviation is not None:
            continue
        without = dataclasses.replace(
            problem, families=tuple(f for f in problem.families if f.key != family.key)
        )
        other, _ = _lp(without, solver, deadline)
        families.append(_family_row(family, rows, binding, base, other))
    if problem.contiguity is not None:
        families.append(_contiguity_row(plan, binding, deadline))
    frame = pd.DataFrame(families, columns=FAMILY_COLUMNS)
    balance = settings.constraints.balance
    point = None if balance is None else _tolerance_point(problem, duals, balance.tolerance)
    return Relaxation(base, frame, rows, point)


def _dual_rows(problem: ArcProblem, duals: dict[str, float]) -> pd.DataFrame:
    records = [
        (family.doc_name(j), family.doc, float(duals.get(family.pulp_name(j), np.nan)), family.unit)
        for family in problem.families
        if family.deviation is None
        for j in range(len(family.rhs))
    ]
    return pd.DataFrame(records, columns=["name", "family", "dual", "unit"])


def _family_row(
    family: RowFamily, rows: pd.DataFrame, binding: pd.DataFrame, base: float, other: float | None
) -> list[object]:
    """One row of :attr:`Relaxation.families` (see there)."""
    names = {family.doc_name(j) for j in range(len(family.rhs))}
    mine = rows[rows["name"].isin(names)]
    top = mine.iloc[int(np.argmax(mine["dual"].abs().fillna(0.0)))] if len(mine) else None
    in_plan = binding.loc[binding["name"].isin(names), "binding"] if len(binding) else None
    value = np.nan if other is None else max(base - other, 0.0)
    return [
        *(family.doc, len(mine), 0 if in_plan is None else int(in_plan.sum()), value),
        value / abs(base) if base else np.nan,
        *((None, None) if top is None else (top["name"], float(top["dual"]))),
        family.unit,
    ]


def _contiguity_row(plan: Plan, binding: pd.DataFrame, deadline: float | None) -> list[object]:
    """The contiguity family: its value from a MIP re-solve without it (NaN when not measured),
    relative to the plan's objective."""
    cuts = binding[binding["family"] == "contiguity"] if len(binding) else binding
    value = contiguity_value(plan, deadline=deadline)
    value = None if value is None else max(value, 0.0)
    objective = plan.assignment.report.objective if plan.assignment is not None else None
    share = value / abs(objective) if value is not None and objective else np.nan
    n_binding = int(cuts["binding"].sum()) if len(cuts) else 0
    return [
        "contiguity",
        len(cuts),
        n_binding,
        np.nan if value is None else value,
        share,
        None,
        None,
        "regions",
    ]


def _tolerance_point(problem: ArcProblem, duals: dict[str, float], tol: float) -> float:
    """d objective for +1 percentage point of balance tolerance (both sides of the band).

    ``balance_hi[r] = fair_r (1 + tol)`` rises by ``fair_r / 100`` and ``balance_lo[r] =
    fair_r (1 - tol)`` falls by as much; the LP duals price those right-hand-side steps.
    """
    total = 0.0
    for family in problem.families:
        if family.doc not in ("balance_hi", "balance_lo"):
            continue
        pi = np.array([duals.get(family.pulp_name(j), 0.0) for j in range(len(family.rhs))])
        sign = 1.0 if family.doc == "balance_hi" else -1.0
        rhs = np.asarray(family.rhs, float)
        fair = rhs / (1.0 + sign * tol) if 1.0 + sign * tol > 0 else np.zeros_like(rhs)
        total += float(pi @ (sign * 0.01 * fair))
    return total


def contiguity_value(plan: Plan, *, deadline: float | None = None) -> float | None:
    """Objective saved by solving the territory again without contiguity (MIP re-solve), or None
    when contiguity is off, no time is left, or the re-solve fails."""
    settings = plan.scenario.assignment
    if plan.assignment is None or settings.constraints.contiguity is None:
        return None
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left < 5:
        return None
    from allocator.territory.assignment import solve_assignment

    loose = settings.model_copy(
        update={"constraints": settings.constraints.model_copy(update={"contiguity": None})}
    )
    solver = _solver(plan)
    if left is not None:
        solver = solver.model_copy(update={"time_limit": max(1.0, min(solver.time_limit, left))})
    try:
        free = solve_assignment(plan.tables, loose, solver)
    except Exception as exc:  # the analysis is optional: a failed re-solve is reported, not fatal
        log.info("contiguity value: the re-solve without contiguity failed (%s)", exc)
        return None
    objective = plan.assignment.report.objective
    if objective is None or free.report.objective is None:
        return None
    return float(objective - free.report.objective)
