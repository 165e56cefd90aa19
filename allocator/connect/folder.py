"""A solved plan read back from its output folder, for the connectors, and fresh folders.

:func:`read_plan_folder` rebuilds what the connectors need from a folder that ``allocator
solve`` wrote: the scenario (from ``manifest.json``), its input tables (read again from where
the manifest says), the owners (``assignments.csv``, else the incumbents), the rep totals
(``reps.csv``) and the quota tables. :func:`fresh_folder` picks an output folder that holds
nothing yet, so an export never overwrites an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import InputError
from allocator.io.data import load_inputs
from allocator.io.folder import read_plan_manifest
from allocator.io.scenario import Scenario, scenario_from_dict
from allocator.io.tables import Tables
from allocator.plan import owners_from_incumbents

__all__ = ["PlanFolder", "fresh_folder", "read_plan_folder"]

_IDS = {"rep_id": str, "account_id": str, "product_id": str, "period": str, "region_id": str}


@dataclass(frozen=True)
class PlanFolder:
    """A solved plan's folder: scenario, tables, owners and the output tables it holds.

    ``reps`` is ``reps.csv`` with rep names (and ``manager_id`` where the reps table has one)
    joined in; ``quotas`` (rep_id, product_id, period, base, target, stretch), ``rep_product``
    and ``expenses`` are ``None`` when the plan has none.
    """

    folder: Path
    manifest: dict[str, Any]
    scenario: Scenario
    tables: Tables
    owners: pd.Series
    reps: pd.DataFrame
    quotas: pd.DataFrame | None
    rep_product: pd.DataFrame | None
    expenses: pd.DataFrame | None


def _read(path: Path, required: list[str]) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path, dtype=_IDS, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as exc:
        raise InputError([f"{path}: cannot read it ({exc})"]) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError([f"{path}: missing column(s) {', '.join(missing)}"])
    return frame


def read_manifest(folder: Path) -> dict[str, Any]:
    """The folder's ``manifest.json``, with the scenario settings the plan was solved with.

    Raises
    ------
    InputError
        When the folder is missing or holds no readable manifest (as
        :func:`allocator.io.folder.read_plan_manifest`), or one without scenario settings.
    """
    data = read_plan_manifest(folder)
    if not isinstance(data["scenario"].get("settings"), dict):
        path = folder / "manifest.json"
        raise InputError([f"{path}: not an allocator manifest (no scenario settings)"])
    return data


def read_plan_folder(folder: str | Path, *, tables: Tables | None = None) -> PlanFolder:
    """Read a plan folder (see the module docstring); ``tables`` skips reading the inputs.

    Raises
    ------
    InputError
        A missing or unreadable file; inputs that changed so that the plan's accounts are no
        longer in them.
    ScenarioError
        The manifest's scenario no longer validates.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    scenario = scenario_from_dict(
        manifest["scenario"]["settings"], source=str(folder / "manifest.json")
    )
    tables = tables if tables is not None else load_inputs(scenario)
    assignments = _read(folder / "assignments.csv", ["account_id", "rep_id"])
    if assignments is not None:
        owners = assignments.set_index("account_id")["rep_id"]
    else:
        owners = owners_from_incumbents(tables)
    unknown = sorted(set(owners.index) - set(tables.accounts["account_id"]))
    if unknown:
        raise InputError(
            [
                f"{folder}: accounts {', '.join(unknown[:5])} of the plan are not in its "
                "inputs any more (solve again)"
            ]
        )
    reps = _read(folder / "reps.csv", ["rep_id", "accounts", "potential", "quota"])
    if reps is None:
        raise InputError(
            [f"{folder}: holds no reps.csv (expected a plan folder written by allocator solve)"]
        )
    extra = [
        c for c in ("name", "manager_id") if c in tables.reps.columns and c not in reps.columns
    ]
    reps = reps.merge(tables.reps[["rep_id", *extra]], on="rep_id", how="left")
    return PlanFolder(
        folder,
        manifest,
        scenario,
        tables,
        owners,
        reps,
        _read(
            folder / "quotas.csv", ["rep_id", "product_id", "period", "base", "target", "stretch"]
        ),
        _read(folder / "rep_product.csv", ["rep_id", "product_id", "quota"]),
        _read(folder / "expenses.csv", ["rep_id"]),
    )


def fresh_folder(base: Path) -> Path:
    """``base`` when it is absent or empty, else the first of ``base-2``, ``base-3`` ... that is."""
    candidate, n = base, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate
