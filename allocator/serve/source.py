"""What ``allocator serve`` opens: a plan folder written by ``allocator solve``, or a scenario.

:func:`open_source` reads a folder (``manifest.json`` for the scenario, ``assignments.csv`` for
the owners, ``reps.csv`` for the quotas) without writing anything into it, or solves a scenario
in memory. The result, an :class:`Opened`, is read-only for the rest of the session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocator.exceptions import InputError
from allocator.io.data import load_inputs
from allocator.io.files import read_output_csv, sha256
from allocator.io.folder import read_plan_manifest
from allocator.io.scenario import Scenario, load_scenario, scenario_from_dict
from allocator.io.tables import Tables
from allocator.plan import Plan, solve_scenario

__all__ = ["Opened", "open_source"]

log = logging.getLogger("allocator")


@dataclass(frozen=True)
class Opened:
    """A plan opened for review.

    ``owners``: account_id -> rep_id of every active account. ``rep_quota``: rep_id -> the
    plan's yearly quota (empty without quotas). ``reasons``: account_id -> the solve's reason.
    ``folder`` is the plan folder (None for a scenario solved in memory); ``plan`` the solved
    :class:`~allocator.plan.Plan` when there is one. ``warnings`` are shown in the page.
    """

    label: str
    scenario: Scenario
    tables: Tables
    owners: pd.Series
    rep_quota: pd.Series
    reasons: pd.Series
    folder: Path | None = None
    plan: Plan | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def open_source(source: str | Path, *, solver_threads: int | None = 1) -> Opened:
    """Open a plan folder (with ``manifest.json``) or solve a scenario file in memory.

    Raises
    ------
    InputError
        The folder is not a plan folder, or its assignments do not fit its inputs.
    ScenarioError, InfeasibleError
        From loading or solving a scenario.
    """
    path = Path(source)
    if path.is_dir():
        return _open_folder(path)
    if not path.exists():
        raise InputError([f"{path}: no such plan folder or scenario file"])
    scenario = load_scenario(path)
    if solver_threads is not None:
        scenario = scenario.replace({"solver.threads": solver_threads}, source=str(path))
    log.info("solving scenario '%s' (%s) to open it", scenario.name, path)
    plan = solve_scenario(scenario)
    return opened_plan(plan, label=f"{scenario.name} (solved from {path.name})")


def opened_plan(plan: Plan, *, label: str, folder: Path | None = None) -> Opened:
    """An :class:`Opened` of a solved plan held in memory."""
    reps = plan.reps_frame().set_index("rep_id")
    reasons = pd.Series(dtype=str)
    if plan.assignment is not None:
        reasons = plan.assignment.assignments.set_index("account_id")["reason"]
    quota = reps["quota"].astype(float) if plan.quotas is not None else pd.Series(dtype=float)
    return Opened(
        label, plan.scenario, plan.tables, plan.owners.astype(str), quota, reasons, folder, plan
    )


def _open_folder(folder: Path) -> Opened:
    manifest = read_plan_manifest(folder)
    block = manifest["scenario"]
    scenario = scenario_from_dict(block.get("settings") or {}, source=str(folder / "manifest.json"))
    tables = load_inputs(scenario)
    warnings = _changed_inputs(manifest, tables)
    assignments = read_output_csv(folder / "assignments.csv", ["account_id", "rep_id"])
    if assignments is None:
        raise InputError([f"{folder / 'assignments.csv'}: not found; the plan has no territory"])
    owners = assignments.set_index("account_id")["rep_id"]
    _check_owners(folder, tables, owners)
    reps = read_output_csv(folder / "reps.csv", ["rep_id"])
    quota = pd.Series(dtype=float)
    if reps is not None and "quota" in reps.columns:
        quota = pd.to_numeric(reps.set_index("rep_id")["quota"], errors="coerce").dropna()
    reasons = assignments.set_index("account_id").get("reason", pd.Series(dtype=str))
    active = tables.active_accounts["account_id"]
    return Opened(
        label=f"{scenario.name} ({folder.name})",
        scenario=scenario,
        tables=tables,
        owners=owners.reindex(active).rename("rep_id"),
        rep_quota=quota,
        reasons=reasons,
        folder=folder.resolve(),
        warnings=tuple(warnings),
    )


def _changed_inputs(manifest: dict[str, object], tables: Tables) -> list[str]:
    inputs = manifest.get("inputs")
    out = []
    for name, entry in inputs.items() if isinstance(inputs, dict) else []:
        if not isinstance(entry, dict) or not entry.get("path"):
            continue
        path = Path(str(entry["path"]))
        if not path.exists():
            out.append(f"input {name} ({path}) is gone since the plan was solved")
        elif entry.get("sha256") and sha256(path) != entry["sha256"]:
            out.append(f"input {name} ({path}) changed since the plan was solved")
    return out


def _check_owners(folder: Path, tables: Tables, owners: pd.Series) -> None:
    where = folder / "assignments.csv"
    active = set(tables.active_accounts["account_id"])
    reps = set(tables.active_reps["rep_id"])
    missing = sorted(active - set(owners.index))
    unknown_reps = sorted(set(owners[owners.index.isin(active)]) - reps)
    problems = []
    if missing:
        problems.append(f"{where}: {len(missing)} active account(s) have no row: {missing[:5]}")
    if unknown_reps:
        problems.append(f"{where}: rep(s) {unknown_reps[:5]} are not active reps of the inputs")
    if owners.index.duplicated().any():
        problems.append(
            f"{where}: account(s) listed twice: {list(owners.index[owners.index.duplicated()][:5])}"
        )
    if problems:
        raise InputError([*problems, "the plan was solved from other inputs: solve it again"])
