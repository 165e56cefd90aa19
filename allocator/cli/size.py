"""``allocator size``: how many reps, and where, to cover the potential at a target utilisation
(:mod:`allocator.territory.sizing`, ``models/organisation.md``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from allocator.exceptions import ScenarioError

__all__ = ["add_size_parser", "cmd_size", "parse_counts"]


def parse_counts(text: str, current: int) -> list[int]:
    """``30:50:2`` -> 30, 32, ..., 50; ``""`` -> 75% to 125% of today's count in ~10 steps.

    Raises
    ------
    ScenarioError
        When the text is not ``MIN:MAX`` or ``MIN:MAX:STEP`` with 1 <= MIN <= MAX, STEP >= 1.
    """
    if not text:
        low, high = max(1, round(0.75 * current)), max(2, round(1.25 * current))
        return list(range(low, high + 1, max(1, round((high - low) / 10))))
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        parts = []
    if len(parts) not in (2, 3) or parts[0] < 1 or parts[1] < parts[0] or min(parts) < 1:
        raise ScenarioError(
            f"--reps: expected MIN:MAX or MIN:MAX:STEP (e.g. 30:50:2), got {text!r}"
        )
    step = parts[2] if len(parts) == 3 else 1
    return list(range(parts[0], parts[1] + 1, step))


def cmd_size(args: argparse.Namespace) -> int:
    from allocator.io.data import load_inputs
    from allocator.io.files import atomic_write
    from allocator.io.scenario import load_scenario
    from allocator.plan import territory_tables
    from allocator.report.plots import png
    from allocator.report.sizing import sizing_figure
    from allocator.territory.sizing import size_team

    scenario = load_scenario(args.scenario)
    tables = territory_tables(scenario, load_inputs(scenario))
    counts = parse_counts(args.reps or "", len(tables.active_reps))
    capacity = scenario.assignment.constraints.capacity
    result = size_team(
        tables,
        counts,
        utilization=args.utilization,
        coverage=args.coverage,
        travel_hours_per_km=capacity.travel_hours_per_km if capacity else 0.0,
    )
    out = Path(args.out) if args.out else Path("output") / f"{scenario.name}-size"
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "sizing.csv": lambda p: result.curve.to_csv(p, index=False, lineterminator="\n"),
        "placements.csv": lambda p: result.placements.to_csv(p, index=False, lineterminator="\n"),
        "sizing.png": lambda p: p.write_bytes(png(sizing_figure(result))),
    }
    for name, write in written.items():
        atomic_write(out / name, write)
    print(result.summary())
    print(f"sizing written to {out.resolve()} ({', '.join(written)})")
    return 0


def add_size_parser(sub: Any) -> None:
    """Add ``size`` to the sub-parsers ``sub``."""
    p = sub.add_parser(
        "size",
        help="headcount: coverage, utilisation, travel and balance by rep count, and where to add",
    )
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument(
        "--reps", metavar="MIN:MAX[:STEP]", help="rep counts to try (default: 75%%-125%% of today)"
    )
    p.add_argument(
        "--utilization",
        type=_share,
        default=0.85,
        metavar="U",
        help="share of capacity a rep may fill (default 0.85)",
    )
    p.add_argument(
        "--coverage",
        type=_share,
        default=0.95,
        metavar="C",
        help="share of potential to cover (default 0.95)",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default: ./output/<name>-size)")
    p.set_defaults(func=cmd_size)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1], got {text!r}")
    return value
