"""The plan report: files, sections, self-contained HTML (the browser check is test_browser.py)."""

from __future__ import annotations

import base64
import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InfeasibleError
from allocator.report.plan_report import (
    Section,
    Table,
    Text,
    infeasible_report,
    write_document,
    write_report,
)
from tests.report.test_explain import hand_plan, hand_scenario, plan_with

SECTIONS = [
    "Headline",
    "Map",
    "Summary",
    "Target build-up",
    "Reps",
    "Fairness",
    "What constrains the plan",
    "Moved accounts",
    "Quota tiers",
    "Monthly phasing",
]
FIGURES = ["target", "utilization", "quota_ratio", "lorenz", "map", "phasing"]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_report(hand_plan(), out)
    return out


def test_report_files(report_dir: Path) -> None:
    names = sorted(p.name for p in report_dir.iterdir())
    figures = [f"report_{f}.png" for f in FIGURES]
    assert names == sorted(["manifest.json", "report.html", "report.md", "map.json", *figures])
    for figure in FIGURES:
        assert (report_dir / f"report_{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(report_dir.glob(".*")), "no temporary file is left behind"


def test_markdown_sections_and_content(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    assert re.findall(r"^## (.+)$", md, flags=re.M) == SECTIONS
    assert "- status: optimal" in md
    for figure in FIGURES:
        assert f"(report_{figure}.png)" in md
    # the moved account with its reason; no rep may take it back without breaking a rule, and
    # the cheaper one (R1, its incumbent) is named with the rule and its numbers
    assert (
        "| A2 | Bolt | R1 | R2 | moved for balance |  |  |  | R1 | 235.6 | "
        "capacity[R1] (40 > 35 hours) |" in md
    )
    # the binding quota constraints in plain words, the auxiliary max_dev row left out
    assert "target_total[P1] binds: raising the target of P1 by 1,000" in md
    assert "max_dev[R1,P1]" not in md
    # rep table: R1 holds 3 accounts, 200 potential, 30 of 35 hours
    assert "| R1 | Li | 3 | 200 | 30 | 35 | 85.7 | 170 |" in md


def test_html_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in html
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == len(FIGURES) - 1  # the map is interactive in HTML, a PNG in Markdown
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    # nothing fetched from elsewhere: no external scripts, styles, images or fonts; the map's
    # plotly.js is embedded in the page (one copy)
    outside = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert not re.search(r'(src|href)="(?!data:|#)', outside)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert html.count("Plotly.newPlot(") == 1 and "plotly.js v" in html


def test_report_of_a_real_plan(tmp_path: Path) -> None:
    plan = plan_with()
    write_report(plan, tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    # a generated company has districts and regions: their roll-up follows the reps
    at = SECTIONS.index("Reps") + 1
    with_rollup = [*SECTIONS[:at], "District roll-up", *SECTIONS[at:]]
    assert re.findall(r"^## (.+)$", md, flags=re.M) == with_rollup
    moved = plan.assignment.assignments.query("moved")
    assert f"_{len(moved)} accounts move_" in md
    for account, rep in moved[["account_id", "rep_id"]].itertuples(index=False):
        assert f"| {account} |" in md and f"| {rep} |" in md
    assert f"- target: {plan.target.total:,.0f}" in md
    # every rep appears in the rep table with its account count
    reps = plan.reps_frame()
    for rep, count in reps[["rep_id", "accounts"]].itertuples(index=False):
        assert re.search(rf"^\| {rep} \| [^|]+ \| {count} \|", md, flags=re.M)


def test_report_without_target_or_quotas(tmp_path: Path) -> None:
    write_report(hand_plan(quotas=False), tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Target build-up" not in md and "## Monthly phasing" not in md
    assert "## Moved accounts" in md
    assert not (tmp_path / "report_quota_ratio.png").exists()


def test_report_with_the_assignment_off(tmp_path: Path) -> None:
    """The territory as given: no moves section, travel unknown, still a full page."""
    plan = dataclasses.replace(hand_plan(), assignment=None)
    write_report(plan, tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "- territory: as given (assignment off)" in md
    assert "## Moved accounts" not in md and "## Map" in md
    assert "| travel_km | 0 |" in md  # no travel known: no rep judged


def test_tables_escape_and_cut(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": ["<b>x|y</b>"] * 1050, "value": np.arange(1050.0) / 7})
    write_document(tmp_path, "doc", "T & <T>", [Section("S", (Text("a < b"), Table(frame)))])
    html = (tmp_path / "doc.html").read_text(encoding="utf-8")
    md = (tmp_path / "doc.md").read_text(encoding="utf-8")
    assert "<title>T &amp; &lt;T&gt;</title>" in html and "&lt;b&gt;x|y&lt;/b&gt;" in html
    assert "<b>x" not in html
    assert "x\\|y" in md
    assert html.count("<tr>") == 1001  # header + the first 1,000 rows
    assert "first 1000 of 1,050 rows" in md


def test_infeasible_report(tmp_path: Path) -> None:
    error = InfeasibleError(
        "the territory model is infeasible",
        diagnosis=[
            "capacity[R1] needs +12.5 hours (limit 35)",
            "balance_lo[R3,potential] needs +40 (limit 65)",
        ],
    )
    paths = infeasible_report(hand_scenario(), error, tmp_path)
    assert sorted(p.name for p in paths) == [
        "manifest.json",
        "metrics.json",
        "report.html",
        "report.md",
    ]
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "# Infeasible: hand" in md
    assert "- capacity[R1] needs +12.5 hours (limit 35)" in md
    assert "| capacity[R1] | capacity |" in md
    assert "| balance_lo[R3,potential] | balance_lo |" in md
    assert "Relax one of these families in the scenario: balance_lo, capacity." in md
