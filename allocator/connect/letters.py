"""Quota letters: one printable page per rep, as HTML and (where Chromium is at hand) PDF.

Each page holds the rep's territory summary and a map thumbnail (the rep's territory among the
others, an inline SVG: the page works offline and prints sharp), the quota by product and month,
the tiers (base, target, stretch) per product, the expense budget where the plan has one, and a
signature block for the rep and the manager. :func:`letter_pages` builds the pages from a
:class:`~allocator.connect.folder.PlanFolder`; :func:`write_letters` writes ``<rep_id>.html``
per rep and ``letters.html`` (all pages, one per sheet of paper); :func:`print_pdf` prints that
file to ``letters.pdf`` with headless Chromium through Playwright (the browser the project
already tests its pages in: it prints the very HTML a reader sees, CSS page breaks included, with
no second layout engine to keep in step), and returns ``None`` when Playwright or a Chromium
executable is missing.
"""

from __future__ import annotations

import html
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.connect.folder import PlanFolder
from allocator.io.files import atomic_write

__all__ = ["Letter", "chromium_path", "letter_pages", "print_pdf", "write_letters"]

log = logging.getLogger("allocator")

_CSS = """
@page { size: A4; margin: 14mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9.5pt; color: #222; margin: 0; }
.letter { page-break-after: always; break-after: page; }
.letter:last-child { page-break-after: auto; break-after: auto; }
h1 { font-size: 15pt; margin: 0 0 2mm 0; } h2 { font-size: 10.5pt; margin: 4mm 0 1.5mm 0; }
.top { display: flex; gap: 6mm; align-items: flex-start; }
.summary td { padding: 0.6mm 3mm 0.6mm 0; }
table.grid { border-collapse: collapse; width: 100%; font-size: 7.6pt; }
table.grid th, table.grid td { border: 0.2mm solid #bbb; padding: 0.6mm 1mm; text-align: right; }
table.grid th:first-child, table.grid td:first-child { text-align: left; }
table.grid tr.total td { font-weight: bold; }
.sign { display: flex; gap: 12mm; margin-top: 8mm; }
.sign div { flex: 1; border-top: 0.3mm solid #333; padding-top: 1mm; }
.muted { color: #666; }
"""


@dataclass(frozen=True)
class Letter:
    """One rep's letter: ``rep_id``, the manager (``""`` when none) and the page's HTML body."""

    rep_id: str
    manager_id: str
    body: str


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _cell(value: object) -> str:
    if isinstance(value, int | float | np.number):
        return _money(float(value))
    return html.escape(str(value))


def _table(frame: pd.DataFrame, *, total: bool = False) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = "".join(f"<td>{_cell(v)}</td>" for v in row)
        last = total and i == len(frame) - 1
        rows.append(f"<tr class='total'>{cells}</tr>" if last else f"<tr>{cells}</tr>")
    return f"<table class='grid'><tr>{head}</tr>{''.join(rows)}</table>"


# ---------------------------------------------------------------- the map thumbnail


def _svg_path(geometry: Any, project: Any) -> str:
    parts = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        for ring in [polygon.exterior, *polygon.interiors]:
            xy = project(np.asarray(ring.coords))
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + " Z")
    return " ".join(parts)


