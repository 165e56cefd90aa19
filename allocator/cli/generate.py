"""``allocator generate``: a generated company's tables and scenario as files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_generate_parser", "cmd_generate"]


def cmd_generate(args: argparse.Namespace) -> int:
    from allocator.demo import generate_company, write_company
    from allocator.exceptions import InputError

    if args.outdir is None and args.duckdb is None:
        raise InputError(["generate: give an output folder OUTDIR, --duckdb FILE, or both"])
    tables = generate_company(
        accounts=args.accounts, reps=args.reps, regions=args.regions, seed=args.seed
    )
    if args.duckdb is not None:
        from allocator.connect.db import write_company_database

        path = write_company_database(tables, Path(args.duckdb), scenario_name=args.name)
        where = Path(args.duckdb).resolve()
        print(f"wrote {tables.summary()} into {where} and the scenario {path}")
    if args.outdir is not None:
        path = write_company(tables, Path(args.outdir), scenario_name=args.name)
        print(f"wrote {tables.summary()} and the scenario {path}")
    return 0


def add_generate_parser(sub: Any) -> None:
    """Add ``generate`` to the sub-parsers ``sub``."""
    p = sub.add_parser("generate", help="write a generated company dataset and its scenario")
    p.add_argument("outdir", metavar="OUTDIR", nargs="?", help="folder for the CSVs and scenario")
    p.add_argument(
        "--duckdb",
        metavar="FILE",
        help="write the tables into a new DuckDB file, and FILE's name with .yaml as its scenario",
    )
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--regions", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="generated", help="scenario name")
    p.set_defaults(func=cmd_generate)
