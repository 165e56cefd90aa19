"""The command line end to end: exit codes, the files of the contract, traceability."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocator.cli import main
from allocator.io.data import load_inputs
from allocator.io.files import sha256
from allocator.io.scenario import load_scenario
from allocator.plan import territory_tables
from allocator.territory.check import check_assignment

ASSIGNMENT_COLUMNS = [
    "account_id",
    "rep_id",
    "incumbent_rep_id",
    "moved",
    "travel_km",
    "workload",
    "potential",
    "reason",
]
REP_COLUMNS = [
    "rep_id",
    "accounts",
    "potential",
    "workload",
    "capacity",
    "utilization",
    "quota",
    "travel_km",
]
QUOTA_COLUMNS = ["rep_id", "product_id", "period", "base", "target", "stretch"]


@pytest.fixture(scope="module")
def solved(small_company: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "plan"
    assert main(["-q", "solve", str(small_company), "--out", str(out)]) == 0
    return out


def variant(base: Path, name: str, changes: dict) -> Path:
    path = base.parent / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"extends": base.name, "name": name, **changes}))
    return path


def test_validate_prints_a_summary(small_company: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(small_company)]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out and "150" in out


def test_solve_writes_the_contract_files(solved: Path) -> None:
    assignments = pd.read_csv(solved / "assignments.csv", dtype={"account_id": str, "rep_id": str})
    assert list(assignments.columns) == ASSIGNMENT_COLUMNS
    assert list(pd.read_csv(solved / "reps.csv").columns)[: len(REP_COLUMNS)] == REP_COLUMNS
    assert list(pd.read_csv(solved / "quotas.csv").columns) == QUOTA_COLUMNS
    owners = pd.read_csv(solved / "owners.csv")
    assert list(owners.columns) == [
        "account_id",
        "owner_rep_id",
        "effective_date",
        "previous_rep_id",
    ]
    metrics = json.loads((solved / "metrics.json").read_text())
    for key in ("status", "objective", "bound", "gap", "solve_seconds", "fairness", "disruption"):
        assert key in metrics
    assert metrics["status"] in ("optimal", "time_limit", "feasible")
    assert (solved / "report.html").stat().st_size > 10_000


def test_written_assignment_passes_the_independent_checker(
    small_company: Path, solved: Path
) -> None:
    scenario = load_scenario(small_company)
    # the checker reads the reps over the plan's months (start dates, leaves: docs/organisation.md)
    tables = territory_tables(scenario, load_inputs(scenario))
    assignments = pd.read_csv(
        solved / "assignments.csv", dtype={"account_id": str, "rep_id": str}, keep_default_na=False
    )
    result = check_assignment(tables, scenario.assignment, assignments)
    assert result.ok, result.violations
    metrics = json.loads((solved / "metrics.json").read_text())
    assert result.objective == pytest.approx(metrics["objective"], rel=1e-6)


def test_quotas_add_up_to_the_target(solved: Path) -> None:
    quotas = pd.read_csv(solved / "quotas.csv")
    targets = pd.read_csv(solved / "targets_by_product.csv")
    assert quotas["target"].sum() == pytest.approx(targets["target"].sum(), abs=0.5)
    assert (quotas["base"] <= quotas["target"]).all() and (
        quotas["target"] <= quotas["stretch"]
    ).all()


def test_manifest_traces_every_file(small_company: Path, solved: Path) -> None:
    manifest = json.loads((solved / "manifest.json").read_text())
    assert manifest["scenario"]["hash"] == load_scenario(small_company).hash()
    for name, digest in manifest["files"].items():
        assert sha256(solved / name) == digest, name
    assert {"reps", "accounts"} <= set(manifest["inputs"])
    assert manifest["versions"]["pulp"]


def test_another_scenario_does_not_overwrite_results(
    small_company: Path, solved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = variant(small_company, "other", {"solver": {"time_limit": 20}})
    before = (solved / "assignments.csv").read_bytes()
    assert main(["-q", "solve", str(other), "--out", str(solved)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (solved / "assignments.csv").read_bytes() == before


def test_infeasible_exits_1_with_a_diagnosis_report(
    small_company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = variant(
        small_company,
        "too-few-accounts",
        {"assignment": {"constraints": {"max_accounts": {"limit": 5}}}},
    )
    assert main(["-q", "solve", str(bad), "--out", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("infeasible:") and "Traceback" not in err
    assert "max_accounts" in err
    assert "Diagnosis" in (tmp_path / "bad" / "report.html").read_text()


def test_compare_two_folders(
    small_company: Path, solved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tight = variant(
        small_company,
        "tight",
        {"assignment": {"constraints": {"continuity": {"max_moved_share": 0.0}}}},
    )
    other = tmp_path / "tight"
    assert main(["-q", "solve", str(tight), "--out", str(other)]) == 0
    assert main(["-q", "compare", str(solved), str(other), "--out", str(tmp_path / "cmp")]) == 0
    assert "tight" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "comparison.html").exists()


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["solve"])
    assert exc.value.code == 2


def test_missing_scenario_file_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "no/such/file.yaml"]) == 2
    err = capsys.readouterr().err
    assert "scenario file not found" in err and "Traceback" not in err


def test_demo_runs_from_any_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "allocator.cli", "-q", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "output" / "demo"
    assignments = pd.read_csv(out / "assignments.csv")
    assert len(assignments) == 2000 and assignments["account_id"].is_unique
    assert json.loads((out / "metrics.json").read_text())["gap"] < 0.01


def test_every_output_format_holds_the_same_table(small_company: Path, tmp_path: Path) -> None:
    formats = variant(
        small_company,
        "formats",
        {"output": {"formats": ["csv", "parquet", "json", "xlsx"], "granularity": "day"}},
    )
    out = tmp_path / "formats"
    assert main(["-q", "solve", str(formats), "--out", str(out)]) == 0
    csv = pd.read_csv(out / "quotas.csv", dtype={"rep_id": str, "product_id": str})
    parquet = pd.read_parquet(out / "quotas.parquet")
    records = pd.read_json(out / "quotas.json", orient="records", dtype={"rep_id": str})
    sheet = pd.read_excel(out / "plan.xlsx", sheet_name="quotas", dtype={"rep_id": str})
    for frame in (parquet, records, sheet):
        assert list(frame.columns) == QUOTA_COLUMNS
        assert frame["target"].sum() == pytest.approx(csv["target"].sum())
        assert list(frame["rep_id"].astype(str)) == list(csv["rep_id"])
    daily = pd.read_csv(out / "quotas_daily.csv")
    assert daily["target"].sum() == pytest.approx(csv["target"].sum(), abs=0.5)
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "atomic writes leave no temporary files behind"


def test_validate_prints_the_history_warnings_before_any_solve(
    small_company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A history shorter than the three years the target averages is named by validate, as the
    solve would name it, so a planner sees it before waiting for a solve."""
    import shutil

    folder = tmp_path / "short"
    shutil.copytree(small_company.parent, folder)
    history = pd.read_csv(folder / "history.csv", dtype=str)
    last_year = sorted(history["period"].unique())[-12:]
    history[history["period"].isin(last_year)].to_csv(folder / "history.csv", index=False)
    assert main(["validate", str(folder / small_company.name)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {folder / 'history.csv'}: history from 2026-01" in err
    assert "covers fewer than the 3 years" in err


def test_validate_refuses_top_down_targets_that_contradict_the_hierarchy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """validate makes the checks solve makes on ``target.by_manager`` (exit 2, the key named)."""
    import shutil

    from allocator.demo.files import DEMO_DIR

    for source in DEMO_DIR.glob("*.csv"):
        shutil.copy(source, tmp_path)
    shutil.copy(DEMO_DIR / "demo.yaml", tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "extends: demo.yaml\nname: bad\n"
        "target:\n  by_manager: {V1: 1000000, D01: 700000, D02: 400000}\n"
    )
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "target.by_manager.V1: V1's target is 1,000,000 but the targets below it sum to " in err
    good = tmp_path / "good.yaml"
    good.write_text(bad.read_text().replace("V1: 1000000", "V1: 2000000"))
    assert main(["validate", str(good)]) == 0
    assert "top-down targets: 3 manager target(s) fit the hierarchy" in capsys.readouterr().out
