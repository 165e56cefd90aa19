"""Run the benchmark suite: ``python -m benchmarks.run [--quick] [--only PART ...]``.

Parts: ``gap`` (OR-Library gap1-gap12, maximisation, proven optima), ``gapabcd`` (gapa-gapd),
``yagiura`` (types c, d, e), ``scale`` (generated companies, demo constraints), ``quota`` (the
quota LP), ``side`` (our model against a naive dense PuLP model and the dense model from numpy
arrays); ``maps`` (contiguous territories on the real maps of ``../shared/maps`` against
GerryChain, :mod:`benchmarks.maps`, its own table ``results_maps.md``). Each case runs in its
own process (:mod:`benchmarks.cases`) with a time limit; every row is appended to the CSV as
soon as it is known, and the Markdown is re-rendered after each case, so an interrupted run
still leaves its finished rows. Re-running a part replaces that part's rows only. The OR-Library
files are read from ``../shared/benchmarks`` relative to the repository root; without them the
GAP parts are skipped with a message.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.peers import METHODS
from benchmarks.plan import PARTS, PEER_PARTS, Case, matches, plan
from benchmarks.render import COLUMNS, render

__all__ = ["main", "run_case"]

log = logging.getLogger("allocator")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "benchmarks"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock next to ``path`` (parts may run in parallel processes)."""
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _chosen(
    row: dict[str, Any],
    parts: Sequence[str],
    methods: Sequence[str] | None,
    instances: Sequence[str] | None,
) -> bool:
    """Whether ``row`` is of one of ``parts`` and, when given, of ``methods`` and ``instances``."""
    return (
        row.get("part") in parts
        and (not methods or (row.get("method") or "ours") in methods)
        and matches(row.get("case") or "", instances)
    )


def _update(
    out: Path,
    *,
    drop_parts: Sequence[str] = (),
    add: Sequence[dict[str, Any]] = (),
    methods: Sequence[str] | None = None,
    instances: Sequence[str] | None = None,
) -> None:
    """Drop the rows of ``drop_parts`` (only those of ``methods`` and ``instances`` when given),
    append ``add`` to ``out.csv``, and re-render ``out.md``, in one locked step."""
    csv_path, md_path = out.with_suffix(".csv"), out.with_suffix(".md")
    with _locked(csv_path):
        rows: list[dict[str, Any]] = list(_read(csv_path))
        rows = [r for r in rows if not _chosen(r, drop_parts, methods, instances)]
        rows.extend(add)
        _write(csv_path, rows)
        tmp = md_path.with_suffix(".md.tmp")
        tmp.write_text(render(rows, notes=HERE / "notes.md"))
        tmp.replace(md_path)


def _merge(
    source: Path,
    out: Path,
    parts: Sequence[str] | None,
    methods: Sequence[str] | None,
    instances: Sequence[str] | None,
) -> int:
    """Replace ``out``'s rows of ``parts`` (and ``methods``/``instances``) by ``source``'s.

    For rows measured elsewhere (a helper's worktree, a peers run): the rows keep their own
    load, date and columns, so the table still says when and how each was measured.
    """
    if not parts or not source.exists():
        print("error: --merge needs an existing CSV and --only PART ...", file=sys.stderr)
        return 2
    chosen = [r for r in _read(source) if _chosen(r, parts, methods, instances)]
    _update(out, drop_parts=parts, add=chosen, methods=methods, instances=instances)
    print(f"merged {len(chosen)} row(s) of {', '.join(parts)} from {source} into {out}.csv")
    return 0


def run_case(case: Case, out: Path) -> int:
    """Run one case in a subprocess; append each of its rows; return how many rows came back."""
    cmd = [sys.executable, "-m", "benchmarks.cases", json.dumps(case.spec)]
    began = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    got = 0
    assert proc.stdout is not None
    deadline = began + case.timeout
    # a case that prints nothing is killed at its timeout too (the loop below waits on lines)
    killer = threading.Timer(case.timeout, proc.kill)
    killer.daemon = True
    killer.start()
    for line in proc.stdout:
        if line.startswith("ROW "):
            row = {**json.loads(line[4:]), **_context(case)}
            _update(out, add=[row])
            got += 1
            print(
                f"  {row['case']} {row.get('method', '')}: {row.get('status')} "
                f"obj {row.get('objective')} in {row.get('seconds')} s",
                flush=True,
            )
        if time.perf_counter() > deadline:
            proc.kill()
            break
    try:
        _, err = proc.communicate(timeout=max(1.0, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    killer.cancel()
    if proc.returncode != 0 or got < case.expected:
        why = (err or "").strip().splitlines()[-1:] or [f"killed after {case.timeout:.0f} s"]
        _update(
            out,
            add=[
                {
                    **case.missing(),
                    **_context(case),
                    "status": "failed",
                    "detail": f"exit {proc.returncode}: {why[0][:300]}",
                }
            ],
        )
    return got


def _context(case: Case) -> dict[str, Any]:
    return {
        "part": case.part,
        "time_limit": case.spec.get("time_limit"),
        "threads": case.spec.get("threads"),
        "load": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _seconds(text: str) -> float:
    """A positive number of seconds, for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen parts (all by default) and write ``<out>.csv`` and ``<out>.md``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a subset with short limits")
    parser.add_argument("--only", nargs="+", choices=(*PARTS, "maps"), help="run only these parts")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        help=f"methods of the peer parts ({', '.join(PEER_PARTS)}); default all",
    )
    parser.add_argument(
        "--instances",
        nargs="+",
        metavar="PATTERN",
        help="only cases whose name matches a shell pattern (d*, gapd/*, 1000x20)",
    )
    parser.add_argument(
        "--gap-limit",
        type=_seconds,
        metavar="SECONDS",
        help="seconds per GAP instance (default 60, 10 with --quick)",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        metavar="CSV",
        help="run nothing: copy the rows of --only's parts (and --methods/--instances) from "
        "another results CSV, replacing those rows",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output prefix (default benchmarks/results, or benchmarks/results_quick with --quick)",
    )
    args = parser.parse_args(argv)
    out = args.out or HERE / ("results_quick" if args.quick else "results")
    if args.merge is not None:
        return _merge(args.merge, out, args.only, args.methods, args.instances)
    parts = args.only or (*PARTS, "maps")
    plans = {
        part: plan(
            part,
            quick=args.quick,
            data=DATA,
            methods=args.methods,
            instances=args.instances,
            gap_limit=args.gap_limit,
        )
        for part in parts
        if part != "maps"
    }
    if args.instances and not any(cases for cases, _ in plans.values()):
        # before any row is dropped: a typo must not empty the results table
        print(
            f"benchmarks.run: --instances {' '.join(args.instances)} matches no case of "
            f"{', '.join(plans)}; names look like gapd/d20100, d40400 or 100000x1000",
            file=sys.stderr,
        )
        return 2
    for part in parts:
        if part == "maps":  # its own runner and table (benchmarks/maps.py)
            from benchmarks.maps import main as maps_main

            maps_main(["--quick"] if args.quick else [])
            continue
        cases, skipped = plans[part]
        if skipped:
            print(f"{part}: skipped: {skipped}", flush=True)
            continue
        print(f"{part}: {len(cases)} case(s)", flush=True)
        _update(out, drop_parts=[part], methods=args.methods, instances=args.instances)
        for case in cases:
            run_case(case, out)
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.md')}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
