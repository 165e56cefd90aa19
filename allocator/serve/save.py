"""Save the edited plan into a NEW plan folder, in exactly the format ``allocator solve`` writes.

:func:`save_edited` refuses any folder that exists and is not empty, and any folder inside the
folder the plan was opened on: nothing a user made is overwritten. It writes ``overrides.csv``
first (the planner's edits: account_id, rep_id, locked, who, why), then the whole plan through
:func:`allocator.report.output.write_plan`: assignments, owners, reps, constraints, the quotas
allocated again by the quota LP for the edited territory, the report, ``metrics.json`` and the
``manifest.json`` that lists every file with its SHA-256 (``overrides.csv`` among the inputs of
the saved scenario, which names it under ``assignment.overrides``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.exceptions import ScenarioError
from allocator.geography.distance import haversine_km
from allocator.io.files import atomic_write
from allocator.io.folder import claim
from allocator.io.overrides import OVERRIDE_COLUMNS
from allocator.io.settings import QuotaSettings
from allocator.plan import Plan
from allocator.quota.allocate import allocate_quotas
from allocator.quota.target import set_target
from allocator.report.output import input_paths, plan_owner, write_plan
from allocator.serve.recompute import Context, Evaluation
from allocator.serve.session import Session, State
from allocator.serve.source import Opened
from allocator.solver.report import SolveReport, Status
from allocator.territory.result import ASSIGNMENT_COLUMNS, REP_COLUMNS, AssignmentResult

__all__ = ["Saved", "edited_plan", "overrides_frame", "save_edited"]

log = logging.getLogger("allocator")


@dataclass(frozen=True)
class Saved:
    """Where the plan went and what was written."""

    folder: Path
    files: tuple[Path, ...]
    overrides: int


def check_target(folder: Path, opened: Opened) -> Path:
    """``folder`` resolved, when it is new (or empty) and outside the opened plan folder.

    Raises
    ------
    ScenarioError
        When the folder holds anything, or is (inside) the folder the plan was opened on.
    """
    folder = folder.expanduser().resolve()
    if opened.folder is not None and (folder == opened.folder or opened.folder in folder.parents):
        raise ScenarioError(
            f"{folder}: is the plan folder this page was opened on (or inside it); the server "
            "never writes there: choose a new folder"
        )
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ScenarioError(f"{folder}: already exists and is not empty: choose a new folder")
    return folder


def overrides_frame(session: Session, state: State) -> pd.DataFrame:
    """``overrides.csv``: one row per edited account (moved, locked or unlocked)."""
    ids = session.edited(state)
    locked = session.locked(state)
    notes = state.notes
    return pd.DataFrame(
        {
            "account_id": ids,
            "rep_id": state.owners.reindex(ids).to_numpy(),
            "locked": [a in locked for a in ids],
            "who": [notes[a].who if a in notes else "" for a in ids],
            "why": [notes[a].why if a in notes else "" for a in ids],
        },
        columns=OVERRIDE_COLUMNS,
    )


def save_edited(
    folder: str | Path,
    opened: Opened,
    ctx: Context,
    session: Session,
    evaluation: Evaluation,
) -> Saved:
    """Write the session's current plan into the new ``folder`` (quotas allocated again).

    Raises
    ------
    ScenarioError
        The folder is not new (:func:`check_target`).
    InfeasibleError
        The quota LP has no solution for the edited territory (the message says why).
    """
    target = check_target(Path(folder), opened)
    state = session.state
    overrides = overrides_frame(session, state)
    shown = overrides.assign(locked=overrides["locked"].map({True: "true", False: "false"}))
    path = target / "overrides.csv"

    def write(p: Path) -> None:
        shown.to_csv(p, index=False, lineterminator="\n")

    plan = edited_plan(opened, ctx, session, evaluation, overrides_path=path)
    # the folder is checked, locked and written like any plan folder (allocator.io.folder)
    with claim(target, plan_owner(plan), inputs=input_paths(plan.scenario)) as claimed:
        try:
            atomic_write(path, write)  # in place first: the manifest hashes it as an input
            claimed.write(path.name, write)  # and lists it among the plan's files
            files = write_plan(plan, claimed)
        except BaseException:
            path.unlink(missing_ok=True)  # leave no half plan behind
            raise
    log.info("saved the edited plan to %s", target)
    return Saved(target, (path, *files), len(overrides))


def edited_plan(
    opened: Opened,
    ctx: Context,
    session: Session,
    evaluation: Evaluation,
    *,
    overrides_path: Path | None = None,
    quotas: bool = True,
) -> Plan:
    """The session's current plan as a :class:`~allocator.plan.Plan` (quotas allocated again)."""
    state = session.state
    scenario = opened.scenario
    tables = opened.tables
    if overrides_path is not None:
        scenario = scenario.replace(
            {"name": f"{scenario.name}-edited", "assignment.overrides": str(overrides_path)},
            source="allocator serve",
        )
        tables = tables.replace(sources={**tables.sources, "overrides": str(overrides_path)})
    owners = state.owners.rename("rep_id")
    assignment = _assignment(opened, ctx, session, state, evaluation)
    target = quota = None
    if quotas and scenario.target is not None:
        target = set_target(tables, scenario.target, scenario.solver)
        settings = scenario.quota or QuotaSettings()
        if settings.enabled:
            quota = allocate_quotas(
                tables, owners, target, settings, scenario.solver, scenario.staffing
            )
    return Plan(scenario, tables, owners, assignment, target, quota, 0.0)


