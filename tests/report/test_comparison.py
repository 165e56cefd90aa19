"""Scenario comparison of tiny hand plans, from Plan objects and from output folders."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from allocator.exceptions import InputError
from allocator.plan import Plan
from allocator.report.comparison import compare, flatten, write_comparison
from allocator.report.output import write_plan
from tests.report.test_explain import OWNERS, hand_plan, hand_quotas, objective, plan_with

# plan B: A2 goes back to its incumbent R1, A4 to R3; a tighter balance band
OWNERS_B = {**OWNERS, "A2": "R1", "A4": "R3"}
TOLERANCE = "assignment.constraints.balance.tolerance"


def plan_b() -> Plan:
    plan = hand_plan(OWNERS_B, name="tight", **{TOLERANCE: 0.5})
    quotas = hand_quotas()
    rp = quotas.rep_product
    rp.loc[(rp["rep_id"] == "R1") & (rp["product_id"] == "P1"), "quota"] = 130.0  # +20
    rp.loc[(rp["rep_id"] == "R2") & (rp["product_id"] == "P1"), "quota"] = 180.0  # -10
    return dataclasses.replace(plan, quotas=quotas)


def test_flatten() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}, "f": None}) == {
        "a.b": 1,
        "a.c.d": "[1, 2]",
        "e": "{}",
        "f": None,
    }


def test_two_plans_name_moves_keys_quotas_and_metric_changes() -> None:
    comparison = compare([hand_plan(), plan_b()])
    assert comparison.names == ("hand", "tight")
    owners = comparison.owners
    assert owners.to_dict("records") == [
        {"account_id": "A2", "hand": "R2", "tight": "R1"},
        {"account_id": "A4", "hand": "R1", "tight": "R3"},
    ]
    settings = comparison.settings.set_index("key")
    assert list(settings.index) == [TOLERANCE, "name"]
    assert settings.loc[TOLERANCE].tolist() == ["1.0", "0.5"]
    quotas = comparison.quotas
    assert list(quotas["rep_id"]) == ["R1", "R2"]  # R3 unchanged, R1 changes most
    assert quotas["change tight"].tolist() == [20.0, -10.0]
    metrics = comparison.metrics.set_index("metric")
    # the objective change recomputed from scratch for both territories
    expected = objective(OWNERS_B) - objective(OWNERS)
    assert metrics.at["objective", "change tight"] == pytest.approx(expected)
    assert metrics.at["objective", "differs"]
    assert metrics.at["disruption.accounts_moved", "hand"] == 1
    assert metrics.at["disruption.accounts_moved", "tight"] == 0
    assert not metrics.at["status", "differs"]


def test_summary_for_the_terminal() -> None:
    text = compare([hand_plan(), plan_b()]).summary()
    assert text.startswith("comparing 2 plans: hand | tight (baseline first)")
    assert "accounts that change owner: 2" in text
    assert re.search(r"A2\s+R2\s+R1\n", text) and re.search(r"A4\s+R1\s+R3\n", text)
    assert re.search(r"R1\s+170\s+190\s+20\n", text)  # quota 170 -> 190
    assert "scenario keys that differ: 2" in text and TOLERANCE in text
    assert "reps whose quota changes most:" in text


def test_more_than_two_plans_as_a_table() -> None:
    third = hand_plan({**OWNERS, "A1": "R2"}, name="third")
    comparison = compare([hand_plan(), plan_b(), third])
    assert comparison.names == ("hand", "tight", "third")
    assert "change tight" in comparison.metrics and "change third" in comparison.metrics
    owners = comparison.owners.set_index("account_id")
    assert list(owners.index) == ["A1", "A2", "A4"]
    assert owners.loc["A1"].tolist() == ["R1", "R1", "R2"]
    same = compare([hand_plan(), hand_plan()])
    assert same.names == ("hand", "hand (2)")
    assert same.owners.empty and list(same.settings["key"]) == []


def test_output_folders_and_mixed_sources(tmp_path: Path) -> None:
    write_plan(hand_plan(), tmp_path / "a")
    write_plan(plan_b(), tmp_path / "b")
    comparison = compare([tmp_path / "a", str(tmp_path / "b")])
    assert comparison.names == ("hand", "tight")
    assert list(comparison.owners["account_id"]) == ["A2", "A4"]
    assert TOLERANCE in set(comparison.settings["key"])
    assert comparison.quotas["change tight"].tolist() == [20.0, -10.0]
    mixed = compare([hand_plan(), tmp_path / "b"])
    assert list(mixed.owners["account_id"]) == ["A2", "A4"]
    stored = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert mixed.metrics.set_index("metric").at["objective", "hand"] == pytest.approx(
        stored["objective"]
    )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: [hand_plan()], "at least two"),
        (lambda d: [hand_plan(), d / "nowhere"], "nowhere: no such output folder"),
        (lambda d: [hand_plan(), d], "manifest.json: not found"),
    ],
)
def test_bad_sources(tmp_path: Path, make: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        compare(make(tmp_path))  # type: ignore[operator]


def test_write_comparison(tmp_path: Path) -> None:
    paths = write_comparison(compare([hand_plan(), plan_b()]), tmp_path)
    assert sorted(p.name for p in paths) == [
        "comparison.html",
        "comparison.md",
        "comparison_deltas.png",
        "manifest.json",
    ]
    md = (tmp_path / "comparison.md").read_text(encoding="utf-8")
    assert "# Comparison: hand vs tight" in md
    assert "| A2 | R2 | R1 |" in md and "| A4 | R1 | R3 |" in md
    assert f"| {TOLERANCE} | 1.0 | 0.5 |" in md
    html = (tmp_path / "comparison.html").read_text(encoding="utf-8")
    assert "<h2>Accounts that change owner</h2>" in html


def test_real_plans_from_output_folders(tmp_path: Path) -> None:
    """Two solves of the same company, the second with a tighter balance band (7 moves)."""
    base, tight = plan_with(), plan_with(**{TOLERANCE: 0.05})
    write_plan(base, tmp_path / "base")
    write_plan(tight, tmp_path / "tight", force=True)
    comparison = compare([tmp_path / "base", tmp_path / "tight"], names=["base", "tight"])
    a = base.assignment.assignments.set_index("account_id")["rep_id"]
    b = tight.assignment.assignments.set_index("account_id")["rep_id"]
    changed = sorted(a.index[a != b])
    assert len(changed) == 7
    assert list(comparison.owners["account_id"]) == changed
    assert all(f is not None for f in comparison.figures)  # map.json read back from each folder
    assert comparison.settings.set_index("key").loc[TOLERANCE].tolist() == ["0.25", "0.05"]
    metrics = comparison.metrics.set_index("metric")
    change = tight.assignment.report.objective - base.assignment.report.objective
    assert metrics.at["objective", "change tight"] == pytest.approx(change)
    quota = (
        tight.reps_frame().set_index("rep_id")["quota"]
        - base.reps_frame().set_index("rep_id")["quota"]
    )
    shown = comparison.quotas.set_index("rep_id")["change tight"]
    assert shown.to_dict() == pytest.approx(quota[quota != 0].to_dict())


def test_one_count_of_differing_metrics_in_terminal_html_and_markdown(tmp_path: Path) -> None:
    """The terminal said 45 of 85 metrics differ and the HTML 48: now one count everywhere."""
    comparison = compare([hand_plan(), plan_b()])
    differing = comparison.differing()
    assert len(differing) > 0
    assert not differing["metric"].str.contains("seconds").any()  # run times left out
    assert (differing["differs"]).all()
    line = comparison.count_line()
    n, total = (int(x) for x in re.match(r"(\d+) of (\d+) metrics differ", line).groups())
    assert n == len(differing)
    assert (
        total
        == len(comparison.metrics) - comparison.metrics["metric"].str.contains("seconds").sum()
    )
    write_comparison(comparison, tmp_path)
    terminal = comparison.summary()
    html = (tmp_path / "comparison.html").read_text(encoding="utf-8")
    md = (tmp_path / "comparison.md").read_text(encoding="utf-8")
    for text in (terminal, html, md):
        counts = set(re.findall(r"(\d+) of (\d+) metrics differ", text))
        assert counts == {(str(n), str(total))}, text[:2000]


def test_headline_chart_and_side_by_side_maps(tmp_path: Path) -> None:
    comparison = compare([hand_plan(), plan_b()])
    headline = comparison.headline()
    assert headline[0] == "Against the baseline hand:"
    assert headline[1].startswith("tight: 2 accounts change owner; 2 reps' quotas change")
    write_comparison(comparison, tmp_path)
    html = (tmp_path / "comparison.html").read_text(encoding="utf-8")
    for title in ("Headline", "Largest changes", "Maps side by side", "Metrics"):
        assert f"<h2>{title}</h2>" in html
    assert html.count("Plotly.newPlot(") == 2  # two maps, plotly.js embedded once
    assert html.count("plotly.js v") == 1
    assert "2 account(s) change owner between the plans" in html


def test_chinese_scenario_names_are_written_as_text(tmp_path: Path) -> None:
    """compare printed \\u534e\\u4e1c... for Chinese names in the terminal, HTML and Markdown."""
    east = hand_plan(name="华东计划")
    west = dataclasses.replace(plan_b(), scenario=plan_b().scenario.replace({"name": "华西计划"}))
    comparison = compare([east, west])
    write_comparison(comparison, tmp_path)
    outputs = [
        comparison.summary(),
        (tmp_path / "comparison.html").read_text(encoding="utf-8"),
        (tmp_path / "comparison.md").read_text(encoding="utf-8"),
    ]
    for text in outputs:  # (inside the maps' <script> JSON escapes are JavaScript, not text)
        shown = re.sub(r"<script.*?</script>", "", text, flags=re.S)
        assert "华西计划" in shown and "\\u534e" not in shown
