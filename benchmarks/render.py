"""``results.md`` from the rows of ``results.csv`` (and the hand-written ``notes.md``)."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.render_peers import PEER_COLUMNS, enrich, has_peers, peer_line, peer_summary

__all__ = ["COLUMNS", "HEADLINE_END", "HEADLINE_START", "headline", "render"]

COLUMNS = [
    "part",
    "case",
    "size",
    "method",
    "sense",
    "status",
    "objective",
    "bound",
    "gap",
    "published",
    "published_status",
    "vs_published",
    "seconds",
    "build_s",
    "solve_s",
    "build_share",
    "peak_mb",
    "time_limit",
    "threads",
    "load",
    "cpus",
    "check",
    "detail",
    "trace",
    "finished",
]

TITLES = {
    "gap": "OR-Library gap1-gap12 (maximisation, proven optima)",
    "gapabcd": "OR-Library gapa-gapd (minimisation, best known / optimal)",
    "yagiura": "Yagiura types c, d, e (minimisation, best known)",
    "scale": "Scale: generated companies, demo constraints",
    "quota": "Quota LP",
    "side": "Side by side: our model, HiGHS direct (numpy arrays), CP-SAT, naive dense PuLP",
    "serve": "allocator serve: edit to updated metrics (no solver), beside a re-solve",
}

SHOW = {
    "gap": [
        "case",
        "size",
        "status",
        "objective",
        "published",
        "vs_published",
        "bound",
        "seconds",
        "check",
    ],
    "scale": [
        "case",
        "status",
        "objective",
        "bound",
        "gap",
        "seconds",
        "build_s",
        "solve_s",
        "build_share",
        "peak_mb",
        "time_limit",
        "load",
        "check",
        "detail",
    ],
    "quota": [
        "case",
        "status",
        "objective",
        "seconds",
        "solve_s",
        "peak_mb",
        "load",
        "check",
        "detail",
    ],
    "serve": ["case", "method", "status", "seconds", "peak_mb", "load", "check", "detail"],
    "side": [
        "case",
        "method",
        "status",
        "objective",
        "bound",
        "gap",
        "seconds",
        "build_s",
        "solve_s",
        "peak_mb",
        "load",
        "check",
        "detail",
    ],
}


def _fmt(key: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value).replace("|", "/")
    if key in ("gap", "vs_published", "build_share", "excess"):
        return f"{100 * number + 0.0:.3f}%"
    if key in ("objective", "bound", "published"):
        return f"{number:,.1f}" if abs(number) >= 1000 else f"{number:g}"
    return f"{number:g}"


def _table(rows: Sequence[dict[str, Any]], columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(c, r.get(c)) for c in columns) + " |" for r in rows]
    return lines


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _gap_summary(rows: Sequence[dict[str, Any]]) -> str:
    """How many instances hit the published value, how many within 0.5%, total seconds."""
    done = [r for r in rows if _num(r.get("vs_published")) is not None]
    worse = [_num(r["vs_published"]) or 0.0 for r in done]
    exact = sum(w <= 1e-9 for w in worse)
    close = sum(w <= 0.005 for w in worse)
    seconds = sum(_num(r.get("seconds")) or 0.0 for r in done)
    failed = len(rows) - len(done)
    return (
        f"{len(done)} solved ({failed} failed/not run): {exact} at the published value, "
        f"{close} within 0.5%, worst {100 * max(worse, default=0):.3f}%, "
        f"total {seconds:.1f} s (limit {rows[0].get('time_limit') if rows else ''} s each)."
    )


#: The headline table sits between these markers in ``results.md`` and in the README, which
#: copies it (``python -m benchmarks.render --readme``; ``tests/test_readme.py`` compares them).
HEADLINE_START = "<!-- benchmarks-headline: generated from benchmarks/results.csv -->"
HEADLINE_END = "<!-- /benchmarks-headline -->"


def _gap_line(rows: Sequence[dict[str, Any]]) -> str:
    done = [r for r in rows if _num(r.get("vs_published")) is not None]
    excess = {r["case"]: _num(r["vs_published"]) or 0.0 for r in done}
    exact = sum(e <= 1e-9 for e in excess.values())
    target = sum(e <= 0.003 + 1e-12 for e in excess.values())
    close = sum(e <= 0.005 for e in excess.values())
    misses = ", ".join(f"{c} +{100 * e:.2f}%" for c, e in excess.items() if e > 0.003 + 1e-12)
    limit = _fmt("time_limit", rows[0].get("time_limit")) if rows else ""
    seconds = sum(_num(r.get("seconds")) or 0.0 for r in done)
    text = (
        f"{exact} of {len(rows)} at the published value, {target} within 0.3%, {close} within "
        f"0.5% ({limit} s limit each, {seconds:,.0f} s in total)"
    )
    return f"{text}; over 0.3%: {misses}" if misses else text


def _solve_line(row: dict[str, Any]) -> str:
    parts = [str(row.get("status", ""))]
    if _num(row.get("gap")) is not None:
        parts.append(f"{_fmt('gap', row['gap'])} from the proven bound")
    if _num(row.get("seconds")) is not None:
        parts.append(f"{_fmt('seconds', row['seconds'])} s")
    if _num(row.get("peak_mb")) is not None:
        parts.append(f"peak {_num(row['peak_mb']) or 0:,.0f} MB")
    if row.get("status") == "failed" and row.get("detail"):  # say why, in a few words
        why = str(row["detail"]).split("Error: ")[-1].split("; not a proof")[0]
        parts.append(f"{why[:160]} (limit {_fmt('time_limit', row.get('time_limit'))} s)")
    return ", ".join(parts)


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Company cases by size (``1000x20`` before ``50000x500``), whatever order they ran in
    (parts are re-run and merged case by case); other cases keep their order."""

    def size(row: dict[str, Any]) -> tuple[int, ...]:
        head, _, tail = str(row.get("case") or "").partition("x")
        return (int(head), int(tail)) if head.isdigit() and tail.isdigit() else ()

    if not all(size(r) for r in rows):
        return rows
    return sorted(rows, key=size)


