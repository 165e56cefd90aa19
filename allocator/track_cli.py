"""The ``track``, ``rebalance`` and ``activities`` commands, and the files they write.

Each command takes a scenario (solved first, or its output folder reused when the folder's
manifest has the scenario's hash and the inputs' hashes) or an output folder, and calls the
public API of :mod:`allocator.track`, :mod:`allocator.rebalance` and
:mod:`allocator.activities`. Heavy imports happen inside the handlers so that
``allocator --help`` stays fast. ``allocator.cli`` adds the commands with
:func:`add_track_parsers`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from allocator.rebalance import Rebalance
    from allocator.report import Section
    from allocator.scenario import Scenario
    from allocator.track import Attainment, Rephased, TrackedPlan

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

_PANEL_COLUMNS = 4


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
    from allocator.data import load_inputs
    from allocator.output import write_plan
    from allocator.plan import solve_scenario
    from allocator.scenario import load_scenario
    from allocator.track import TrackedPlan

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
    from allocator.scenario import scenario_from_dict

    manifest = _manifest(folder)
    settings = (manifest or {}).get("scenario", {}).get("settings")
    if not isinstance(settings, dict):
        raise InputError([f"{folder}: not an allocator output folder (no usable manifest.json)"])
    return scenario_from_dict(settings, source=str(folder / "manifest.json"))


def _reusable(folder: Path, scenario: Scenario) -> bool:
    """The folder holds this scenario's results, solved from inputs with the same content."""
    from allocator.files import sha256

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
    from allocator.track import (
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
        _write_csv(simulated, out / "actuals.csv")
    print(attainment.summary())
    if rephased is not None:
        print(rephased.summary())
    print(f"tracking written to {out.resolve()} (open track.html)")
    return 0


def cmd_rebalance(args: argparse.Namespace) -> int:
    from allocator.rebalance import load_changes, rebalance

    tracked, folder = load_tracked(Path(args.source), args)
    changes = load_changes(args.changes, tracked.tables)
    result = rebalance(tracked, changes)
    out = Path(args.out) if args.out else folder / "rebalance"
    write_rebalance(result, out, title=f"Rebalancing: {tracked.scenario.name}")
    print(result.summary())
    print(f"rebalancing written to {out.resolve()} (rebalance.csv, rebalance.html)")
    return 0


def cmd_activities(args: argparse.Namespace) -> int:
    from allocator.activities import activities_for, write_activities

    tracked, folder = load_tracked(Path(args.source), args)
    plan = activities_for(tracked)
    out = Path(args.out) if args.out else folder / "activities"
    write_activities(plan, out)
    print(plan.summary())
    print(f"activities written to {out.resolve()} (activities.csv)")
    return 0


# ---------------------------------------------------------------- files


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    from allocator.files import atomic_write

    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype).startswith("datetime64"):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: out.to_csv(p, index=False, lineterminator="\n"))
    return path


def write_track(
    outdir: str | Path, attainment: Attainment, rephased: Rephased | None, *, title: str
) -> list[Path]:
    """Write attainment.csv, attainment_reps.csv, burnup.csv, the re-phased tables (rephase.csv,
    rephased_days.csv, rephased_months.csv) and track.html / track.md with the burn-up chart."""
    from allocator.report import write_document

    outdir = Path(outdir)
    tables = {
        "attainment": attainment.rep_product,
        "attainment_reps": attainment.reps,
        "burnup": attainment.burnup,
    }
    if rephased is not None:
        tables |= {
            "rephase": rephased.pairs,
            "rephased_days": rephased.days,
            "rephased_months": rephased.months,
        }
    written = [_write_csv(frame, outdir / f"{stem}.csv") for stem, frame in tables.items()]
    subtitle = f"as of {attainment.as_of:%Y-%m-%d}"
    sections = track_sections(attainment, rephased)
    return written + write_document(outdir, "track", title, sections, subtitle=subtitle)


