"""What several commands share: solver options, solving a scenario into a folder, the demo's
path."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from allocator.exceptions import InfeasibleError, NoSolutionInTimeError

if TYPE_CHECKING:
    from allocator.io.folder import Claim
    from allocator.io.scenario import Scenario
    from allocator.io.tables import Tables
    from allocator.plan import Plan

log = logging.getLogger("allocator")

__all__ = [
    "add_solver_options",
    "claim_plan_folder",
    "default_out",
    "demo_scenario_path",
    "load_for_cli",
    "reusable",
    "solve_and_write",
    "solve_into",
    "solved_folder",
    "solved_folders",
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


def load_for_cli(scenario_path: Path, args: argparse.Namespace) -> Scenario:
    """The scenario of ``scenario_path`` with the command line's solver options."""
    from allocator.io.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    changes = solver_overrides(args)
    if changes:
        scenario = scenario.replace(changes, source=str(scenario_path))
    return scenario


def default_out(scenario: Scenario) -> Path:
    """``output.dir``, or ``output/<name>``."""
    return Path(scenario.output.dir) if scenario.output.dir else Path("output") / scenario.name


def claim_plan_folder(
    scenario: Scenario, out: Path, args: argparse.Namespace, scenario_path: Path | None = None
) -> Claim:
    """Check, lock and clean the plan folder ``out`` for ``scenario``, before solving.

    Raises
    ------
    OutputError
        The folder cannot take this scenario's result (see :func:`allocator.io.folder.claim`).
    """
    from allocator.io.folder import claim
    from allocator.report.output import input_paths, scenario_owner

    inputs = input_paths(scenario) + ([scenario_path] if scenario_path else [])
    force = bool(getattr(args, "force", False))
    return claim(out, scenario_owner(scenario), force=force, inputs=inputs)


def solve_into(scenario: Scenario, folder: Claim, tables: Tables | None = None) -> Plan:
    """Solve ``scenario`` and write its plan (or its diagnosis) into the claimed ``folder``.

    A territory that solved is written even when a later stage fails; that stage's error is
    raised after the writing.
    """
    from allocator.plan import solve_scenario
    from allocator.report.output import write_plan

    log.info("solving scenario '%s'", scenario.name)
    try:
        plan = solve_scenario(scenario, tables=tables)
    except InfeasibleError as exc:
        from allocator.report.plan_report import infeasible_report

        infeasible_report(scenario, exc, folder)
        log.info("the diagnosis is in %s", (folder.path / "report.html").resolve())
        raise
    except NoSolutionInTimeError as exc:
        from allocator.plan import Plan

        if isinstance(exc.plan, Plan):
            write_plan(exc.plan, folder)
            log.info("the best plan found (not within the rules) is in %s", folder.path.resolve())
        raise
    write_plan(plan, folder)
    if plan.failed is not None:
        print(plan.summary())
        print(
            f"the {plan.failed.stage} stage failed; the territory that solved is written to "
            f"{folder.path.resolve()} (assignments.csv, owners.csv, reps.csv, report.html)",
            file=sys.stderr,
        )
        raise plan.failed.error
    return plan


def solve_and_write(scenario_path: Path, out: Path | None, args: argparse.Namespace) -> int:
    scenario = load_for_cli(scenario_path, args)
    out = default_out(scenario) if out is None else out
    with claim_plan_folder(scenario, out, args, scenario_path) as folder:
        plan = solve_into(scenario, folder)
    print(plan.summary())
    print(f"outputs written to {out.resolve()} (open report.html)")
    url = getattr(args, "to_db", None) or scenario.output.database
    if url:
        from allocator.connect.db import append_plan

        print(append_plan(plan, url))
    return 0


def reusable(folder: Path, scenario: Scenario, *, inputs: bool = False) -> bool:
    """``folder`` holds the complete plan of ``scenario`` (same hash; with ``inputs``, solved
    from input files with the same content).

    Raises
    ------
    OutputError
        The folder's manifest is corrupt or truncated.
    """
    from allocator.io.files import sha256
    from allocator.io.folder import read_manifest

    if not folder.is_dir():
        return False
    manifest = read_manifest(folder, required=False)
    if manifest is None or manifest.get("status") == "infeasible" or manifest.get("failed_stage"):
        return False
    if (manifest.get("scenario") or {}).get("hash") != scenario.hash():
        return False
    for item in (manifest.get("inputs") or {}).values() if inputs else ():
        path = Path(str(item.get("path", "")))
        if item.get("sha256") and (not path.is_file() or sha256(path) != item.get("sha256")):
            return False
    return True


def solved_folders(
    sources: Sequence[Path], args: argparse.Namespace, stack: contextlib.ExitStack
) -> list[Path | tuple[Scenario, Claim]]:
    """Each source as a folder to read, or (scenario, claimed folder) to solve first.

    Every folder to write is claimed here, before any solving starts.
    """
    out: list[Path | tuple[Scenario, Claim]] = []
    for source in sources:
        if source.is_dir():
            out.append(source)
            continue
        scenario = load_for_cli(source, args)
        folder = default_out(scenario)
        if reusable(folder, scenario):
            log.info("%s: reusing the results in %s", source, folder)
            out.append(folder)
        else:
            out.append((scenario, stack.enter_context(claim_plan_folder(scenario, folder, args))))
    return out


def solved_folder(source: Path, args: argparse.Namespace) -> Path:
    """An output folder for ``source``: itself, or the scenario's folder, solved if needed."""
    with contextlib.ExitStack() as stack:
        (item,) = solved_folders([source], args, stack)
        if isinstance(item, Path):
            return item
        scenario, folder = item
        solve_into(scenario, folder)
        return folder.path


def add_solver_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--solver", choices=["highs", "cbc"], help="solver backend (default: scenario's)"
    )
    p.add_argument("--time-limit", type=float, metavar="S", help="solver time limit in seconds")
    p.add_argument("--gap", type=float, metavar="G", help="relative MIP gap to stop at, e.g. 0.005")
    p.add_argument("--threads", type=int, metavar="N", help="solver threads")
    p.add_argument(
        "--force",
        action="store_true",
        help="write over an output folder of another scenario, with edited files or files "
        "allocator did not write",
    )
