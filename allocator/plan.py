"""The whole job as one short pipeline: scenario -> tables -> territory -> target -> quotas -> Plan.

:func:`solve_scenario` is what ``allocator solve`` and a notebook call. Each stage is a pure
function of the tables and its settings block; the :class:`Plan` only gathers their results.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from allocator.exceptions import ScenarioError
from allocator.io.data import load_inputs
from allocator.io.scenario import Scenario
from allocator.io.settings import QuotaSettings, SolverSettings, TargetSettings
from allocator.io.staffing import territory_view
from allocator.io.tables import Tables
from allocator.quota.allocate import QuotaResult, allocate_quotas
from allocator.quota.phasing import month_periods
from allocator.quota.target import TargetResult, set_target
from allocator.territory.assignment import AssignmentResult, solve_assignment

__all__ = [
    "Plan",
    "owners_from_incumbents",
    "solve_scenario",
    "territory_tables",
    "territory_totals",
]

log = logging.getLogger("allocator")

REP_COLUMNS = [
    "rep_id",
    "accounts",
    "potential",
    "workload",
    "capacity",
    "utilization",
    "quota",
    "travel_km",
]


@dataclass(frozen=True)
class Plan:
    """A solved scenario: the territory, the target and the quotas, with their solve reports."""

    scenario: Scenario
    tables: Tables
    owners: pd.Series
    assignment: AssignmentResult | None
    target: TargetResult | None
    quotas: QuotaResult | None
    seconds: float

    @property
    def status(self) -> str:
        if self.assignment is not None:
            return self.assignment.report.status.value
        if self.quotas is not None:
            return self.quotas.report.status.value
        return "optimal"

    def reps_frame(self) -> pd.DataFrame:
        """``reps.csv``: one row per active rep with territory totals and the yearly quota."""
        if self.assignment is not None:
            reps = self.assignment.reps.copy()
        else:
            reps = territory_totals(self.tables, self.owners)
        quota = pd.Series(0.0, index=reps["rep_id"])
        if self.quotas is not None:
            quota = self.quotas.rep_product.groupby("rep_id")["quota"].sum()
        reps["quota"] = reps["rep_id"].map(quota).fillna(0.0)
        return reps[REP_COLUMNS + [c for c in reps.columns if c not in REP_COLUMNS]]

    def metrics(self) -> dict[str, Any]:
        """The numbers of ``metrics.json``: status, objective, bound, gap, seconds per stage."""
        out: dict[str, Any] = {"status": self.status, "seconds": round(self.seconds, 3)}
        if self.assignment is not None:
            rep = self.assignment.report
            out.update(
                objective=rep.objective,
                bound=rep.bound,
                gap=rep.gap,
                solve_seconds=round(rep.seconds, 3),
                solver=rep.solver,
                objective_terms=dict(self.assignment.terms),
                arcs=self.assignment.arcs,
            )
        if self.target is not None:
            out["target_total"] = self.target.total
        if self.quotas is not None:
            q = self.quotas.report
            out["quota"] = {
                "status": q.status.value,
                "objective": q.objective,
                "seconds": q.seconds,
            }
        return out

    def summary(self) -> str:
        lines = [f"scenario {self.scenario.name}: {self.status} in {self.seconds:.1f} s"]
        for part in (self.assignment, self.quotas):
            if part is not None:
                lines.append(part.summary())
        if self.target is not None:
            lines.append(f"target: {self.target.total:,.0f}")
        return "\n".join(lines)


def solve_scenario(
    scenario: Scenario, *, tables: Tables | None = None, solver: SolverSettings | None = None
) -> Plan:
    """Solve every stage the scenario turns on and return the :class:`Plan`.

    Raises
    ------
    InputError, ScenarioError
        Bad tables or settings.
    InfeasibleError
        A model has no feasible solution; the error carries the diagnosis.
    """
    start = time.perf_counter()
    tables = load_inputs(scenario) if tables is None else tables
    solver = solver or scenario.solver
    assignment = None
    if scenario.assignment.enabled:
        log.info("assignment: %s", tables.summary())
        assignment = solve_assignment(
            territory_tables(scenario, tables), scenario.assignment, solver
        )
        owners = assignment.assignments.set_index("account_id")["rep_id"]
    else:
        owners = owners_from_incumbents(tables)
    target = quotas = None
    if scenario.target is not None:
        target = set_target(tables, scenario.target, solver)
        quota_settings = scenario.quota or QuotaSettings()
        if quota_settings.enabled:
            quotas = allocate_quotas(
                tables, owners, target, quota_settings, solver, scenario.staffing
            )
    elif scenario.quota is not None and scenario.quota.enabled:
        raise ScenarioError("quota: needs a target: block (plan, amount or history weights)")
    return Plan(scenario, tables, owners, assignment, target, quotas, time.perf_counter() - start)


def territory_tables(scenario: Scenario, tables: Tables) -> Tables:
    """The tables as the territory model reads them: each rep's capacity and ramp over the plan's
    months (start, end, ramp schedule, leaves; ``models/organisation.md``)."""
    target = scenario.target or TargetSettings()
    periods = month_periods(target.start, target.months)
    calendar = (scenario.quota or QuotaSettings()).calendar
    return territory_view(tables, periods, calendar, scenario.staffing)


def owners_from_incumbents(tables: Tables) -> pd.Series:
    """The territory given as input: each active account's ``incumbent_rep_id``."""
    accounts = tables.active_accounts
    missing = accounts.loc[accounts["incumbent_rep_id"] == "", "account_id"]
    if len(missing):
        shown = ", ".join(missing.head(5))
        raise ScenarioError(
            f"assignment.enabled: false needs an incumbent_rep_id for every active account; "
            f"{len(missing)} have none ({shown}{', ...' if len(missing) > 5 else ''})"
        )
    return accounts.set_index("account_id")["incumbent_rep_id"].rename("rep_id")


def territory_totals(tables: Tables, owners: pd.Series) -> pd.DataFrame:
    """Accounts, potential, workload, capacity and utilisation of every active rep."""
    acc = tables.accounts.set_index("account_id").loc[owners.index]
    grouped = acc.assign(rep_id=owners.to_numpy()).groupby("rep_id")
    reps = tables.active_reps.set_index("rep_id")
    out = pd.DataFrame(
        {
            "accounts": grouped.size(),
            "potential": grouped["potential"].sum(),
            "workload": grouped["workload"].sum(),
        }
    ).reindex(reps.index, fill_value=0)
    out["capacity"] = reps["capacity"]
    out["utilization"] = out["workload"] / out["capacity"]
    out["travel_km"] = float("nan")
    return out.reset_index()
