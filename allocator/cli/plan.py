"""``allocator demo``, ``validate``, ``solve`` and ``compare``: from a scenario to a plan, and
plans side by side."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from allocator.cli.common import (
    add_solver_options,
    demo_scenario_path,
    solve_and_write,
    solve_into,
    solved_folders,
)

__all__ = ["add_plan_parsers", "cmd_compare", "cmd_demo", "cmd_solve", "cmd_validate"]


def cmd_compare(args: argparse.Namespace) -> int:
    from allocator.io.folder import Owner, claim
    from allocator.report.comparison import compare, write_comparison

    out = Path(args.out) if args.out else Path("output") / "comparison"
    with contextlib.ExitStack() as stack:  # every folder is checked before any solving
        target = stack.enter_context(
            claim(out, Owner("comparison", None, "comparison"), force=args.force)
        )
        folders = []
        for item in solved_folders([Path(s) for s in args.sources], args, stack):
            if not isinstance(item, Path):
                scenario, folder = item
                solve_into(scenario, folder)
                item = folder.path
            folders.append(item)
        comparison = compare(folders)
        write_comparison(comparison, target)
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
    from allocator.io.staffing import unit_warnings

    scenario = load_scenario(args.scenario)
    tables = load_inputs(scenario)
    print(f"scenario '{scenario.name}' is valid ({args.scenario})")
    print(format_description(describe(tables)))
    months = scenario.target.months if scenario.target is not None else 12
    for line in unit_warnings(tables, scenario.staffing.capacity_period, months):
        print(f"warning: {line}", file=sys.stderr)
    if scenario.target is not None:
        from allocator.quota.target import history_warnings

        for line in history_warnings(tables, scenario.target):
            print(f"warning: {line}", file=sys.stderr)
        if scenario.target.by_manager:  # the checks solve makes first: numbers that contradict
            import warnings

            from allocator.quota.target import set_target

            with warnings.catch_warnings():  # its history warnings were printed just above
                warnings.simplefilter("ignore")
                found = set_target(tables, scenario.target)
            given = len(scenario.target.by_manager)
            print(
                f"top-down targets: {given} manager target(s) fit the hierarchy and the "
                f"company target {found.total:,.0f}"
            )
    if tables.regions is None and tables.adjacency is None:
        return 0
    from allocator.geography.analysis import format_analysis
    from allocator.territory.regions import analyse_regions

    analysis = analyse_regions(tables, scenario.assignment)
    print(format_analysis(analysis))
    if analysis.infeasible:
        print(
            "no plan can meet the hard rules (the lines marked infeasible prove it): "
            "solve would exit 1; apply one of the fixes above"
        )
        return 1
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