def track_sections(attainment: Attainment, rephased: Rephased | None) -> list[Section]:
    """The sections of track.html: summary, burn-up chart, reps behind, reps, re-phasing."""
    from allocator.plots import png
    from allocator.report import Bullets, Image, Section, Table, Text

    reps = attainment.reps
    behind = reps[reps["behind"]].sort_values("pace_attainment")
    shown = ["rep_id", "name", "team", "quota", "quota_to_date", "actual_to_date"]
    shown += ["attainment", "pace", "pace_attainment"]
    margin = f"{attainment.behind_margin:.0%}"
    sections = [
        Section(
            "Attainment", (Bullets(tuple(s.strip() for s in attainment.summary().splitlines())),)
        ),
        Section(
            "Burn-up per team",
            (
                Image(
                    "burnup",
                    "Cumulative quota (grey), actual sales (solid) and the projection at the "
                    "current run rate (dashed) per team",
                    png(burnup_figure(attainment.burnup, attainment.as_of)),
                ),
            ),
        ),
        Section(
            f"Reps behind pace by more than {margin}",
            (Table(behind[shown]),) if len(behind) else (Text("No rep is behind pace."),),
        ),
        Section("Reps", (Table(reps[shown]),)),
    ]
    if rephased is not None:
        per_rep = rephased.pairs.groupby("rep_id", as_index=False)[
            ["quota", "actual_to_date", "plan_remaining", "remaining", "new_total"]
        ].sum()
        sections.append(Section("Re-phased quotas", (Text(rephased.summary()), Table(per_rep))))
    return sections


def burnup_figure(burnup: pd.DataFrame, as_of: pd.Timestamp) -> Figure:
    """Small multiples, one per team ('all' first): cumulative quota, actual and projection."""
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    teams = list(dict.fromkeys(burnup["team"]))
    cols = min(_PANEL_COLUMNS, len(teams))
    rows = -(-len(teams) // cols)
    fig = Figure(figsize=(3.4 * cols, 2.5 * rows + 0.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, team in zip(axes.flat, teams, strict=False):
        data = burnup[burnup["team"] == team]
        ax.plot(data["date"], data["quota_cum"], color="#bdbdbd", linewidth=3, label="quota")
        ax.plot(data["date"], data["actual_cum"], color="#1f77b4", linewidth=1.8, label="actual")
        ax.plot(
            data["date"],
            data["projected_cum"],
            color="#1f77b4",
            linestyle="--",
            linewidth=1,
            label="at current pace",
        )
        ax.axvline(as_of, color="#d62728", linewidth=0.8)
        ax.set_title(f"{team}: {_burnup_title(data, as_of)}", fontsize=9)
        ax.yaxis.set_major_formatter(FuncFormatter(_short))
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=range(1, 13, 2)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(teams) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Burn-up as of {as_of:%Y-%m-%d} (red line)", fontsize=11)
    return fig


def _burnup_title(data: pd.DataFrame, as_of: pd.Timestamp) -> str:
    """'103% to date, pace 99%' for one team's burn-up rows."""
    now = data[data["date"] == as_of].iloc[0]
    end = data.iloc[-1]
    to_date = f"{now['actual_cum'] / now['quota_cum']:.0%}" if now["quota_cum"] else "-"
    pace = f"{end['projected_cum'] / end['quota_cum']:.0%}" if end["quota_cum"] else "-"
    return f"{to_date} to date, pace {pace}"


def _short(value: float, _: object) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    return f"{value / 1e3:.0f}k" if abs(value) >= 1e3 else f"{value:.0f}"


def write_rebalance(result: Rebalance, outdir: str | Path, *, title: str) -> list[Path]:
    """Write rebalance.csv (moves), rebalance_reps.csv, rebalance_assignments.csv,
    rebalance_quotas.csv (when quotas were allocated) and rebalance.html / .md."""
    from allocator.plots import png, territory_map
    from allocator.report import Image, Section, Table, Text, write_document

    outdir = Path(outdir)
    tables = {
        "rebalance": result.moves,
        "rebalance_reps": result.reps,
        "rebalance_assignments": result.assignment.assignments,
    }
    if result.quotas is not None:
        tables["rebalance_quotas"] = result.quotas.quotas
    written = [_write_csv(frame, outdir / f"{stem}.csv") for stem, frame in tables.items()]
    moves = result.moves
    reps = result.tables.active_reps
    figure = territory_map(result.tables.active_accounts, result.owners, reps)
    sections = [
        Section("Summary", (Text(result.summary().splitlines()[0]), Table(result.reps))),
        Section("Moves", (Table(moves),) if len(moves) else (Text("No account moves."),)),
        Section("Territory after", (Image("map", "Accounts by their new rep", png(figure)),)),
    ]
    return written + write_document(outdir, "rebalance", title, sections)