def thumbnails(territories: Any, points: pd.DataFrame, size: int = 230) -> dict[str, str]:
    """rep_id -> an inline SVG of every territory, the rep's own filled, its accounts as dots."""
    minx, miny, maxx, maxy = territories.total_bounds
    k = math.cos(math.radians((miny + maxy) / 2))
    scale = (size - 4) / max((maxx - minx) * k, maxy - miny, 1e-9)

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([2 + (xy[:, 0] - minx) * k * scale, 2 + (maxy - xy[:, 1]) * scale])

    paths = {rep: _svg_path(geom, project) for rep, geom in territories.geometry.items()}
    width, height = 4 + (maxx - minx) * k * scale, 4 + (maxy - miny) * scale
    base = "".join(
        f"<path d='{d}' fill='#eee' stroke='#999' stroke-width='0.4'/>" for d in paths.values()
    )
    out = {}
    for rep, own in paths.items():
        mine = points[points["rep_id"] == rep]
        xy = project(mine[["lon", "lat"]].to_numpy(float)) if len(mine) else np.empty((0, 2))
        dots = "".join(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='0.9' fill='#123'/>" for x, y in xy)
        out[rep] = (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height:.0f}' "
            f"viewBox='0 0 {width:.1f} {height:.1f}' role='img' aria-label='territory of {rep}'>"
            f"{base}<path d='{own}' fill='#f4a259' stroke='#b3541e' stroke-width='0.8'/>"
            f"{dots}</svg>"
        )
    return out


# ---------------------------------------------------------------- one page


def _summary(rep: pd.Series, regions: list[str]) -> str:
    rows = [
        ("Accounts", f"{int(rep['accounts']):,}"),
        (
            "Regions",
            ", ".join(regions[:12])
            + (f" and {len(regions) - 12} more" if len(regions) > 12 else ""),
        ),
        ("Potential", _money(rep["potential"])),
        ("Workload (hours)", _money(rep["workload"])),
        ("Capacity (hours)", _money(rep["capacity"])),
        ("Utilisation", f"{rep['utilization']:.0%}" if pd.notna(rep["utilization"]) else "n/a"),
        ("Yearly quota", _money(rep["quota"])),
    ]
    if "travel_km" in rep and pd.notna(rep["travel_km"]):
        rows.insert(6, ("Travel (km per year)", _money(rep["travel_km"])))
    cells = "".join(
        f"<tr><td class='muted'>{k}</td><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f"<table class='summary'>{cells}</table>"


def _months(quotas: pd.DataFrame) -> str:
    wide = quotas.pivot_table(index="product_id", columns="period", values="target", aggfunc="sum")
    wide.columns = [pd.Period(c, freq="M").strftime("%b %y") for c in wide.columns]
    wide["Year"] = wide.sum(axis=1)
    wide.loc["Total"] = wide.sum(axis=0)
    frame = wide.reset_index().rename(columns={"product_id": "Product"})
    return _table(frame, total=True)


def _tiers(quotas: pd.DataFrame) -> str:
    tiers = quotas.groupby("product_id")[["base", "target", "stretch"]].sum()
    tiers.loc["Total"] = tiers.sum()
    frame = tiers.reset_index().rename(
        columns={"product_id": "Product", "base": "Base", "target": "Target", "stretch": "Stretch"}
    )
    return _table(frame, total=True)


def _expense(expenses: pd.DataFrame | None, rep_id: str) -> str:
    if expenses is None or "expense" not in expenses.columns:
        return "<p class='muted'>This plan sets no expense budget.</p>"
    row = expenses[expenses["rep_id"] == rep_id]
    if row.empty:
        return "<p class='muted'>No expense budget for this rep.</p>"
    return f"<p>Expense budget for the year: <b>{_money(float(row['expense'].iloc[0]))}</b></p>"


def _period(quotas: pd.DataFrame | None) -> str:
    if quotas is None or quotas.empty:
        return ""
    return f", {quotas['period'].min()} to {quotas['period'].max()}"


def _page(plan: PlanFolder, rep: pd.Series, svg: str, regions: list[str]) -> str:
    quotas = (
        plan.quotas[plan.quotas["rep_id"] == rep["rep_id"]] if plan.quotas is not None else None
    )
    name = html.escape(str(rep.get("name", rep["rep_id"])))
    manager = str(rep.get("manager_id", "") or "")
    manager_line = (
        f" &middot; manager {html.escape(manager)}" if manager and manager != "nan" else ""
    )
    parts = [
        f"<h1>Quota letter: {name} ({html.escape(rep['rep_id'])})</h1>",
        f"<p class='muted'>Plan {html.escape(plan.scenario.name)}{_period(quotas)}"
        f"{manager_line}</p>",
        f"<div class='top'><div><h2>Territory</h2>{_summary(rep, regions)}</div>"
        f"<div>{svg}</div></div>",
    ]
    if quotas is not None and len(quotas):
        products = plan.tables.products
        if products is not None:  # "P1 Nova" reads better than "P1"
            label = dict(
                zip(
                    products["product_id"],
                    products["product_id"] + " " + products["name"],
                    strict=True,
                )
            )
            quotas = quotas.assign(product_id=quotas["product_id"].map(lambda p: label.get(p, p)))
        parts += ["<h2>Quota by product and month (target)</h2>", _months(quotas)]
        parts += ["<h2>Tiers for the year</h2>", _tiers(quotas)]
    else:
        parts.append("<p class='muted'>This plan sets no quota.</p>")
    parts += ["<h2>Expense budget</h2>", _expense(plan.expenses, rep["rep_id"])]
    parts.append(
        "<p>I have read this quota and commit to it, or have written my own commitment in the "
        "sign-off workbook.</p><div class='sign'><div>Rep: signature and date</div>"
        "<div>Manager: signature and date</div></div>"
    )
    return "".join(parts)


def letter_pages(plan: PlanFolder, territories: Any, points: pd.DataFrame) -> list[Letter]:
    """One :class:`Letter` per rep of ``reps.csv`` (the plan's active reps), in its order."""
    svgs = thumbnails(territories, points)
    regions = (
        plan.tables.accounts.set_index("account_id")
        .loc[plan.owners.index, "region_id"]
        .groupby(plan.owners.to_numpy())
        .agg(lambda r: sorted(set(r)))
    )
    letters = []
    for _, rep in plan.reps.iterrows():
        rep_id = str(rep["rep_id"])
        body = _page(plan, rep, svgs.get(rep_id, ""), list(regions.get(rep_id, [])))
        manager = str(rep.get("manager_id", "") or "")
        letters.append(Letter(rep_id, "" if manager == "nan" else manager, body))
    return letters


def _document(title: str, bodies: list[str]) -> str:
    pages = "".join(f"<section class='letter'>{b}</section>" for b in bodies)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_CSS}</style></head><body>{pages}</body></html>"
    )