def headline(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per benchmark part: the numbers a README may quote, all from ``rows``."""
    lines = [HEADLINE_START, "", "| benchmark | result |", "|---|---|"]
    for part, title in TITLES.items():
        mine = _ordered([r for r in rows if r.get("part") == part])
        if part in ("gap", "gapabcd", "yagiura"):  # allocator's line, then the peers'
            ours = [r for r in mine if (r.get("method") or "ours") == "ours"]
            if ours:
                lines.append(f"| {title} | {_gap_line(ours)} |")
            if has_peers(mine) and (peers := peer_line(mine)):
                lines.append(f"| {title.split(' (')[0]}, peers side by side | {peers} |")
            continue
        if not mine:
            continue
        for row in mine:
            case = " ".join(str(row.get(k) or "") for k in ("case", "method")).strip()
            lines.append(f"| {title.split(':')[0]}: {case} | {_solve_line(row)} |")
    return [*lines, "", HEADLINE_END]


def render(rows: Sequence[dict[str, Any]], *, notes: Path | None = None) -> str:
    """The whole Markdown page."""
    loads = [_num(r.get("load")) for r in rows if _num(r.get("load")) is not None]
    out = [
        "# Benchmark results",
        "",
        f"Rendered {time.strftime('%Y-%m-%d %H:%M')} on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} CPUs, {platform.python_version()} Python; 1-minute load average "
        f"while the rows finished: {min(loads, default=0):.2f}-{max(loads, default=0):.2f} "
        "(other jobs shared the machine; timings are noisy). Generated by "
        "`python -m benchmarks.run` from `results.csv`; the notes below the tables are "
        "`benchmarks/notes.md`.",
        "",
        "## Headline",
        "",
        *headline(rows),
        "",
    ]
    for part, title in TITLES.items():
        mine = _ordered([r for r in rows if r.get("part") == part])
        out += [f"## {title}", ""]
        if not mine:
            out += ["Not run in this file.", ""]
            continue
        if has_peers(mine):
            out += [*peer_summary(mine), *_table(enrich(mine), PEER_COLUMNS), ""]
            continue
        if part in ("gap", "gapabcd", "yagiura"):
            out += [_gap_summary(mine), ""]
        out += [*_table(mine, SHOW.get(part, SHOW["gap"])), ""]
    if notes is not None and notes.exists():
        out += [notes.read_text().rstrip(), ""]
    return "\n".join(out)


def _readme_sync(results: Path, readme: Path) -> None:
    """Copy the headline block of ``results`` into ``readme`` (between the same markers)."""
    block = _block(results.read_text(), results)
    text = readme.read_text()
    start, end = text.index(HEADLINE_START), text.index(HEADLINE_END) + len(HEADLINE_END)
    readme.write_text(text[:start] + block + text[end:])


def _block(text: str, where: Path) -> str:
    if HEADLINE_START not in text or HEADLINE_END not in text:
        raise SystemExit(f"{where}: no headline block ({HEADLINE_START})")
    return text[text.index(HEADLINE_START) : text.index(HEADLINE_END) + len(HEADLINE_END)]


if __name__ == "__main__":
    import csv
    import sys

    here = Path(__file__).resolve().parent
    with open(here / "results.csv", newline="") as handle:
        found = list(csv.DictReader(handle))
    (here / "results.md").write_text(render(found, notes=here / "notes.md"))
    if "--readme" in sys.argv[1:]:
        _readme_sync(here / "results.md", here.parent / "README.md")
