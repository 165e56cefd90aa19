"""Databases in and out: DuckDB and SQLite files, credentials kept out of files and logs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocator.connect.db import PLANS_TABLE, list_plans, write_frames
from allocator.exceptions import InputError, ScenarioError
from allocator.io.data import load_inputs
from allocator.io.database import check_url, interpolate, safe_url
from allocator.io.scenario import load_scenario, scenario_from_dict
from tests.connect.conftest import run


def test_duckdb_demo_solves_to_the_same_assignments_byte_for_byte(
    demo_plan: Path, tmp_path: Path
) -> None:
    db = tmp_path / "company.duckdb"
    assert run("generate", "--duckdb", str(db)) == 0
    scenario = tmp_path / "company.yaml"
    data = yaml.safe_load(scenario.read_text())["data"]
    assert data["accounts"] == {"url": "duckdb:///company.duckdb", "table": "accounts"}
    out = tmp_path / "from-db"
    assert run("solve", str(scenario), "--out", str(out), "--threads", "1") == 0
    assert (out / "assignments.csv").read_bytes() == (demo_plan / "assignments.csv").read_bytes()
    assert (out / "quotas.csv").read_bytes() == (demo_plan / "quotas.csv").read_bytes()
    inputs = json.loads((out / "manifest.json").read_text())["inputs"]
    assert inputs["accounts"]["url"] == f"duckdb:///{db}"
    assert inputs["accounts"]["table"] == "accounts"
    assert len(inputs["accounts"]["rows_sha256"]) == 64


def test_generate_never_overwrites_a_database(tmp_path: Path) -> None:
    db = tmp_path / "company.duckdb"
    db.write_bytes(b"mine")
    assert run("generate", "--duckdb", str(db)) == 2
    assert db.read_bytes() == b"mine"


def _sqlite_company(small_company: Path, tmp_path: Path) -> Path:
    """The small company's CSVs copied into a SQLite file; a scenario reading it by query."""
    source = load_scenario(small_company)
    db = tmp_path / "crm.db"
    frames = {
        name: pd.read_csv(getattr(source.data, name), dtype=str, keep_default_na=False)
        for name in (
            "reps",
            "accounts",
            "regions",
            "adjacency",
            "products",
            "history",
            "account_potential",
        )
    }
    write_frames(f"sqlite:///{db}", frames)
    raw = yaml.safe_load(small_company.read_text())
    raw["data"] = {name: {"url": "sqlite:///crm.db", "table": name} for name in frames}
    raw["data"]["accounts"] = {
        "url": "sqlite:///crm.db",
        "query": "SELECT * FROM accounts ORDER BY account_id",
    }
    raw.pop("output", None)
    path = tmp_path / "crm.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_sqlite_by_table_and_query_equals_the_csv_inputs(
    small_company: Path, tmp_path: Path
) -> None:
    from_db = load_inputs(load_scenario(_sqlite_company(small_company, tmp_path)))
    from_csv = load_inputs(load_scenario(small_company))
    for name in ("reps", "accounts", "history", "account_potential"):
        pd.testing.assert_frame_equal(getattr(from_db, name), getattr(from_csv, name))
    assert "crm.db" in from_db.sources["accounts"]
    assert from_db.origins["accounts"]["query"] == "SELECT * FROM accounts ORDER BY account_id"


def test_a_bad_cell_in_a_database_names_the_table_and_the_row_key(
    small_company: Path, tmp_path: Path
) -> None:
    path = _sqlite_company(small_company, tmp_path)
    with sqlite3.connect(tmp_path / "crm.db") as con:
        con.execute("UPDATE accounts SET potential = 'lots' WHERE account_id = 'A0007'")
    with pytest.raises(InputError) as err:
        load_inputs(load_scenario(path))
    line = str(err.value)
    assert "data.accounts" in line and "account_id 'A0007'" in line and "'lots'" in line, line


def test_a_missing_table_is_one_clear_line(small_company: Path, tmp_path: Path) -> None:
    path = _sqlite_company(small_company, tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["data"]["reps"]["table"] = "sales_reps"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(
        InputError, match=r"data.reps: sqlite:///.*crm.db: cannot read the table sales_reps"
    ):
        load_inputs(load_scenario(path))


def test_a_password_in_the_yaml_is_refused() -> None:
    raw = {"data": {"reps": {"url": "postgresql://me:hunter2@db/sales", "table": "reps"}}}
    with pytest.raises(ScenarioError, match=r"data.reps: url: .*password.*\$\{VARIABLE\}"):
        scenario_from_dict(raw)
    assert check_url("postgresql://me:${PGPASSWORD}@db/sales")


def test_credentials_come_from_the_environment_or_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALLOC_PW", raising=False)
    url = "postgresql://me:${ALLOC_PW}@db/sales"
    with pytest.raises(ScenarioError, match=r"data.reps: .*ALLOC_PW"):
        interpolate(url, key="data.reps")
    (tmp_path / ".env").write_text("ALLOC_PW=from dotenv@x\n")
    assert interpolate(url, key="k") == "postgresql://me:from%20dotenv%40x@db/sales"
    monkeypatch.setenv("ALLOC_PW", "s3cret")
    assert interpolate(url, key="k") == "postgresql://me:s3cret@db/sales"  # environment first
    assert safe_url("postgresql://me:s3cret@db/sales") == "postgresql://me:***@db/sales"


def test_plans_are_appended_with_an_id_and_listed(small_company: Path, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'plans.duckdb'}"
    for n in (1, 2):
        out = tmp_path / f"plan{n}"
        assert (
            run("solve", str(small_company), "--out", str(out), "--to-db", url, "--threads", "1")
            == 0
        )
    plans = list_plans(url)
    assert len(plans) == 2 and plans["plan_id"].is_unique
    assert plans["scenario"].tolist() == ["small", "small"]
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = pd.read_sql_query(sa.text("SELECT * FROM allocator_assignments"), conn)
        names = set(pd.read_sql_query(sa.text("SHOW TABLES"), conn)["name"])
    engine.dispose()
    assert PLANS_TABLE in names and "allocator_quotas" in names
    assert rows.columns[0] == "plan_id"
    counts = rows.groupby("plan_id").size()
    assert sorted(counts.index) == sorted(plans["plan_id"]) and counts.nunique() == 1
    folder = pd.read_csv(tmp_path / "plan1" / "assignments.csv", dtype=str)
    first = rows[rows["plan_id"] == plans["plan_id"].iloc[0]]
    assert first["account_id"].tolist() == folder["account_id"].tolist()
    assert first["rep_id"].tolist() == folder["rep_id"].tolist()
    assert run("plans", url) == 0
