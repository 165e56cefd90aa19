"""The report, comparison and sweep pages in a real browser: Playwright driving Debian's chromium.

Checks what a planner sees: no console errors, every section present, the interactive map with
one polygon per region, a hover text on an account, the search box, and the print preview with
every row of the tables (no scroll box cuts them). Screenshots (desktop width and print preview)
are saved under the test's temporary folder for a person to look at. Playwright's own browser
download does not work on our machines: CI installs the Debian ``chromium`` package
(``.ci/setup.d/chromium.sh``); without it these tests skip with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from allocator.plan import Plan
from allocator.report.comparison import compare, write_comparison
from allocator.report.plan_report import write_report
from allocator.sweep.report import with_front, write_sweep_report
from tests.browser import ARGS, MISSING, chromium_executable
from tests.report.test_comparison import TOLERANCE
from tests.report.test_explain import plan_with
from tests.report.test_report import SECTIONS

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    chromium_executable() is None,
    reason=MISSING,
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_executable()
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser: object, path: Path) -> tuple[object, list[str]]:
    """A desktop-width page at ``path`` and the list its console errors go to."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors


def shots(page: object, folder: Path, stem: str) -> list[Path]:
    """Screenshots at desktop width (first screen and whole page) and in print preview."""
    out = [
        folder / f"{stem}_desktop.png",
        folder / f"{stem}_full.png",
        folder / f"{stem}_print.png",
    ]
    page.screenshot(path=str(out[0]))  # type: ignore[attr-defined]
    page.screenshot(path=str(out[1]), full_page=True)  # type: ignore[attr-defined]
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    page.screenshot(path=str(out[2]), full_page=True)  # type: ignore[attr-defined]
    page.emulate_media(media="screen")  # type: ignore[attr-defined]
    return out


# ---------------------------------------------------------------- the pages


@pytest.fixture(scope="module")
def pages(small_plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """report.html of the small company, comparison.html of two solves, a sweep page."""
    out = tmp_path_factory.mktemp("pages")
    write_report(small_plan, out / "report")
    base, tight = plan_with(), plan_with(**{TOLERANCE: 0.05})
    write_comparison(compare([base, tight], names=["base", "tight"]), out / "comparison")
    (out / "sweep").mkdir()
    write_sweep_report(sweep_frame(), out / "sweep", title="Sweep: balance x continuity")
    return {
        "report": out / "report" / "report.html",
        "comparison": out / "comparison" / "comparison.html",
        "sweep": out / "sweep" / "sweep.html",
    }


def sweep_frame() -> pd.DataFrame:
    """Twelve variants with long parameter names, as a real sweep writes them."""
    rows = [
        {
            "variant_id": f"v{i:02d}",
            "assignment.constraints.balance.tolerance": tol,
            "assignment.constraints.continuity.max_moved_share": share,
            "status": "optimal",
            "objective": 1_009_090.0 + 1000 * i,
            "gap": 0.0001 * i,
            "seconds": 1.5 + i,
            "disruption.accounts_moved_share": share * 0.8,
            "fairness.potential.gini": 0.1 - tol / 3,
            "fairness.quota.gini": 0.05,
        }
        for i, (tol, share) in enumerate(
            (t, s) for t in (0.05, 0.1, 0.15, 0.25) for s in (0.1, 0.2, 0.3)
        )
    ]
    return with_front(pd.DataFrame(rows))


def _no_cut_in_print(page: object) -> list[str]:
    """Elements that hide part of their content in print media (a scroll box, a clipped table)."""
    return page.evaluate(  # type: ignore[attr-defined, no-any-return]
        """() => Array.from(document.querySelectorAll('.wide, table')).filter(e => {
            const s = getComputedStyle(e);
            const clips = ['auto', 'scroll', 'hidden'].includes(s.overflowY);
            return (clips && e.scrollHeight > e.clientHeight + 1) ||
                   e.getBoundingClientRect().right > document.documentElement.clientWidth + 1;
        }).map(e => e.className || e.tagName)"""
    )


def test_report_page(browser: object, pages: dict[str, Path], small_plan: Plan) -> None:
    page, errors = open_page(browser, pages["report"])
    titles = page.locator("section > h2").all_text_contents()  # type: ignore[attr-defined]
    for title in SECTIONS:
        assert title in titles
    # the map: one filled polygon per region, every account a point
    regions = set(small_plan.tables.regions["region_id"])
    fills = page.locator("#territory-map .scatterlayer path.js-fill")  # type: ignore[attr-defined]
    assert fills.count() == len(regions)
    names = page.evaluate(  # type: ignore[attr-defined]
        "() => document.getElementById('territory-map').data"
        ".filter(t => t.meta === 'region').map(t => t.name)"
    )
    assert sorted(names) == sorted(regions)
    # hover on an account (a real mouse move) shows its words
    point = page.locator("#territory-map .scatterlayer .trace path.point").nth(40)  # type: ignore[attr-defined]
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # type: ignore[attr-defined]
    hover = page.locator("#territory-map .hoverlayer .hovertext")  # type: ignore[attr-defined]
    hover.first.wait_for(timeout=5000)
    text = " ".join(hover.all_text_contents())
    assert "owner" in text and "incumbent" in text and "potential" in text
    # the search box finds a rep and rings its accounts
    rep = small_plan.tables.active_reps["rep_id"].iloc[0]
    page.fill("#territory-map-q", rep)  # type: ignore[attr-defined]
    page.press("#territory-map-q", "Enter")  # type: ignore[attr-defined]
    assert f"rep {rep}" in page.inner_text("#territory-map-msg")  # type: ignore[attr-defined]
    page.fill("#territory-map-q", "nobody")  # type: ignore[attr-defined]
    page.press("#territory-map-q", "Enter")  # type: ignore[attr-defined]
    assert "no account or rep" in page.inner_text("#territory-map-msg")  # type: ignore[attr-defined]
    shots(page, pages["report"].parent, "report")
    # print: every rep row is there and nothing is cut by a scroll box or runs off the page
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    reps = page.locator("section:has(h2:text-is('Reps')) tbody tr")  # type: ignore[attr-defined]
    assert reps.count() == len(small_plan.tables.active_reps)
    assert _no_cut_in_print(page) == []
    assert errors == []


def test_comparison_page(browser: object, pages: dict[str, Path]) -> None:
    page, errors = open_page(browser, pages["comparison"])
    titles = page.locator("section > h2").all_text_contents()  # type: ignore[attr-defined]
    for title in ("Headline", "Largest changes", "Maps side by side", "Metrics"):
        assert title in titles
    for i in (0, 1):
        fills = page.locator(f"#map-{i} .scatterlayer path.js-fill")  # type: ignore[attr-defined]
        assert fills.count() == 6  # the small company's regions, on both maps
    shots(page, pages["comparison"].parent, "comparison")
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    assert _no_cut_in_print(page) == []
    assert errors == []


def test_sweep_page(browser: object, pages: dict[str, Path]) -> None:
    page, errors = open_page(browser, pages["sweep"])
    assert page.locator("table tbody tr").count() == 12  # type: ignore[attr-defined]
    assert page.locator("img").count() == 1  # the trade-off plot  # type: ignore[attr-defined]
    assert "1,012,090" in page.inner_text("table")  # type: ignore[attr-defined]
    shots(page, pages["sweep"].parent, "sweep")
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    assert _no_cut_in_print(page) == []  # the table no longer runs off the page
    assert errors == []
