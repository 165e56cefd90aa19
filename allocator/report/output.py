"""Writing a plan to its output folder: staged files, a manifest that makes results traceable.

The folder is claimed, checked and locked by :mod:`allocator.io.folder` (ideally before the
solve: the CLI passes its :class:`~allocator.io.folder.Claim`); every file is staged under a
temporary name and all are put in place together with ``manifest.json`` last, so a failure
leaves the folder as it was. A folder that holds another scenario's results, hand edits or files
allocator did not write is not overwritten unless ``force`` is given.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.io.files import sha256
from allocator.io.folder import MANIFEST, Claim, Owner, claim
from allocator.io.scenario import Scenario
from allocator.plan import Plan
from allocator.report.rollup import rollup

__all__ = [
    "MANIFEST",
    "input_paths",
    "plan_owner",
    "plan_tables",
    "scenario_owner",
    "scenario_record",
    "write_plan",
]


def plan_tables(plan: Plan) -> dict[str, pd.DataFrame]:
    """Every output table of a plan by file stem, with stable column order."""
    out: dict[str, pd.DataFrame] = {}
    if plan.assignment is not None:
        out["assignments"] = plan.assignment.assignments
        out["constraints"] = plan.assignment.constraints
        out["owners"] = owners_frame(plan)
    out["reps"] = plan.reps_frame()
    hierarchy = rollup(plan)
    if hierarchy is not None:
        out["rollup"] = hierarchy
    if plan.target is not None:
        out["targets"] = plan.target.references
        out["targets_by_product"] = plan.target.by_product
        out["mix"] = plan.target.mix
    if plan.quotas is not None:
        q = plan.quotas
        out["quotas"] = q.quotas
        out["rep_product"] = q.rep_product
        out["quota_constraints"] = q.constraints
        granularity = plan.scenario.output.granularity
        if granularity in ("week", "day"):
            out["quotas_weekly"] = q.weeks
        if granularity == "day":
            out["quotas_daily"] = q.days
        if q.reconciliation is not None:
            out["reconciliation"] = q.reconciliation
        if q.expenses is not None:
            out["expenses"] = q.expenses
        if q.history is not None:
            out["quota_history"] = q.history
        for name, stem in (("relief", "relief"), ("overlays", "overlay_quotas")):
            extra = getattr(q, name, None)
            if extra is not None:
                out[stem] = extra
    return out


def owners_frame(plan: Plan) -> pd.DataFrame:
    """``owners.csv`` for a CRM: account_id, owner_rep_id, effective_date, previous_rep_id.

    The effective date is the first day of the target period (``target.start``), or today
    when the scenario sets no target.
    """
    assert plan.assignment is not None
    start = plan.scenario.target.start if plan.scenario.target else None
    effective = f"{start}-01" if start else datetime.now(UTC).date().isoformat()
    a = plan.assignment.assignments
    return pd.DataFrame(
        {
            "account_id": a["account_id"],
            "owner_rep_id": a["rep_id"],
            "effective_date": effective,
            "previous_rep_id": a["incumbent_rep_id"],
        }
    )


def write_plan(
    plan: Plan, outdir: str | Path | Claim, *, force: bool = False, report: bool = True
) -> list[Path]:
    """Write every table, the report, ``metrics.json`` and ``manifest.json`` into ``outdir``.

    ``outdir`` is a folder (checked, locked and written by :func:`allocator.io.folder.claim`)
    or a :class:`~allocator.io.folder.Claim` taken before solving. Files are staged and put in
    place together; the manifest comes last and lists every other file with its SHA-256.

    Raises
    ------
    OutputError
        ``outdir`` holds another scenario's results, edited files or files allocator did not
        write (without ``force``), is a file, or the OS refused (read-only, disk full): the
        folder then holds what it held before.
    """
    if not isinstance(outdir, Claim):
        with claim(outdir, plan_owner(plan), force=force, inputs=input_paths(plan.scenario)) as c:
            return write_plan(plan, c, report=report)
    folder = outdir
    written: list[Path] = []
    tables = plan_tables(plan)
    for stem, frame in tables.items():
        written += _write_frame(frame, folder, stem, plan.scenario.output.formats)
    if "xlsx" in plan.scenario.output.formats:
        written.append(_write_workbook(tables, folder))
    if report:
        from allocator.report.plan_report import (
            write_report,  # the report imports plotting: only on demand
        )

        written += write_report(plan, folder)
    written.append(folder.write_text("metrics.json", _json(plan_metrics_json(plan))))
    record = scenario_record(plan.scenario, plan.tables.sources, plan.tables.origins)
    record["status"] = plan.status
    if plan.failed is not None:
        record["failed_stage"] = plan.failed.stage
    return [*written, folder.commit(record)]


def plan_owner(plan: Plan) -> Owner:
    """The owner of a plan's folder: its scenario (by hash)."""
    return scenario_owner(plan.scenario)


def scenario_owner(scenario: Scenario) -> Owner:
    """The owner of the folder of ``scenario``'s result (a plan, or its diagnosis)."""
    return Owner("plan", scenario.hash(), scenario.name)


def input_paths(scenario: Scenario) -> list[Path]:
    """The scenario's input files: an output folder must never be their folder."""
    paths = [v for v in scenario.data.model_dump().values() if isinstance(v, str)]
    return [Path(p) for p in paths if "://" not in p]


def plan_metrics_json(plan: Plan) -> dict[str, Any]:
    """``metrics.json``: the solve numbers of :meth:`Plan.metrics` and the fairness metrics."""
    from allocator.report.metrics import plan_metrics

    return {**plan.metrics(), **plan_metrics(plan)}


def _write_frame(
    frame: pd.DataFrame, folder: Claim, stem: str, formats: tuple[str, ...]
) -> list[Path]:
    writers: dict[str, Callable[[Path], Any]] = {
        "csv": lambda p: frame.to_csv(p, index=False, encoding="utf-8", lineterminator="\n"),
        "parquet": lambda p: frame.to_parquet(p, index=False),
        "json": lambda p: frame.to_json(
            p, orient="records", indent=1, force_ascii=False, date_format="iso"
        ),
    }
    return [folder.write(f"{stem}.{fmt}", writers[fmt]) for fmt in formats if fmt in writers]


def _write_workbook(tables: Mapping[str, pd.DataFrame], folder: Claim) -> Path:
    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for stem, frame in tables.items():
                frame.to_excel(xl, sheet_name=stem[:31], index=False)

    return folder.write("plan.xlsx", write)


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=_jsonable, ensure_ascii=False) + "\n"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def scenario_record(
    scenario: Scenario,
    sources: Mapping[str, str],
    origins: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """The manifest's account of a result: scenario, input hashes (``origins``: the tables read
    from a database, by their URL without password and rows' hash), solver, versions."""
    versions: dict[str, str | None] = {}
    for dist in (
        "allocator",
        "pulp",
        "highspy",
        "pandas",
        "numpy",
        "networkx",
        "scipy",
        "pydantic",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    inputs: dict[str, Any] = {}
    for name, path in sources.items():
        if origins and name in origins:  # a database table: URL without password, rows' hash
            inputs[name] = dict(origins[name])
            continue
        try:
            inputs[name] = {"path": path, "sha256": sha256(Path(path))}
        except OSError:  # a file gone since it was read
            inputs[name] = {"path": path, "sha256": None}
    return {
        "scenario": {
            "name": scenario.name,
            "hash": scenario.hash(),
            "settings": scenario.model_dump(mode="json"),
        },
        "inputs": inputs,
        "solver": scenario.solver.model_dump(mode="json"),
        "versions": versions,
        "python": platform.python_version(),
    }
