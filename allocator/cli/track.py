"""The ``track``, ``rebalance`` and ``activities`` commands.

Each command takes a scenario (solved first, or its output folder reused when the folder's
manifest has the scenario's hash and the inputs' hashes) or an output folder, and calls the
public API of :mod:`allocator.track.attainment`, :mod:`allocator.track.rebalance` and
:mod:`allocator.track.activities`; the files they write are :mod:`allocator.track.report`. Heavy
imports happen inside the handlers so that ``allocator --help`` stays fast. ``allocator.cli``
adds the commands with :func:`add_track_parsers`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allocator.track.report import burnup_figure, write_csv, write_rebalance, write_track

if TYPE_CHECKING:
    from allocator.io.scenario import Scenario
    from allocator.track.attainment import TrackedPlan

__all__ = [
    "add_track_parsers",
    "burnup_figure",
    "cmd_activities",
    "cmd_rebalance",
    "cmd_track",
    "load_tracked",
    "write_rebalance",
    "write_track",
]

log = logging.getLogger("allocator")


# ---------------------------------------------------------------- parsers


def add_track_parsers(subparsers: Any) -> None:
    """Add the ``track``, ``rebalance`` and ``activities`` sub-commands (with ``func=``)."""
    p = subparsers.add_parser(
        "track", help="attainment and pace of a plan as of a date, and the re-phased rest"
    )
    _add_source(p)
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--actuals", metavar="FILE", help="actual sales (csv, xlsx or parquet)")
    given.add_argument(
        "--simulate", action="store_true", help="generate actuals to the as-of date instead"
    )
    p.add_argument("--as-of", required=True, metavar="DATE", help="track up to this day YYYY-MM-DD")
    p.add_argument(
        "--reallocate",
        action="store_true",
        help="re-allocate the remaining target across reps with the quota LP "
        "(default: each rep keeps their total)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --simulate")
    _add_common(p, "track-DATE")
    p.set_defaults(func=cmd_track)

    p = subparsers.add_parser(
        "rebalance", help="re-solve the territory after reps leave, join or change capacity"
    )
    _add_source(p)
    p.add_argument(
        "--changes", required=True, metavar="FILE", help="changes table (csv, xlsx, parquet, yaml)"
    )
    _add_common(p, "rebalance")
    p.set_defaults(func=cmd_rebalance)

    p = subparsers.add_parser("activities", help="opportunities, meetings and calls per week")
    _add_source(p)
    _add_common(p, "activities")
    p.set_defaults(func=cmd_activities)


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SCENARIO", help="scenario YAML, or a solved output folder")


def _add_common(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--out", metavar="DIR", help=f"output folder (default: PLAN_FOLDER/{default})")
    p.add_argument("--solver", choices=["highs", "cbc"], help="solver backend")
    p.add_argument("--time-limit", type=float, metavar="S", help="solver time limit in seconds")
    p.add_argument("--threads", type=int, metavar="N", help="solver threads")
    p.add_argument(
        "--force", action="store_true", help="overwrite a plan folder of another scenario"
    )


# ---------------------------------------------------------------- the plan to track


def load_tracked(source: Path, args: argparse.Namespace) -> tuple[TrackedPlan, Path]:
    """The plan of ``source`` and its folder: an output folder, or a scenario (solved if needed).

    Raises
    ------
    ScenarioError, InputError
        Bad scenario, tables or folder.
    InfeasibleError
        The scenario has no solution.
    """
    from allocator.io.data import load_inputs
    from allocator.io.scenario import load_scenario
    from allocator.plan import solve_scenario
    from allocator.report.output import write_plan
    from allocator.track.attainment import TrackedPlan

    if source.is_dir():
        scenario = _folder_scenario(source)
        tables = load_inputs(scenario)
        return TrackedPlan.from_folder(source, scenario, tables=tables), source
    scenario = load_scenario(source)
    changes = _solver_changes(args)
    if changes:
        scenario = scenario.replace(changes, source=str(source))
    out = Path(scenario.output.dir) if scenario.output.dir else Path("output") / scenario.name
    tables = load_inputs(scenario)
    if _reusable(out, scenario):
        log.info("%s: reusing the plan in %s", source, out)
        return TrackedPlan.from_folder(out, scenario, tables=tables), out
    log.info("solving scenario '%s' (%s)", scenario.name, source)
    plan = solve_scenario(scenario, tables=tables)
    write_plan(plan, out, force=args.force)
    return TrackedPlan.from_plan(plan), out


def _solver_changes(args: argparse.Namespace) -> dict[str, object]:
    names = {
        "solver": "solver.name",
        "time_limit": "solver.time_limit",
        "threads": "solver.threads",
    }
    return {key: getattr(args, a) for a, key in names.items() if getattr(args, a, None) is not None}


def _manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _folder_scenario(folder: Path) -> Scenario:
    from allocator.exceptions import InputError
    from allocator.io.scenario import scenario_from_dict

    manifest = _manifest(folder)
    settings = (manifest or {}).get("scenario", {}).get("settings")
    if not isinstance(settings, dict):
        raise InputError([f"{folder}: not an allocator output folder (no usable manifest.json)"])
    return scenario_from_dict(settings, source=str(folder / "manifest.json"))


def _reusable(folder: Path, scenario: Scenario) -> bool:
    """The folder holds this scenario's results, solved from inputs with the same content."""
    from allocator.io.files import sha256

    manifest = _manifest(folder)
    if manifest is None or manifest.get("scenario", {}).get("hash") != scenario.hash():
        return False
    for item in manifest.get("inputs", {}).values():
        path = Path(item.get("path", ""))
        if not path.is_file() or sha256(path) != item.get("sha256"):
            return False
    return True


