"""``allocator bench``: benchmarks on public instances (OR-Library GAP)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_bench_parser", "cmd_bench_gap"]


def cmd_bench_gap(args: argparse.Namespace) -> int:
    from allocator.io.settings import SolverSettings
    from allocator.territory.gap import bench_gap

    solver = SolverSettings(name=args.solver or "highs", time_limit=args.time_limit or 60.0)
    table = bench_gap([Path(f) for f in args.files], optima_csv=args.optima, solver=solver)
    print(table.to_string(index=False))
    return 0


def add_bench_parser(sub: Any) -> None:
    """Add ``bench`` and its kinds to the sub-parsers ``sub``."""
    p = sub.add_parser("bench", help="benchmarks on public instances")
    bench = p.add_subparsers(dest="bench", required=True, metavar="KIND")
    g = bench.add_parser("gap", help="OR-Library generalized assignment files")
    g.add_argument("files", nargs="+", metavar="FILE")
    g.add_argument("--optima", metavar="CSV", help="optima.csv with published values")
    g.add_argument("--solver", choices=["highs", "cbc"])
    g.add_argument("--time-limit", type=float, metavar="S")
    g.set_defaults(func=cmd_bench_gap)
