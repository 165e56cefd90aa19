"""Issue 14: a plan always comes out of a territory that solved.

Data: ``data/new_hire_history`` (copied from ``../shared/cases/new-hire-start-month``): four
reps, R04 a new hire at ramp 0.5, 20 accounts with three years of sales history. With a target
below last year's sales and a history floor of 0% growth, the floors cannot all hold: before,
the quota stage failed on R04's floor and no file was written although the territory solved.
Now the floors are soft rows (models/quota.md) and the plan reports where they give way; and a
quota stage that still fails (a cap no quota can meet) keeps the territory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocator.cli import main

DATA = Path(__file__).parent / "data" / "new_hire_history"


def scenario(folder: Path, quota: dict) -> Path:
    tables = ["reps", "accounts", "regions", "adjacency", "products", "history"]
    path = folder / "scenario.yaml"
    content = {
        "name": "new-hire-floors",
        "data": {t: str(DATA / f"{t}.csv") for t in tables},
        "target": {
            "start": "2027-01",
            "months": 12,
            "plan": 150000,
            "weights": {"plan": 0.5, "history": 0.5, "industry": 0.0, "competitor": 0.0},
        },
        "assignment": {"constraints": {"capacity": {}, "balance": {"tolerance": 0.2}}},
        "quota": quota,
    }
    path.write_text(yaml.safe_dump(content))
    return path


def test_a_ramping_new_hire_with_large_history_still_gets_a_plan(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = scenario(tmp_path, {"history": {"min_growth": 0.0}})
    out = tmp_path / "out"
    assert main(["-q", "solve", str(path), "--out", str(out)]) == 0
    err = caplog.text
    assert "the history floor of R04/P1" in err and "gives way by" in err
    history = pd.read_csv(out / "quota_history.csv", dtype={"rep_id": str})
    quotas = pd.read_csv(out / "quotas.csv", dtype={"rep_id": str})
    target = pd.read_csv(out / "targets_by_product.csv")["target"].sum()
    assert quotas["target"].sum() == pytest.approx(target, abs=0.5)
    # every floor binds; the one shortfall is exactly what the target leaves short of the
    # floors: the least total give-way (stage 0), all on the ramping new hire
    assert history["binds"].all()
    given = history.set_index("rep_id")["shortfall"]
    assert given.sum() == pytest.approx(history["limit"].sum() - target, abs=history.shape[0])
    assert list(given[given > 0].index) == ["R04"]
    by_rep = quotas.groupby("rep_id")["target"].sum()
    limit = history.set_index("rep_id")["limit"]
    assert by_rep["R04"] < limit["R04"] and (by_rep.drop("R04") >= limit.drop("R04") - 1).all()
    assert "History floors and ceilings" in (out / "report.md").read_text(encoding="utf-8")
    assert (out / "assignments.csv").exists()


def test_a_failing_quota_stage_keeps_the_territory_and_names_the_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(tmp_path, {"cap_share": 0.01})  # no rep may carry 1% of their potential
    out = tmp_path / "out"
    assert main(["-q", "solve", str(path), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "the quota stage failed" in captured.err and str(out.resolve()) in captured.err
    assert captured.err.count("infeasible:") == 1 and "cap[" in captured.err
    assignments = pd.read_csv(out / "assignments.csv", dtype=str)
    assert len(assignments) == 20 and assignments["rep_id"].str.startswith("R0").all()
    assert (out / "owners.csv").exists() and not (out / "quotas.csv").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "optimal" and metrics["failed_stage"] == "quota"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["failed_stage"] == "quota" and "assignments.csv" in manifest["files"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## The quota stage failed" in report and "cap[" in report
