"""A generated company as files: its CSVs and a scenario using them, and the shipped demo.

:func:`write_company` writes one CSV per table and a ``scenario.yaml`` whose blocks default to
:func:`demo_settings`; :func:`write_demo` rewrites the shipped demo in ``allocator/demo``;
:func:`main` is ``python -m allocator.demo``. Every file is written through a temporary
name, so a crash never leaves half a file. The tables come from
:func:`allocator.demo.generate.generate_company`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from allocator.demo.generate import generate_company, last_twelve_months
from allocator.exceptions import AllocatorError
from allocator.io.tables import OPTIONAL_DEFAULTS, TABLE_NAMES, Tables

__all__ = [
    "DEMO_DIR",
    "DEMO_SETTINGS",
    "demo_settings",
    "export_frame",
    "main",
    "top_down_targets",
    "write_company",
    "write_demo",
]

#: Where the shipped demo dataset lives.
DEMO_DIR = Path(__file__).parent


#: The demo's scenario blocks; ``target.start`` and ``target.plan`` are filled from the history.
DEMO_SETTINGS = """
target:
  months: 12
  industry_growth: 0.04
  competitor_growth: 0.06
  weights: {plan: 0.4, history: 0.2, industry: 0.2, competitor: 0.2}
  mix:
    categories:
      attack: {min: 0.15, max: 0.35}
      volume: {min: 0.25, max: 0.5}
      profit: {min: 0.15, max: 0.35}
      image: {min: 0.05, max: 0.2}
assignment:
  objective: {travel: 1.0, balance: 50.0, disruption: 5.0}
  constraints:
    capacity: {tolerance: 0.0}
    balance: {measure: potential, tolerance: 0.25}
    experience: {A: 3}
    skills: {}
    continuity: {max_moved_share: 0.25}
    candidates: {nearest: 12}
quota: {fairness: {band: 0.15}, tiers: {method: fixed, base: 0.9, stretch: 1.15}}
solver: {name: highs, time_limit: 60, gap: 0.005}
activities:
  segments:
    A: {deal_size: 60000, win_rate: 0.35, meetings_per_deal: 4, calls_per_meeting: 3}
    B: {deal_size: 25000, win_rate: 0.4, meetings_per_deal: 3, calls_per_meeting: 2}
  default: {deal_size: 9000, win_rate: 0.45, meetings_per_deal: 2, calls_per_meeting: 2}
  hours_per_meeting: 1.5
  hours_per_call: 0.25
  capacity_share: 0.6
"""


def demo_settings(tables: Tables, *, output_dir: str = "output") -> dict[str, Any]:
    """The demo's scenario blocks (target, assignment, quota, solver, activities, output).

    The target starts the month after the history ends, and its plan is 1.05 x the last 12
    months of sales, rounded to 100,000 (no history: no target block).
    """

    settings: dict[str, Any] = {**yaml.safe_load(DEMO_SETTINGS), "output": {"dir": output_dir}}
    if tables.history is None or tables.history.empty:
        del settings["target"]
        return settings
    start = pd.Period(tables.history["period"].max(), freq="M") + 1
    plan = int(np.round(1.05 * last_twelve_months(tables.history)["sales"].sum(), -5))
    settings["target"] = {"start": start.strftime("%Y-%m"), "plan": plan, **settings["target"]}
    return settings


def _csv_text(name: str, frame: pd.DataFrame) -> str:
    """One table as CSV: optional columns at their default omitted, whole floats as ints."""
    return export_frame(name, frame).to_csv(index=False, lineterminator="\n")


def export_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One table as written: optional columns at their default omitted, whole floats as ints.

    The CSV files and a database written from the same tables hold the same values
    (:func:`allocator.connect.db.write_company_database`).
    """
    out = frame.copy()
    for col, (_, default) in OPTIONAL_DEFAULTS.get(name, {}).items():
        values = out.get(col)
        if values is not None and (
            values.isna().all() if pd.isna(default) else (values == default).all()
        ):
            out = out.drop(columns=col)
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_float_dtype(values) and values.notna().all() and (values % 1 == 0).all():
            out[col] = values.astype("int64")
    return out


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary name and rename, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise AllocatorError(f"{path}: cannot write ({exc.strerror})") from None


