"""The expense LP: spread an expense budget over reps to maximise the expected margin.

Each rep's expected sales respond to their expense with diminishing returns (``quota x
(expense / reference) ** elasticity``, the reference being the rep's share of the budget by
quota); :func:`allocate_expenses` solves the piecewise-linear concave program of
``models/quota.md`` ("Expense budget") under the budget and each rep's (or region's) expense
ceiling, and rounds the result to whole currency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pulp

from allocator.exceptions import ScenarioError, SolverError
from allocator.io.settings import ExpenseSettings, SolverSettings
from allocator.io.tables import Tables
from allocator.quota.model import CONSTRAINT_COLUMNS, add_row, constraint_rows
from allocator.quota.phasing import round_to_total
from allocator.solver import solve

__all__ = ["allocate_expenses"]

#: breakpoints of the expense response, in multiples of the reference expense (models/quota.md)
EXPENSE_BREAKPOINTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)

_LE = pulp.LpConstraintLE


def allocate_expenses(
    tables: Tables,
    rep_product: pd.DataFrame,
    settings: ExpenseSettings,
    solver: SolverSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spread the expense budget over reps to maximise expected margin (models/quota.md).

    Returns
    -------
    tuple of pandas.DataFrame
        The expenses (rep_id, region_id, quota, margin, reference, ceiling, expense, ratio,
        expected_sales, expected_margin) and the LP's constraint rows (``CONSTRAINT_COLUMNS``).

    Raises
    ------
    ScenarioError
        ``region_max_ratio`` names an unknown region.
    """
    reps = _expense_reps(tables, rep_product, settings)
    live = reps[reps["quota"] > 0]
    total_quota = live["quota"].sum()
    if settings.budget <= 0 or total_quota <= 0:
        reps["expense"] = 0.0
        return _expense_frame(reps, settings), pd.DataFrame(columns=CONSTRAINT_COLUMNS)
    reps["reference"] = settings.budget * reps["quota"] / total_quota
    labels: dict[str, str] = {}
    prob, spend = _expense_lp(live.assign(reference=reps["reference"]), settings, labels)
    report = solve(prob, solver)
    if not report.is_ok:
        raise SolverError(f"expense LP ended {report.status.value}: {report.message}")
    raw = np.array([sum(x.varValue or 0.0 for x in spend.get(r, [])) for r in reps["rep_id"]])
    total = min(np.floor(settings.budget), np.rint(raw.sum()))
    reps["expense"] = round_to_total(np.maximum(raw, 0.0), total).astype(float)
    rows = constraint_rows(prob, labels, report.duals, "expense")
    return _expense_frame(reps, settings), rows


def _expense_reps(
    tables: Tables, rep_product: pd.DataFrame, settings: ExpenseSettings
) -> pd.DataFrame:
    """Per active rep: region, quota, quota-weighted margin and expense ceiling."""
    reps = tables.active_reps[["rep_id", "region_id"]].reset_index(drop=True)
    known = set(reps["region_id"])
    if tables.regions is not None:
        known |= set(tables.regions["region_id"])
    for key in settings.region_max_ratio:
        if key not in known:
            raise ScenarioError(f"quota.expense.region_max_ratio.{key}: unknown region")
    margin = pd.Series(1.0, index=rep_product["product_id"].unique())
    if tables.products is not None:
        margin = tables.products.set_index("product_id")["margin"].astype(float)
    value = rep_product["quota"] * rep_product["product_id"].map(margin).fillna(0.0)
    quota = rep_product.groupby("rep_id")["quota"].sum()
    reps["quota"] = reps["rep_id"].map(quota).fillna(0).astype("int64")
    weighted = reps["rep_id"].map(value.groupby(rep_product["rep_id"]).sum()).fillna(0.0)
    reps["margin"] = np.where(
        reps["quota"] > 0, weighted / reps["quota"].where(reps["quota"] > 0, 1), 0.0
    )
    ratio = reps["region_id"].map(lambda g: settings.region_max_ratio.get(g, settings.max_ratio))
    reps["ceiling"] = ratio.astype(float) * reps["quota"]
    reps["reference"] = 0.0
    return reps


def _expense_lp(
    live: pd.DataFrame, settings: ExpenseSettings, labels: dict[str, str]
) -> tuple[pulp.LpProblem, dict[str, list[pulp.LpVariable]]]:
    """Chords of the concave response between the breakpoints; one variable per segment."""
    grid = list(EXPENSE_BREAKPOINTS)
    reach = float((live["ceiling"] / live["reference"]).max())
    if reach > grid[-1]:
        grid.append(reach)
    t = np.array(grid)
    gain = np.diff(t**settings.elasticity)
    prob = pulp.LpProblem("expense", pulp.LpMaximize)
    spend: dict[str, list[pulp.LpVariable]] = {}
    objective = []
    columns = ["rep_id", "reference", "margin", "quota", "ceiling"]
    for j, (rep, reference, margin, quota, ceiling) in enumerate(live[columns].to_numpy()):
        lengths = float(reference) * np.diff(t)
        xs = [pulp.LpVariable(f"x_{j}_{k}", 0, float(length)) for k, length in enumerate(lengths)]
        slopes = float(margin) * float(quota) * gain / lengths
        objective += list(zip(xs, slopes.tolist(), strict=True))
        spend[str(rep)] = xs
        terms = [(x, 1.0) for x in xs]
        add_row(prob, labels, f"expense_ratio[{rep}]", terms, _LE, float(ceiling))
    everything = [(x, 1.0) for xs in spend.values() for x in xs]
    add_row(prob, labels, "expense_budget", everything, _LE, settings.budget)
    prob.setObjective(pulp.LpAffineExpression(objective))
    return prob, spend


def _expense_frame(reps: pd.DataFrame, settings: ExpenseSettings) -> pd.DataFrame:
    out = reps.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(out["quota"] > 0, out["expense"] / out["quota"], 0.0)
        level = np.where(out["reference"] > 0, out["expense"] / out["reference"], 0.0)
    out["expected_sales"] = out["quota"] * level**settings.elasticity
    out["expected_margin"] = out["margin"] * out["expected_sales"]
    columns = ["rep_id", "region_id", "quota", "margin", "reference", "ceiling", "expense", "ratio"]
    return out[[*columns, "expected_sales", "expected_margin"]]