# ---------------------------------------------------------------- handlers


def cmd_track(args: argparse.Namespace) -> int:
    from allocator.track.attainment import (
        check_actuals,
        check_as_of,
        generate_actuals,
        load_actuals,
        parse_date,
        rephase,
        track_attainment,
    )

    as_of = parse_date(args.as_of, key="--as-of")
    tracked, folder = load_tracked(Path(args.source), args)
    as_of = check_as_of(as_of, tracked.quota_tables()[2])  # before reading the actuals
    out = Path(args.out) if args.out else folder / f"track-{as_of:%Y-%m-%d}"
    simulated = None
    if args.simulate:
        simulated = generate_actuals(tracked, through=as_of, seed=args.seed)
        actuals = check_actuals(simulated, tracked, where="simulated actuals")
    else:
        actuals = load_actuals(args.actuals, tracked)
    attainment = track_attainment(tracked, actuals, as_of)
    rephased = None
    if attainment.days_elapsed < attainment.days_total:
        rephased = rephase(tracked, actuals, as_of, reallocate=args.reallocate)
    write_track(out, attainment, rephased, title=f"Tracking: {tracked.scenario.name}")
    if simulated is not None:
        write_csv(simulated, out / "actuals.csv")
    print(attainment.summary())
    if rephased is not None:
        print(rephased.summary())
    print(f"tracking written to {out.resolve()} (open track.html)")
    return 0


def cmd_rebalance(args: argparse.Namespace) -> int:
    from allocator.track.rebalance import load_changes, rebalance

    tracked, folder = load_tracked(Path(args.source), args)
    changes = load_changes(args.changes, tracked.tables)
    result = rebalance(tracked, changes)
    out = Path(args.out) if args.out else folder / "rebalance"
    write_rebalance(result, out, title=f"Rebalancing: {tracked.scenario.name}")
    print(result.summary())
    print(f"rebalancing written to {out.resolve()} (rebalance.csv, rebalance.html)")
    return 0


def cmd_activities(args: argparse.Namespace) -> int:
    from allocator.track.activities import activities_for, write_activities

    tracked, folder = load_tracked(Path(args.source), args)
    plan = activities_for(tracked)
    out = Path(args.out) if args.out else folder / "activities"
    write_activities(plan, out)
    print(plan.summary())
    print(f"activities written to {out.resolve()} (activities.csv)")
    return 0