def write_letters(letters: list[Letter], outdir: Path, *, title: str) -> list[Path]:
    """``<rep_id>.html`` per rep and ``letters.html`` with every page."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for letter in letters:
        path = outdir / f"{letter.rep_id}.html"
        text = _document(f"{title}: {letter.rep_id}", [letter.body])
        atomic_write(path, lambda p, t=text: p.write_text(t, encoding="utf-8"))
        written.append(path)
    path = outdir / "letters.html"
    text = _document(title, [letter.body for letter in letters])
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return [*written, path]


def chromium_path() -> str | None:
    """A Chromium executable: ``$ALLOCATOR_CHROMIUM``, else ``chromium`` on the PATH."""
    for candidate in (
        os.environ.get("ALLOCATOR_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def print_pdf(html_path: Path, pdf_path: Path) -> Path | None:
    """Print ``html_path`` to ``pdf_path`` (A4, one letter per page); None without a browser."""
    executable = chromium_path()
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        log.info(
            "letters: no PDF (the playwright package is not installed); the HTML prints as well"
        )
        return None
    if executable is None:
        log.info(
            "letters: no PDF (no Chromium found; set ALLOCATOR_CHROMIUM); the HTML prints as well"
        )
        return None
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(html_path.resolve().as_uri())
                atomic_write(
                    pdf_path, lambda p: page.pdf(path=str(p), format="A4", print_background=True)
                )
            finally:
                browser.close()
    except Error as exc:
        log.warning("letters: Chromium could not print the PDF (%s)", str(exc).splitlines()[0])
        return None
    return pdf_path
