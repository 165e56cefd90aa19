"""What several commands share: solver options, solving a scenario into a folder, the demo's
path."""

from __future__ import annotations

import argparse
import json
import logging
from importlib import resources
from pathlib import Path

from allocator.exceptions import InfeasibleError

log = logging.getLogger("allocator")

__all__ = [
    "add_solver_options",
    "demo_scenario_path",
    "solve_and_write",
    "solved_folder",
    "solver_overrides",
]


def demo_scenario_path() -> Path:
    """The demo scenario shipped inside the package (runs from any directory)."""
    return Path(str(resources.files("allocator") / "demo" / "demo.yaml"))


def solver_overrides(args: argparse.Namespace) -> dict[str, object]:
    changes: dict[str, object] = {}
    if getattr(args, "solver", None):
        changes["solver.name"] = args.solver
    if getattr(args, "time_limit", None) is not None:
        changes["solver.time_limit"] = args.time_limit
    if getattr(args, "gap", None) is not None:
        changes["solver.gap"] = args.gap
    if getattr(args, "threads", None) is not None:
        changes["solver.threads"] = args.threads
    return changes


def solve_and_write(scenario_path: Path, out: Path | None, args: argparse.Namespace) -> int:
    from allocator.io.scenario import load_scenario
    from allocator.plan import solve_scenario
    from allocator.report.output import write_plan

    scenario = load_scenario(scenario_path)
    changes = solver_overrides(args)
    if changes:
        scenario = scenario.replace(changes, source=str(scenario_path))
    if out is None:
        out = Path(scenario.output.dir) if scenario.output.dir else Path("output") / scenario.name
    log.info("solving scenario '%s' (%s)", scenario.name, scenario_path)
    try:
        plan = solve_scenario(scenario)
    except InfeasibleError as exc:
        from allocator.report.plan_report import infeasible_report

        out.mkdir(parents=True, exist_ok=True)
        infeasible_report(scenario, exc, out)
        log.info("the diagnosis is in %s", (out / "report.html").resolve())
        raise
    write_plan(plan, out, force=args.force)
    print(plan.summary())
    print(f"outputs written to {out.resolve()} (open report.html)")
    url = getattr(args, "to_db", None) or scenario.output.database
    if url:
        from allocator.connect.db import append_plan

        print(append_plan(plan, url))
    return 0


def solved_folder(source: Path, args: argparse.Namespace) -> Path:
    """An output folder for ``source``: itself, or the scenario's folder, solved if needed."""
    from allocator.io.scenario import load_scenario
    from allocator.report.output import MANIFEST

    if source.is_dir():
        return source
    scenario = load_scenario(source)
    out = Path(scenario.output.dir) if scenario.output.dir else Path("output") / scenario.name
    manifest = out / MANIFEST
    if (
        manifest.exists()
        and json.loads(manifest.read_text())["scenario"]["hash"] == scenario.hash()
    ):
        log.info("%s: reusing the results in %s", source, out)
        return out
    solve_and_write(source, out, args)
    return out


def add_solver_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--solver", choices=["highs", "cbc"], help="solver backend (default: scenario's)"
    )
    p.add_argument("--time-limit", type=float, metavar="S", help="solver time limit in seconds")
    p.add_argument("--gap", type=float, metavar="G", help="relative MIP gap to stop at, e.g. 0.005")
    p.add_argument("--threads", type=int, metavar="N", help="solver threads")
    p.add_argument(
        "--force", action="store_true", help="overwrite an output folder of another scenario"
    )
