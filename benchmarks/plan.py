"""What each benchmark part runs, full and ``--quick`` (sizes, seeds, time limits).

The GAP parts and ``side`` run every method of :data:`benchmarks.peers.METHODS` (or the
``--methods`` chosen), one subprocess per instance file (GAP) or company size and method;
``--instances`` keeps the instances whose name matches one of its shell patterns.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

__all__ = ["PARTS", "PEER_PARTS", "Case", "matches", "plan"]

PARTS = ("gap", "gapabcd", "yagiura", "scale", "quota", "side", "serve")
#: Parts that run the peers side by side (the others run ``ours`` only).
PEER_PARTS = ("gap", "gapabcd", "yagiura", "side")

#: Time limit per GAP instance (the issue's fixed limit) and in --quick.
GAP_LIMIT, GAP_QUICK = 60.0, 10.0
#: Generated companies: accounts, reps, regions, time limit (s).
SCALE = (
    (1000, 20, 20, 60.0),
    (5000, 50, 40, 60.0),
    (20000, 200, 100, 115.0),
    (50000, 500, 200, 590.0),
    # issue 19's targets: within 1% in 3 and 10 minutes, peak under 6 and 12 GB
    (100000, 1000, 400, 180.0),
    (250000, 2000, 800, 600.0),
)
#: ``solver.gap`` of the scale rows: the issue's targets are "within 1% of a proven bound" from
#: 100,000 accounts on; the smaller rows keep the demo's 0.5%.
SCALE_GAP = {100000: 0.01, 250000: 0.01}
SCALE_QUICK = ((1000, 20, 20, 30.0), (5000, 50, 40, 30.0))


@dataclass(frozen=True)
class Case:
    """One subprocess: its spec, how many rows it should print, and a wall-clock timeout."""

    part: str
    spec: dict[str, Any]
    expected: int
    timeout: float

    def missing(self) -> dict[str, Any]:
        """The identifying columns of a row that never came back."""
        s = self.spec
        name = Path(s["file"]).name if "file" in s else f"{s.get('accounts')}x{s.get('reps')}"
        return {"case": name, "method": s.get("method", "ours")}


def matches(case: str, patterns: Sequence[str] | None) -> bool:
    """True when ``patterns`` is empty or one matches ``case`` or its last part (``gapd/d05100``
    matches ``d*``)."""
    if not patterns:
        return True
    return any(fnmatch(case, p) or fnmatch(case.rsplit("/", 1)[-1], p) for p in patterns)


def _names(data: Path) -> dict[tuple[str, int], str]:
    """(file name, index in file) -> instance name, from ``optima.csv``."""
    with open(data / "optima.csv", newline="") as handle:
        return {
            (Path(r["file"]).name, int(r["index_in_file"])): r["instance"]
            for r in csv.DictReader(handle)
        }


def _gap_files(data: Path, part: str, quick: bool) -> list[tuple[Path, list[int] | None]]:
    if part == "gap":
        if quick:
            return [(data / "gap" / "gap1.txt", [1, 2]), (data / "gap" / "gap12.txt", [1])]
        return [(data / "gap" / f"gap{k}.txt", None) for k in range(1, 13)]
    if part == "gapabcd":
        if quick:
            return [(data / "gap" / "gapa.txt", [1]), (data / "gap" / "gapd.txt", [1])]
        return [(data / "gap" / f"gap{k}.txt", None) for k in "abcd"]
    if quick:
        return [(data / "yagiura" / "c10400", None), (data / "yagiura" / "e05100", None)]
    return sorted(((p, None) for p in (data / "yagiura").iterdir()), key=lambda t: _yorder(t[0]))


def _yorder(path: Path) -> tuple[str, int, int]:
    """Yagiura names are type, 2-digit agents, jobs (``c201600``): smallest first per type."""
    name = path.name
    return name[0], int(name[3:]), int(name[1:3])


def _gap_cases(
    part: str,
    quick: bool,
    data: Path,
    methods: Sequence[str],
    instances: Sequence[str] | None,
    limit: float | None,
) -> list[Case]:
    limit = limit or (GAP_QUICK if quick else GAP_LIMIT)
    names = _names(data)
    out = []
    for path, indices in _gap_files(data, part, quick):
        count = (
            len(indices)
            if indices
            else (1 if part == "yagiura" else (5 if path.stem[3:].isdigit() else 6))
        )
        stem = path.stem if path.parent.name == "gap" else ""
        chosen = [
            k
            for k in (indices or range(1, count + 1))
            if matches(f"{stem}/{names.get((path.name, k), '')}".lstrip("/"), instances)
        ]
        if not chosen:
            continue
        indices, count = (chosen, len(chosen)) if instances or indices else (None, count)
        spec = {
            "kind": "gap",
            "file": str(path),
            "optima": str(data / "optima.csv"),
            "time_limit": limit,
            "threads": 1,
            "indices": indices,
        }
        base = Case(part, spec, count, count * (limit + 30) + 60)
        out += [replace(base, spec={**spec, "method": m}) for m in methods]
    return out


def _company_cases(part: str, quick: bool, methods: Sequence[str]) -> list[Case]:
    if part == "scale":
        return [
            Case(
                part,
                {
                    "kind": "scale",
                    "accounts": a,
                    "reps": r,
                    "regions": g,
                    "time_limit": t,
                    "threads": 1,
                    "gap": SCALE_GAP.get(a, 0.005),
                },
                1,
                2 * t + 180,
            )
            for a, r, g, t in (SCALE_QUICK if quick else SCALE)
        ]
    if part == "quota":
        size = (2000, 100) if quick else (10000, 500)
        spec = {
            "kind": "quota",
            "accounts": size[0],
            "reps": size[1],
            "regions": 40,
            "products": 20,
            "time_limit": 60.0,
            "threads": 2,
        }
        return [Case(part, spec, 1, 400)]
    sizes = SCALE_QUICK[:1] if quick else SCALE[:2]
    limit = 10.0 if quick else 60.0
    out = [
        Case(
            part,
            {
                "kind": "side",
                "method": m,
                "accounts": a,
                "reps": r,
                "regions": g,
                "time_limit": limit,
                "threads": 1,
            },
            1,
            3 * limit + 180,
        )
        for a, r, g, _ in sizes
        for m in methods
    ]
    if not quick:
        a, r, g, _ = SCALE[2]
        base = {"kind": "side", "accounts": a, "reps": r, "regions": g, "threads": 1}
        if "highs" in methods:
            out.append(Case(part, {**base, "method": "highs", "time_limit": 120.0}, 1, 500))
        if "naive" in methods:
            spec = {**base, "method": "naive", "time_limit": 120.0, "build_only": True}
            out.append(Case(part, spec, 1, 400))
    return out


def plan(
    part: str,
    *,
    quick: bool,
    data: Path,
    methods: Sequence[str] | None = None,
    instances: Sequence[str] | None = None,
    gap_limit: float | None = None,
) -> tuple[list[Case], str]:
    """The cases of ``part``, or an empty list and why it is skipped.

    ``methods`` (default: all of :data:`benchmarks.peers.METHODS`) applies to the peer parts;
    the others run ``ours`` and are skipped when it is not chosen. ``instances``: shell
    patterns of case names (``d*``, ``gapd/*``, ``1000x20``); None keeps every case.
    ``gap_limit`` replaces the GAP parts' seconds per instance (default 60, 10 with ``quick``).
    """
    from benchmarks.peers import METHODS

    methods = tuple(methods or METHODS)
    if part not in PEER_PARTS and "ours" not in methods:
        return [], "runs only ours (not in --methods)"
    if part in ("gap", "gapabcd", "yagiura"):
        if not (data / "optima.csv").exists():
            return [], f"benchmark data not found at {data} (expected ../shared/benchmarks)"
        return _gap_cases(part, quick, data, methods, instances, gap_limit), ""
    cases = _serve_cases(quick) if part == "serve" else _company_cases(part, quick, methods)
    return [c for c in cases if matches(c.missing()["case"], instances)], ""


def _serve_cases(quick: bool) -> list[Case]:
    """``allocator serve`` edit latency: the demo's size (solved) and 20,000 accounts."""
    edits = 10 if quick else 30
    demo = {"kind": "serve", "accounts": 2000, "reps": 40, "regions": 30, "peer": True}
    big = {"kind": "serve", "accounts": 20000, "reps": 200, "regions": 100, "solve": False}
    return [
        Case("serve", {**demo, "edits": edits}, 3, 600),
        Case("serve", {**big, "edits": edits}, 2, 900),
    ]
