"""``allocator export salesforce|geo PLAN``: a plan as CRM data-loader files or GIS layers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_export_parser", "cmd_export_geo", "cmd_export_salesforce"]


def output_folder(plan: Path, out: str | None, default: str) -> Path:
    """``--out`` (must be absent or empty), else a fresh ``PLAN/<default>`` folder.

    Raises
    ------
    InputError
        When ``--out`` holds files: an earlier export is never overwritten.
    """
    from allocator.connect.folder import fresh_folder
    from allocator.exceptions import InputError

    if out is None:
        return fresh_folder(plan / default)
    folder = Path(out)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError([f"--out {folder}: exists and is not empty: refusing to overwrite it"])
    return folder


def cmd_export_salesforce(args: argparse.Namespace) -> int:
    from allocator.connect.folder import read_plan_folder
    from allocator.connect.salesforce import read_crm_ids, salesforce_files, write_salesforce

    ids = read_crm_ids(args.ids)  # before the plan: a bad ids file fails fast
    plan = read_plan_folder(args.plan)
    out = output_folder(Path(args.plan), args.out, "salesforce")
    files = salesforce_files(
        plan.reps,
        plan.owners,
        plan.tables.accounts,
        ids,
        plan_name=plan.scenario.name,
        prefix=args.prefix,
    )
    write_salesforce(files, out)
    print(files.summary())
    print(f"Salesforce data-loader files written to {out.resolve()}")
    return 0


def cmd_export_geo(args: argparse.Namespace) -> int:
    from allocator.connect.folder import read_plan_folder
    from allocator.connect.geo import plan_layers, write_layers

    plan = read_plan_folder(args.plan)
    out = output_folder(Path(args.plan), args.out, "geo")
    territories, accounts = plan_layers(plan)
    paths = write_layers(territories, accounts, out, args.format)
    print(f"{len(territories)} territories and {len(accounts)} accounts (EPSG:4326) written to")
    missing = sorted(set(plan.reps["rep_id"]) - set(territories["rep_id"]))
    if missing:
        print(f"  no territory for {len(missing)} rep(s) without accounts: {', '.join(missing)}")
    for path in paths:
        print(f"  {path.resolve()}")
    return 0


def add_export_parser(sub: Any) -> None:
    """Add ``export salesforce`` and ``export geo`` to the sub-parsers ``sub``."""
    p = sub.add_parser("export", help="a plan as CRM territory files or GIS layers")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    s = kinds.add_parser(
        "salesforce", help="Salesforce data-loader CSVs (Territory2 and associations)"
    )
    s.add_argument("plan", metavar="PLAN", help="plan folder written by allocator solve")
    s.add_argument(
        "--ids",
        required=True,
        metavar="CSV",
        help="our ids -> Salesforce ids: columns kind (rep, account, model, type, "
        "territory), id, crm_id",
    )
    s.add_argument("--prefix", default="", help="prefix of the territories' DeveloperName")
    s.add_argument("--out", metavar="DIR", help="output folder (default: a new PLAN/salesforce)")
    s.set_defaults(func=cmd_export_salesforce)
    g = kinds.add_parser("geo", help="territory polygons and account points for a GIS")
    g.add_argument("plan", metavar="PLAN", help="plan folder written by allocator solve")
    g.add_argument(
        "--format",
        choices=["geojson", "gpkg"],
        default="geojson",
        help="GeoJSON files or one GeoPackage (default: geojson)",
    )
    g.add_argument("--out", metavar="DIR", help="output folder (default: a new PLAN/geo)")
    g.set_defaults(func=cmd_export_geo)
