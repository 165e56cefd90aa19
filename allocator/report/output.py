"""Writing a plan to its output folder: atomic files, a manifest that makes results traceable.

Every file is written under a temporary name in the same folder and renamed into place, so a
crash never leaves half a file. A folder that already holds another scenario's results is not
overwritten unless ``force`` is given: nothing a user made is replaced silently.
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

from allocator.exceptions import ScenarioError
from allocator.io.files import atomic_write, sha256
from allocator.plan import Plan

__all__ = ["plan_tables", "write_plan"]

MANIFEST = "manifest.json"


def plan_tables(plan: Plan) -> dict[str, pd.DataFrame]:
    """Every output table of a plan by file stem, with stable column order."""
    out: dict[str, pd.DataFrame] = {}
    if plan.assignment is not None:
        out["assignments"] = plan.assignment.assignments
        out["constraints"] = plan.assignment.constraints
        out["owners"] = owners_frame(plan)
    out["reps"] = plan.reps_frame()
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
    plan: Plan, outdir: str | Path, *, force: bool = False, report: bool = True
) -> list[Path]:
    """Write every table, the report, ``metrics.json`` and ``manifest.json`` into ``outdir``.

    The manifest comes last and lists every other file with its SHA-256.

    Raises
    ------
    ScenarioError
        When ``outdir`` holds results of a different scenario (or files not made by us) and
        ``force`` is false.
    """
    outdir = Path(outdir)
    _guard(outdir, plan, force=force)
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, frame in plan_tables(plan).items():
        written += _write_frame(frame, outdir, stem, plan.scenario.output.formats)
    if "xlsx" in plan.scenario.output.formats:
        written.append(_write_workbook(plan_tables(plan), outdir / "plan.xlsx"))
    if report:
        from allocator.report.plan_report import (
            write_report,  # the report imports plotting: only on demand
        )

        written += write_report(plan, outdir)
    metrics = outdir / "metrics.json"
    atomic_write(metrics, lambda p: p.write_text(_json(plan_metrics_json(plan)), encoding="utf-8"))
    written.append(metrics)
    manifest = outdir / MANIFEST
    atomic_write(
        manifest, lambda p: p.write_text(_json(_manifest(plan, written)), encoding="utf-8")
    )
    return [*written, manifest]


def plan_metrics_json(plan: Plan) -> dict[str, Any]:
    """``metrics.json``: the solve numbers of :meth:`Plan.metrics` and the fairness metrics."""
    from allocator.report.metrics import plan_metrics

    return {**plan.metrics(), **plan_metrics(plan)}


def _guard(outdir: Path, plan: Plan, *, force: bool) -> None:
    if force or not outdir.exists() or not any(outdir.iterdir()):
        return
    manifest = outdir / MANIFEST
    if not manifest.exists():
        raise ScenarioError(
            f"{outdir}: output folder is not empty and holds no {MANIFEST}: refusing to write "
            "into it (use --force or another --out)"
        )
    previous = json.loads(manifest.read_text()).get("scenario", {})
    if previous.get("hash") != plan.scenario.hash() and previous.get("name") != plan.scenario.name:
        raise ScenarioError(
            f"{outdir}: holds results of scenario '{previous.get('name')}': refusing to overwrite "
            "them (use --force or another --out)"
        )


def _write_frame(
    frame: pd.DataFrame, outdir: Path, stem: str, formats: tuple[str, ...]
) -> list[Path]:
    writers: dict[str, Callable[[Path], Any]] = {
        "csv": lambda p: frame.to_csv(p, index=False, encoding="utf-8", lineterminator="\n"),
        "parquet": lambda p: frame.to_parquet(p, index=False),
        "json": lambda p: frame.to_json(
            p, orient="records", indent=1, force_ascii=False, date_format="iso"
        ),
    }
    paths = []
    for fmt in formats:
        if fmt in writers:
            path = outdir / f"{stem}.{fmt}"
            atomic_write(path, writers[fmt])
            paths.append(path)
    return paths


def _write_workbook(tables: Mapping[str, pd.DataFrame], path: Path) -> Path:
    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for stem, frame in tables.items():
                frame.to_excel(xl, sheet_name=stem[:31], index=False)

    atomic_write(path, write)
    return path


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=_jsonable, ensure_ascii=False) + "\n"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _manifest(plan: Plan, written: list[Path]) -> dict[str, Any]:
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
    inputs = {
        name: {"path": path, "sha256": sha256(Path(path))}
        for name, path in plan.tables.sources.items()
    }
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario": {
            "name": plan.scenario.name,
            "hash": plan.scenario.hash(),
            "settings": plan.scenario.model_dump(mode="json"),
        },
        "inputs": inputs,
        "files": {p.name: sha256(p) for p in written},
        "solver": plan.scenario.solver.model_dump(mode="json"),
        "versions": versions,
        "python": platform.python_version(),
    }
