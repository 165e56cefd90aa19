"""The peers side by side in ``results.md``: excess, time to quality, a summary per part.

``excess`` is how far a method's checked objective is from the reference, in the instance's
own sense (positive is worse): the published best for GAP (``vs_published``), and for
territory cases the best proven bound any exact method reported for that case in the same
file (ours, HiGHS direct; CP-SAT's bound is of its rounded model and is not used).
``to 1%`` and ``to 0.5%`` are the first seconds at which the method's trace (running best)
came within that much of the reference; blank when it never did.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["PEER_COLUMNS", "enrich", "has_peers", "peer_line", "peer_summary"]

ORDER = ("ours", "highs", "arrays", "cpsat", "naive")
PEER_COLUMNS = [
    "case",
    "size",
    "method",
    "status",
    "objective",
    "excess",
    "to 1%",
    "to 0.5%",
    "bound",
    "seconds",
    "peak_mb",
    "load",
    "check",
]
#: Exact methods whose bound is valid for the territory case.
BOUND_METHODS = ("ours", "highs", "arrays")


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def has_peers(rows: Sequence[dict[str, Any]]) -> bool:
    """True when some row is of another method than ours."""
    return any((r.get("method") or "ours") != "ours" for r in rows)


def _reference(rows: Sequence[dict[str, Any]], case: str) -> tuple[float | None, float]:
    """(reference value, sign): published best (GAP) or the best valid bound (territory)."""
    mine = [r for r in rows if r.get("case") == case]
    sign = -1.0 if any(r.get("sense") == "max" for r in mine) else 1.0
    published = [_num(r.get("published")) for r in mine]
    if any(p is not None for p in published):
        return next(p for p in published if p is not None), sign
    bounds = [
        b
        for r in mine
        if (r.get("method") or "ours") in BOUND_METHODS and (b := _num(r.get("bound"))) is not None
    ]
    return (max(bounds) if bounds else None), sign


def _excess(value: float | None, ref: float | None, sign: float) -> float | None:
    if value is None or ref is None:
        return None
    return sign * (value - ref) / max(abs(ref), 1e-9)


def _time_to(trace: str, ref: float | None, sign: float, within: float) -> float | None:
    try:
        points = json.loads(trace) if trace else []
    except ValueError:
        return None
    for seconds, objective in points:
        excess = _excess(float(objective), ref, sign)
        if excess is not None and excess <= within + 1e-12:
            return float(seconds)
    return None


def enrich(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``excess``, ``to 1%``, ``to 0.5%``, sorted by case then method."""
    out = []
    for r in rows:
        ref, sign = _reference(rows, str(r.get("case")))
        checked = r.get("check") == "ok"
        objective = _num(r.get("objective")) if checked else None
        out.append(
            {
                **r,
                "method": r.get("method") or "ours",
                "excess": _excess(objective, ref, sign),
                "to 1%": _time_to(str(r.get("trace") or ""), ref, sign, 0.01),
                "to 0.5%": _time_to(str(r.get("trace") or ""), ref, sign, 0.005),
            }
        )
    cases = list(dict.fromkeys(str(r.get("case")) for r in rows))
    rank = {m: k for k, m in enumerate(ORDER)}
    return sorted(out, key=lambda r: (cases.index(str(r["case"])), rank.get(r["method"], 9)))


def peer_summary(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per method: cases run, mean excess, wins (best excess of the case, ties shared),
    within 0.3% and within 0.5% of the reference, mean seconds.

    When the methods ran different cases (say allocator on every instance, the peers on the
    type-d ones), a second table compares them on the cases every method ran, so a mean
    excess is never set against a mean over other instances.
    """
    rich = enrich(rows)
    methods, common = _methods_and_common(rich)
    cases = len({r["case"] for r in rich})
    lines = _summary_table(
        rich,
        methods,
        f"Summary over {cases} case(s) (excess vs. the reference; a method without a checked "
        "answer counts as a miss; wins are shared on ties):",
    )
    if len(methods) > 1 and common and len(common) < cases:
        lines += _summary_table(
            [r for r in rich if r["case"] in common],
            methods,
            f"The same over the {len(common)} case(s) every method ran:",
        )
    return lines


def _methods_and_common(rich: list[dict[str, Any]]) -> tuple[list[str], set[str]]:
    """The methods in order of appearance, and the cases every one of them ran."""
    methods = list(dict.fromkeys(r["method"] for r in rich))
    ran = [{r["case"] for r in rich if r["method"] == m} for m in methods]
    return methods, set.intersection(*ran) if ran else set()


def _summary_table(rich: list[dict[str, Any]], methods: list[str], title: str) -> list[str]:
    best: dict[str, float] = {}
    for r in rich:
        if r["excess"] is not None:
            best[r["case"]] = min(best.get(r["case"], math.inf), r["excess"])
    lines = [
        title,
        "",
        "| method | answered | mean excess | wins | within 0.3% | within 0.5% | mean seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        mine = [r for r in rich if r["method"] == m]
        done = [r["excess"] for r in mine if r["excess"] is not None]
        wins = sum(
            1 for r in mine if r["excess"] is not None and r["excess"] <= best[r["case"]] + 1e-9
        )
        secs = [s for r in mine if (s := _num(r.get("seconds"))) is not None]
        mean = f"{100 * sum(done) / len(done):.3f}%" if done else ""
        lines.append(
            f"| {m} | {len(done)} of {len(mine)} | {mean} | {wins} | "
            f"{sum(e <= 0.003 + 1e-12 for e in done)} | {sum(e <= 0.005 + 1e-12 for e in done)} | "
            f"{sum(secs) / len(secs):.1f} |"
            if secs
            else f"| {m} | {len(done)} of {len(mine)} | {mean} | {wins} | | | |"
        )
    return [*lines, ""]


def peer_line(rows: Sequence[dict[str, Any]]) -> str | None:
    """One headline sentence: mean excess per method on the cases every method ran, and on how
    many of them allocator's excess is strictly below each peer's (None without peers)."""
    rich = enrich(rows)
    methods, common = _methods_and_common(rich)
    if "ours" not in methods or len(methods) < 2:
        return None
    excess = {(r["case"], r["method"]): r["excess"] for r in rich if r["case"] in common}

    def mean(m: str) -> str:
        done = [e for c in common if (e := excess.get((c, m))) is not None]
        return f"{100 * sum(done) / len(done):.3f}%" if done else "no answer"

    def ahead(m: str) -> int:
        miss = math.inf
        return sum(
            1
            for c in common
            if (ours := excess.get((c, "ours"))) is not None
            and ours < (excess.get((c, m)) if excess.get((c, m)) is not None else miss) - 1e-9
        )

    peers = [m for m in methods if m != "ours"]
    means = ", ".join(f"{m} {mean(m)}" for m in methods)
    better = ", ".join(f"{ahead(m)} vs {m}" for m in peers)
    return (
        f"on the {len(common)} case(s) all methods ran (same run, same wall time, 1 thread): "
        f"mean excess {means}; allocator strictly better on {better}"
    )
