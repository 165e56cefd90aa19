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
import contextlib
import logging
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allocator.track.report import burnup_figure, write_csv, write_rebalance, write_track

if TYPE_CHECKING:
    from allocator.io.folder import Claim
    from allocator.io.scenario import Scenario
    from allocator.track.attainment import TrackedPlan

__all__ = [
    "add_track_parsers",
    "burnup_figure",
    "cmd_activities",
    "cmd_rebalance",
    "cmd_track",
    "load_tracked",
    "prepare_tracked",
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


def prepare_tracked(
    source: Path, args: argparse.Namespace, stack: contextlib.ExitStack
) -> tuple[Scenario, Path, Callable[[], TrackedPlan]]:
    """The scenario of ``source``, its plan folder, and how to get its plan (read or solved).

    A plan folder to solve into is claimed here, on ``stack``: before any solving starts.

    Raises
    ------
    ScenarioError, InputError, OutputError
        Bad scenario, tables or folder.
    """
    from allocator.cli.common import (
        claim_plan_folder,
        default_out,
        load_for_cli,
        reusable,
        solve_into,
    )
    from allocator.io.data import load_inputs
    from allocator.track.attainment import TrackedPlan

    if source.is_dir():
        scenario = _folder_scenario(source)
        tables = load_inputs(scenario)
        return scenario, source, lambda: TrackedPlan.from_folder(source, scenario, tables=tables)
    scenario = load_for_cli(source, args)
    out = default_out(scenario)
    tables = load_inputs(scenario)
    if reusable(out, scenario, inputs=True):
        log.info("%s: reusing the plan in %s", source, out)
        return scenario, out, lambda: TrackedPlan.from_folder(out, scenario, tables=tables)
    folder = stack.enter_context(claim_plan_folder(scenario, out, args, source))
    return scenario, out, lambda: TrackedPlan.from_plan(solve_into(scenario, folder, tables))


def load_tracked(source: Path, args: argparse.Namespace) -> tuple[TrackedPlan, Path]:
    """The plan of ``source`` and its folder: an output folder, or a scenario (solved if needed).

    Raises
    ------
    ScenarioError, InputError, OutputError
        Bad scenario, tables or folder.
    InfeasibleError
        The scenario has no solution.
    """
    with contextlib.ExitStack() as stack:
        _, folder, load = prepare_tracked(source, args, stack)
        return load(), folder


def _folder_scenario(folder: Path) -> Scenario:
    from allocator.exceptions import InputError
    from allocator.io.folder import read_plan_manifest
    from allocator.io.scenario import scenario_from_dict

    manifest = read_plan_manifest(folder)
    settings = manifest.get("scenario", {}).get("settings")
    if not isinstance(settings, dict) or manifest.get("kind", "plan") != "plan":
        raise InputError([f"{folder}: not an allocator plan folder (no usable manifest.json)"])
    if manifest.get("status") == "infeasible":
        raise InputError([f"{folder}: holds no plan to track (its scenario was infeasible)"])
    if manifest.get("failed_stage"):
        raise InputError(
            [f"{folder}: holds only a territory (the {manifest['failed_stage']} stage failed)"]
        )
    return scenario_from_dict(settings, source=str(folder / "manifest.json"))


def _claim_out(
    args: argparse.Namespace, default: Path, kind: str, scenario: Scenario, stack: ExitStack
) -> Claim:
    """Claim the command's own output folder (``--out`` or ``default``) before any solving."""
    from allocator.io.folder import Owner, claim

    out = Path(args.out) if args.out else default
    owner = Owner(kind, scenario.hash(), scenario.name)
    return stack.enter_context(claim(out, owner, force=bool(getattr(args, "force", False))))


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
    with contextlib.ExitStack() as stack:
        scenario, folder, load = prepare_tracked(Path(args.source), args, stack)
        out = _claim_out(args, folder / f"track-{as_of:%Y-%m-%d}", "track", scenario, stack)
        tracked = load()
        as_of = check_as_of(as_of, tracked.quota_tables()[2])  # before reading the actuals
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
        if simulated is not None:
            write_csv(simulated, out, "actuals.csv")
        write_track(out, attainment, rephased, title=f"Tracking: {tracked.scenario.name}")
    print(attainment.summary())
    if rephased is not None:
        print(rephased.summary())
    print(f"tracking written to {out.path.resolve()} (open track.html)")
    return 0


def cmd_rebalance(args: argparse.Namespace) -> int:
    from allocator.track.rebalance import load_changes, rebalance

    with contextlib.ExitStack() as stack:
        scenario, folder, load = prepare_tracked(Path(args.source), args, stack)
        out = _claim_out(args, folder / "rebalance", "rebalance", scenario, stack)
        tracked = load()
        changes = load_changes(args.changes, tracked.tables)
        result = rebalance(tracked, changes)
        write_rebalance(result, out, title=f"Rebalancing: {tracked.scenario.name}")
    print(result.summary())
    print(f"rebalancing written to {out.path.resolve()} (rebalance.csv, rebalance.html)")
    return 0


def cmd_activities(args: argparse.Namespace) -> int:
    from allocator.track.activities import activities_for, write_activities

    with contextlib.ExitStack() as stack:
        scenario, folder, load = prepare_tracked(Path(args.source), args, stack)
        out = _claim_out(args, folder / "activities", "activities", scenario, stack)
        tracked = load()
        plan = activities_for(tracked)
        write_activities(plan, out)
    print(plan.summary())
    print(f"activities written to {out.path.resolve()} (activities.csv)")
    return 0