def write_company(
    tables: Tables,
    outdir: str | Path,
    *,
    scenario_name: str,
    description: str = "",
    settings: Mapping[str, Any] | None = None,
    yaml_name: str = "scenario.yaml",
) -> Path:
    """Write one CSV per table and a scenario YAML using them (paths relative to the YAML).

    Parameters
    ----------
    tables
        The tables to write (``None`` tables are skipped).
    outdir
        Folder to write into; created when missing.
    scenario_name, description
        The scenario's ``name`` and ``description``.
    settings
        The other scenario blocks (``target``, ``assignment``, ...); default :func:`demo_settings`.
    yaml_name
        File name of the scenario.

    Returns
    -------
    Path
        The scenario file.

    Raises
    ------
    AllocatorError
        When a file cannot be written.
    """
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AllocatorError(f"{outdir}: cannot create the folder ({exc.strerror})") from None
    data = {}
    for name in TABLE_NAMES:
        frame = getattr(tables, name)
        if frame is not None:
            _write_text(outdir / f"{name}.csv", _csv_text(name, frame))
            data[name] = f"{name}.csv"
    blocks = dict(settings) if settings is not None else demo_settings(tables)
    text = f"{tables.summary()}, made by allocator.demo.generate"
    doc = {"name": scenario_name, "description": description or text, "data": data, **blocks}
    path = outdir / yaml_name
    _write_text(path, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    return path


def top_down_targets(tables: Tables, plan: float) -> dict[str, int]:
    """The demo's ``target.by_manager``: the first region 3% above its share of potential of
    the plan, and its first district at its share of that region's target (rounded to 10,000);
    the other region takes the rest of the company target (``docs/organisation.md``)."""
    if tables.managers is None:
        return {}
    reps, managers = tables.reps, tables.managers
    potential = tables.accounts.groupby("incumbent_rep_id")["potential"].sum()
    held = reps.set_index("rep_id")["manager_id"].to_frame("district")
    held["potential"] = potential.reindex(held.index, fill_value=0.0)
    parent = managers.set_index("manager_id")["parent_id"]
    held["region"] = held["district"].map(parent)
    region = str(managers.loc[managers["level"] == "region", "manager_id"].iloc[0])
    district = str(parent[parent == region].index[0])
    total = held["potential"].sum()
    share = held.loc[held["region"] == region, "potential"].sum() / total
    region_target = int(np.round(1.03 * share * plan, -4))
    inner = held.loc[held["district"] == district, "potential"].sum() / total / share
    return {region: region_target, district: int(np.round(inner * region_target, -4))}


def write_demo(outdir: str | Path = DEMO_DIR) -> Path:
    """(Re)write the shipped demo: the default company (seed 0) and ``demo.yaml``."""

    tables = generate_company()
    settings = demo_settings(tables, output_dir="output/demo")
    text = (
        "A generated company: 2,000 accounts, 40 reps, 30 regions, 4 product lines and 36 months"
        " of history (allocator.demo.generate, seed 0)."
    )
    return write_company(
        tables,
        outdir,
        scenario_name="demo",
        description=text,
        settings=settings,
        yaml_name="demo.yaml",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m allocator.demo (--demo | OUTDIR [--accounts N ...])``: the exit code."""

    parser = argparse.ArgumentParser(prog="python -m allocator.demo")
    parser.add_argument("outdir", nargs="?", help="folder for the tables and scenario.yaml")
    parser.add_argument("--demo", action="store_true", help="rewrite the demo in allocator/demo")
    for name, default in (("accounts", 2000), ("reps", 40), ("regions", 30), ("products", 4)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", default="2027-01", help="first planning month, YYYY-MM")
    parser.add_argument("--name", default="generated", help="scenario name")
    args = parser.parse_args(argv)
    if args.demo == bool(args.outdir):
        parser.error("give either --demo or an output folder")
    sizes = {k: getattr(args, k) for k in ("accounts", "reps", "regions", "products", "seed")}
    try:
        if args.demo:
            path = write_demo()
        else:
            tables = generate_company(**sizes, start=args.start)
            path = write_company(tables, args.outdir, scenario_name=args.name)
    except AllocatorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(f"wrote {path}\n")
    return 0
