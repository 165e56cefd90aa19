"""``allocator demo``, ``validate``, ``solve`` and ``compare``: from a scenario to a plan, and
plans side by side."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from allocator.cli.common import (
    add_solver_options,
    demo_scenario_path,
    solve_and_write,
    solved_folder,
)

__all__ = ["add_plan_parsers", "cmd_compare", "cmd_demo", "cmd_solve", "cmd_validate"]


def cmd_compare(args: argparse.Namespace) -> int:
    from allocator.report.comparison import compare, write_comparison

    folders = [solved_folder(Path(s), args) for s in args.sources]
    comparison = compare(folders)
    out = Path(args.out) if args.out else Path("output") / "comparison"
    out.mkdir(parents=True, exist_ok=True)
    write_comparison(comparison, out)
    print(comparison.summary())
    print(f"comparison written to {out.resolve()} (comparison.html, comparison.md)")
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    return solve_and_write(Path(args.scenario), Path(args.out) if args.out else None, args)


def cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path.cwd() / "output" / "demo"
    return solve_and_write(demo_scenario_path(), out, args)


def cmd_validate(args: argparse.Namespace) -> int:
    from allocator.io.data import describe, format_description, load_inputs
    from allocator.io.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    tables = load_inputs(scenario)
    print(f"scenario '{scenario.name}' is valid ({args.scenario})")
    print(format_description(describe(tables)))
    return 0


def add_plan_parsers(sub: Any) -> None:
    """Add ``demo``, ``validate``, ``solve`` and ``compare`` to the sub-parsers ``sub``."""
    p = sub.add_parser("demo", help="solve the embedded demo scenario")
    p.add_argument("--out", metavar="DIR", help="output folder (default: ./output/demo)")
    add_solver_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("validate", help="check a scenario and its tables, print a summary")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("solve", help="solve a scenario and write its outputs")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default: output.dir or output/NAME)"
    )
    p.add_argument(
        "--to-db",
        metavar="URL",
        help="also append the plan's tables to this database (SQLAlchemy URL; default: "
        "output.database); earlier plans are kept",
    )
    add_solver_options(p)
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("compare", help="compare two or more plans (output folders or scenarios)")
    p.add_argument("sources", nargs="+", metavar="PLAN", help="output folder or scenario YAML")
    p.add_argument("--out", metavar="DIR", help="where to write comparison.html/.md")
    add_solver_options(p)
    p.set_defaults(func=cmd_compare)
