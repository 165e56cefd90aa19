"""``allocator sweep``: every variant of a sweep, in parallel, locally or on Dask."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from allocator.exceptions import AllocatorError, ScenarioError

__all__ = ["add_sweep_parser", "cmd_sweep"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text}")
    return value


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``allocator sweep`` to an argparse sub-parsers object (``func=cmd_sweep``)."""
    p = subparsers.add_parser(
        "sweep",
        help="solve every variant of a sweep, in parallel, and compare them",
        description="Solve the variants of SWEEP (its sweep: block), one folder each, plus "
        "sweep.csv and sweep.html. A re-run skips the variants already solved in DIR.",
    )
    p.add_argument("sweep", metavar="SWEEP", help="scenario YAML file with a sweep: block")
    p.add_argument("--out", metavar="DIR", help="output folder (default: output/NAME)")
    p.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="local worker processes (default: one per core); 1 runs in-process",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--dask",
        choices=["local"],
        help="run on a Dask LocalCluster on this machine (needs allocator[dask])",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster at ADDRESS, e.g. tcp://host:8786",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a variant is infeasible or fails (default: 0, see sweep.csv)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument(
        "--solver", choices=["highs", "cbc"], help="solver backend (default: scenario's)"
    )
    p.add_argument("--time-limit", type=float, metavar="S", help="solver time limit per variant")
    p.add_argument("--gap", type=float, metavar="G", help="relative MIP gap to stop at")
    p.add_argument(
        "--force",
        action="store_true",
        help="write over a folder of another sweep, with edited files or files allocator did "
        "not write",
    )
    p.set_defaults(func=cmd_sweep)
    return p


def cmd_sweep(args: argparse.Namespace) -> int:
    """``allocator sweep``: 0 when done (1 with ``--strict`` and a failed variant)."""
    from allocator.io.scenario import load_scenario
    from allocator.sweep.grid import expand_sweep, split_sweep_block
    from allocator.sweep.progress import FAILED
    from allocator.sweep.run import default_out, run_variants

    path = str(args.sweep)
    base = load_scenario(path)
    options = {
        "solver.name": args.solver,
        "solver.time_limit": args.time_limit,
        "solver.gap": args.gap,
    }
    changes = {key: value for key, value in options.items() if value is not None}
    if changes:
        base = base.replace(changes, source=path)
    if not base.sweep:
        raise ScenarioError(f"{path}: no sweep: block (key paths with lists of values)")
    grid, named = split_sweep_block(base.sweep, source=path)
    items = expand_sweep(base, grid, named, source=path)
    out = Path(args.out) if args.out else default_out(base)
    show = not (args.no_progress or getattr(args, "quiet", False))
    with _client(args) as client:
        frame = run_variants(
            base, items, out, workers=args.workers, client=client, progress=show, force=args.force
        )
    counts = frame["status"].value_counts()
    summary = ", ".join(f"{n} {status}" for status, n in counts.sort_index().items())
    print(f"sweep {base.name}: {len(frame)} variants: {summary}")
    print(f"results in {(out / 'sweep.csv').resolve()} and sweep.html")
    failed = int(frame["status"].isin(FAILED).sum())
    return 1 if args.strict and failed else 0


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """A Dask client for ``--dask local`` / ``--scheduler``, closed at the end; else None."""
    if not (getattr(args, "dask", None) or getattr(args, "scheduler", None)):
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise AllocatorError(
            "running on Dask needs the dask extra: pip install 'allocator[dask]'"
        ) from None
    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise AllocatorError(
                f"cannot reach the Dask scheduler at {args.scheduler}: {exc}"
            ) from None
        with client:
            yield client
        return
    n = args.workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
