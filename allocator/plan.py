"""The whole job as one short pipeline: scenario -> tables -> territory -> target -> quotas -> Plan.

:func:`solve_scenario` is what ``allocator solve`` and a notebook call. Each stage is a pure
function of the tables and its settings block; the :class:`Plan` only gathers their results.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from allocator.exceptions import AllocatorError, NoSolutionInTimeError, ScenarioError
from allocator.io.data import load_inputs
from allocator.io.scenario import Scenario
from allocator.io.settings import QuotaSettings, SolverSettings, TargetSettings
from allocator.io.staffing import territory_view
from allocator.io.tables import Tables
from allocator.quota.allocate import QuotaResult, allocate_quotas
from allocator.quota.phasing import month_periods
from allocator.quota.target import TargetResult, set_target
from allocator.solver.deadline import (
    OVERRUNS,
    current_deadline,
    deadline_after,
    run_deadline,
    time_left,
)
from allocator.solver.trace import run_trace
from allocator.territory.assignment import AssignmentResult, solve_assignment

__all__ = [
    "Plan",
    "StageFailure",
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
class StageFailure:
    """A stage after the territory that failed: ``stage`` (``target`` or ``quota``) and why."""

    stage: str
    error: AllocatorError

    def summary(self) -> str:
        return f"the {self.stage} stage failed: {self.error}"


@dataclass(frozen=True)
class Plan:
    """A solved scenario: the territory, the target and the quotas, with their solve reports.

    ``failed`` is set when the territory solved but a later stage did not: the plan then holds
    the territory (and the target when it was set) and no quotas (``models/quota.md``).
    ``trace`` is the run's solution trace (:mod:`allocator.solver.trace`): one dict per
    incumbent (``seconds`` since the run began, ``objective``, ``bound``, ``source``).
    """

    scenario: Scenario
    tables: Tables
    owners: pd.Series
    assignment: AssignmentResult | None
    target: TargetResult | None
    quotas: QuotaResult | None
    seconds: float
    failed: StageFailure | None = None
    trace: tuple[dict[str, Any], ...] = ()

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
        out["time_budget"] = time_budget(self)
        out["trace"] = list(self.trace)
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
        if self.failed is not None:
            out["failed_stage"] = self.failed.stage
            out["failure"] = str(self.failed.error)
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
        if self.failed is not None:
            lines.append(f"{self.failed.summary()}; the territory is complete")
        return "\n".join(lines)


#: Share of the run's time budget kept back from the territory for the target and quota LPs.
LATER_STAGES_SHARE = 0.15


def _within_budget(solve: Callable[..., Plan]) -> Callable[..., Plan]:
    """Run ``solve`` under one deadline: ``solver.time_limit`` bounds the whole run.

    Every stage draws from it (:func:`allocator.solver.deadline.run_deadline`); a run inside
    another (a sweep variant, a notebook cell with its own deadline) keeps the earlier deadline.
    Every incumbent found on the way goes to the plan's ``trace``
    (:func:`allocator.solver.trace.run_trace`; a run inside another trace shares its points).
    """

    @functools.wraps(solve)
    def run(scenario: Scenario, **kwargs: Any) -> Plan:
        limit = (kwargs.get("solver") or scenario.solver).time_limit
        with run_deadline(deadline_after(limit)), run_trace() as trace:
            try:
                plan = solve(scenario, **kwargs)
            except NoSolutionInTimeError as exc:
                if isinstance(exc.plan, Plan):
                    exc.plan = replace(exc.plan, trace=tuple(trace.as_list()))
                raise
        return replace(plan, trace=tuple(trace.as_list()))

    return run


def territory_deadline(scenario: Scenario) -> float | None:
    """The territory's share of the run's deadline: all of it, less ``LATER_STAGES_SHARE`` of
    what is left when a target (and quotas) follow, so they are not starved."""
    deadline = current_deadline()
    if deadline is None or scenario.target is None:
        return deadline
    return deadline - LATER_STAGES_SHARE * time_left(deadline)


def time_budget(plan: Plan) -> dict[str, Any]:
    """``metrics.json``'s ``time_budget``: the limit, the seconds used and by how much the run
    and the solver calls of this process went past their limits."""
    limit = plan.scenario.solver.time_limit
    return {
        "limit_s": limit,
        "used_s": round(plan.seconds, 3),
        "over_s": round(max(0.0, plan.seconds - limit), 3),
        "solver_calls_in_process": OVERRUNS.snapshot(),
    }


@_within_budget
def solve_scenario(
    scenario: Scenario, *, tables: Tables | None = None, solver: SolverSettings | None = None
) -> Plan:
    """Solve every stage the scenario turns on and return the :class:`Plan`.

    Raises
    ------
    InputError, ScenarioError
        Bad tables or settings.
    InfeasibleError
        A model has no feasible solution; the error carries the diagnosis. When the territory
        solved and a later stage fails, the plan is returned with ``failed`` set instead.
    NoSolutionInTimeError
        Time ran out before a territory met every hard rule; ``plan`` holds the best one
        (status ``time_limit_infeasible``, no quotas: a plan comes only out of a territory
        that solved).
    """
    start = time.perf_counter()
    quota_settings = scenario.quota or QuotaSettings()
    if scenario.target is None and scenario.quota is not None and scenario.quota.enabled:
        raise ScenarioError("quota: needs a target: block (plan, amount or history weights)")
    tables = load_inputs(scenario) if tables is None else tables
    solver = solver or scenario.solver
    assignment = None
    if scenario.assignment.enabled:
        log.info("assignment: %s", tables.summary())
        try:
            assignment = solve_assignment(
                territory_tables(scenario, tables),
                scenario.assignment,
                solver,
                deadline=territory_deadline(scenario),
            )
        except NoSolutionInTimeError as exc:  # the best plan found is still written, marked
            best = exc.result
            if isinstance(best, AssignmentResult):
                owners = best.assignments.set_index("account_id")["rep_id"]
                exc.plan = Plan(scenario, tables, owners, best, None, None, _since(start))
            raise
        owners = assignment.assignments.set_index("account_id")["rep_id"]
    else:
        owners = owners_from_incumbents(tables)
    target = quotas = failed = None
    stage = "target"
    try:
        if scenario.target is not None:
            target = set_target(tables, scenario.target, solver)
            stage = "quota"
            if quota_settings.enabled:
                quotas = allocate_quotas(
                    tables, owners, target, quota_settings, solver, scenario.staffing
                )
    except AllocatorError as exc:
        if assignment is None:
            raise  # no territory was solved: nothing to keep
        log.warning("the %s stage failed; the plan keeps the territory that solved", stage)
        failed = StageFailure(stage, exc)
    return Plan(scenario, tables, owners, assignment, target, quotas, _since(start), failed)


def _since(start: float) -> float:
    return time.perf_counter() - start


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
