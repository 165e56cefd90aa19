"""Writing a plan to its output folder: atomic files, a manifest that makes results traceable.

Every file is written under a temporary name in the same folder and renamed into place, so a
crash never leaves half a file. A folder that already holds another scenario's results is not
overwritten unless ``force`` is given: nothing a user made is replaced silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import ScenarioError
from allocator.plan import Plan

__all__ = ["plan_tables", "write_plan"]

MANIFEST = "manifest.json"


def plan_tables(plan: Plan) -> dict[str, pd.DataFrame]:
    """Every output table of a plan by file stem, with stable column order."""
    out: dict[str, pd.DataFrame] = {}
    if plan.assignment is not None:
        out["assignments"] = plan.assignment.assignments
        out["constraints"] = plan.assignment.constraints
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


def write_plan(plan: Plan, outdir: str | Path, *, force: bool = False) -> list[Path]:
    """Write every table, ``metrics.json`` and ``manifest.json`` into ``outdir``.

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
    metrics = outdir / "metrics.json"
    _atomic(metrics, lambda p: p.write_text(_json(plan.metrics())))
    written.append(metrics)
    manifest = outdir / MANIFEST
    _atomic(manifest, lambda p: p.write_text(_json(_manifest(plan, written))))
    return [*written, manifest]


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


def _write_frame(frame: pd.DataFrame, outdir: Path, stem: str, formats: tuple[str, ...]) -> list[Path]:
    writers: dict[str, Callable[[Path], Any]] = {
        "csv": lambda p: frame.to_csv(p, index=False, encoding="utf-8", lineterminator="\n"),
        "parquet": lambda p: frame.to_parquet(p, index=False),
        "json": lambda p: frame.to_json(p, orient="records", indent=1, force_ascii=False),
    }
    paths = []
    for fmt in formats:
        if fmt in writers:
            path = outdir / f"{stem}.{fmt}"
            _atomic(path, writers[fmt])
            paths.append(path)
    return paths


def _write_workbook(tables: Mapping[str, pd.DataFrame], path: Path) -> Path:
    def write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for stem, frame in tables.items():
                frame.to_excel(xl, sheet_name=stem[:31], index=False)

    _atomic(path, write)
    return path


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(plan: Plan, written: list[Path]) -> dict[str, Any]:
    versions = {}
    for dist in ("allocator", "pulp", "highspy", "pandas", "numpy", "networkx", "scipy", "pydantic"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    inputs = {name: {"path": path, "sha256": sha256(Path(path))} for name, path in plan.tables.sources.items()}
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