def _assignment(
    opened: Opened, ctx: Context, session: Session, state: State, evaluation: Evaluation
) -> AssignmentResult:
    acc = ctx.accounts
    owner = state.owners.reindex(acc.index)
    home = ctx.reps.reindex(owner.to_numpy())
    km = haversine_km(acc["lat"], acc["lon"], home["lat"].to_numpy(), home["lon"].to_numpy())
    incumbent = acc["incumbent_rep_id"]
    edited = set(session.edited(state))
    reasons = [_reason(a, state, opened, edited, session.locked(state)) for a in acc.index]
    table = pd.DataFrame(
        {
            "account_id": acc.index.to_numpy(str),
            "rep_id": owner.to_numpy(str),
            "incumbent_rep_id": incumbent.to_numpy(str),
            "moved": ((incumbent != "") & (incumbent != owner)).to_numpy(bool),
            "travel_km": acc["visits"].to_numpy(float) * np.asarray(km, float),
            "workload": acc["workload"].to_numpy(float),
            "potential": acc["potential"].to_numpy(float),
            "reason": reasons,
        }
    )[ASSIGNMENT_COLUMNS].sort_values("account_id", kind="stable", ignore_index=True)
    reps = evaluation.reps.assign(fair_share=evaluation.reps["fair_potential"])[REP_COLUMNS]
    report = SolveReport(
        status=Status.FEASIBLE if not evaluation.violations else Status.ERROR,
        solver="edited in allocator serve",
        objective=evaluation.objective,
        bound=None,
        gap=None,
        seconds=0.0,
        has_solution=True,
        message=f"{len(edited)} account(s) edited by hand; {len(evaluation.violations)} "
        "hard-rule violation(s) accepted",
    )
    terms = {k: float(v) for k, v in evaluation.terms.items()}
    return AssignmentResult(
        assignments=table,
        reps=reps.reset_index(drop=True),
        report=report,
        terms={**terms, "penalty": 0.0},
        constraints=_constraints(evaluation, ctx),
        arcs=0,
        priced_arcs=0,
        rounds=0,
    )


def _reason(a: str, state: State, opened: Opened, edited: set[str], locked: frozenset[str]) -> str:
    if a in edited:
        note = state.notes.get(a)
        how = "locked by hand" if a in locked else "edited by hand"
        if note is not None and (note.who or note.why):
            return f"{how} ({note.who or 'planner'}: {note.why or 'no comment'})"
        return how
    return str(opened.reasons.get(a, "as in the opened plan"))


def _constraints(evaluation: Evaluation, ctx: Context) -> pd.DataFrame:
    """Capacity rows of the edited plan, named like the model's (value, limit, slack)."""
    rule = ctx.settings.constraints.capacity
    rows = []
    if rule is not None:
        reps = evaluation.reps
        for rep, capacity, load in zip(
            reps["rep_id"], reps["capacity"].astype(float), reps["load"].astype(float), strict=True
        ):
            limit = (1 + rule.tolerance) * capacity
            slack = limit - load
            rows.append(
                {
                    "name": f"capacity[{rep}]",
                    "family": "capacity",
                    "value": load,
                    "limit": limit,
                    "slack": slack,
                    "binding": bool(abs(slack) <= 1e-6 * max(1.0, limit)),
                }
            )
    return pd.DataFrame(rows, columns=["name", "family", "value", "limit", "slack", "binding"])
