"""Salesforce data-loader files: the object reference's field names, checked like a schema."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.connect.conftest import run

#: From Salesforce's object reference (Sales Territories): the fields a data-loader insert may
#: set, which of them are required, their maximum length and the picklist values.
SCHEMA: dict[str, dict[str, dict[str, object]]] = {
    "Territory2": {
        "Name": {"required": True, "length": 80},
        "DeveloperName": {
            "required": True,
            "length": 80,
            "pattern": r"^[A-Za-z](?!.*__)[A-Za-z0-9_]*(?<!_)$",
        },
        "Territory2ModelId": {"required": True, "id": True},
        "Territory2TypeId": {"required": True, "id": True},
        "ParentTerritory2Id": {"id": True},
        "Description": {"length": 1000},
        "AccountAccessLevel": {"values": ["Read", "Edit", "All"]},
        "ForecastUserId": {"id": True},
    },
    "UserTerritory2Association": {
        "Territory2Id": {"required": True, "id": True},
        "UserId": {"required": True, "id": True},
        "RoleInTerritory2": {"values": ["Owner", "Administrator", "Sales Rep"]},
    },
    "ObjectTerritory2Association": {
        "ObjectId": {"required": True, "id": True},
        "Territory2Id": {"required": True, "id": True},
        "AssociationCause": {
            "required": True,
            "values": ["Territory2Manual", "Territory2AssignmentRule"],
        },
    },
}
_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")


def schema_problems(obj: str, frame: pd.DataFrame) -> list[str]:
    fields = SCHEMA[obj]
    problems = [f"{obj}: unknown field {c}" for c in frame.columns if c not in fields]
    problems += [
        f"{obj}: missing required field {f}"
        for f, rule in fields.items()
        if rule.get("required") and f not in frame.columns
    ]
    for column in frame.columns:
        rule = fields.get(column, {})
        for i, value in frame[column].items():
            if value == "":
                if rule.get("required"):
                    problems.append(f"{obj} row {i}: {column} is empty")
                continue
            if rule.get("id") and not _ID.match(value):
                problems.append(f"{obj} row {i}: {column} {value!r} is not an id")
            if "length" in rule and len(value) > int(rule["length"]):  # type: ignore[arg-type]
                problems.append(f"{obj} row {i}: {column} longer than {rule['length']}")
            if "pattern" in rule and not re.match(str(rule["pattern"]), value):
                problems.append(f"{obj} row {i}: {column} {value!r} is not a developer name")
            if "values" in rule and value not in rule["values"]:  # type: ignore[operator]
                problems.append(f"{obj} row {i}: {column} {value!r} is not a picklist value")
    return problems


def _sfid(prefix: str, n: int) -> str:
    return f"{prefix}{n:015d}"[:18]


def _ids(plan: Path, tmp_path: Path, *, territories: bool, drop: int = 0) -> Path:
    reps = pd.read_csv(plan / "reps.csv", dtype=str)["rep_id"]
    accounts = pd.read_csv(plan / "assignments.csv", dtype=str)["account_id"]
    rows = [("model", "FY27", _sfid("0MA", 1)), ("type", "Sales", _sfid("0M5", 1))]
    rows += [("rep", r, _sfid("005", i)) for i, r in enumerate(reps)]
    rows += [("account", a, _sfid("001", i)) for i, a in enumerate(accounts.iloc[drop:])]
    if territories:  # the reps' territories and their managers' (the hierarchy) loaded
        rows += [("territory", r, _sfid("0MI", i)) for i, r in enumerate(reps)]
        rows += [
            ("territory", f"MGR_{m}", _sfid("0MI", 900 + i)) for i, m in enumerate(_managers(plan))
        ]
    path = tmp_path / "crm_ids.csv"
    pd.DataFrame(rows, columns=["kind", "id", "crm_id"]).to_csv(path, index=False)
    return path


def _managers(plan: Path) -> list[str]:
    """The managers of the plan's reps (the demo has some: one parent territory each)."""
    from allocator.connect.folder import read_plan_folder

    reps = read_plan_folder(plan).reps
    return sorted(set(reps["manager_id"].dropna().astype(str)) - {""})


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def test_salesforce_files_pass_the_object_reference_schema(
    demo_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sf"
    ids = _ids(demo_plan, tmp_path, territories=True, drop=2)
    assert run("export", "salesforce", str(demo_plan), "--ids", str(ids), "--out", str(out)) == 0
    files = {obj: _read(out, obj) for obj in SCHEMA}
    for obj, frame in files.items():
        assert not schema_problems(obj, frame), schema_problems(obj, frame)[:5]
    managers = _managers(demo_plan)
    assert managers  # the demo's reps have managers: one parent territory each
    territories = files["Territory2"]
    assert len(territories) == 40 + len(managers)
    reps = territories[
        territories["Name"].str.endswith(")")
        & ~territories["Name"].str.contains("(manager)", regex=False)
    ]
    assert len(reps) == 40 and (reps["ParentTerritory2Id"] != "").all()
    assert len(files["UserTerritory2Association"]) == 40
    assert len(files["ObjectTerritory2Association"]) == 2000 - 2  # two accounts left unmapped
    printed = capsys.readouterr().out
    assert "account: A0001 (" in printed and "A0002" in printed
    unmapped = _read(out, "unmapped")
    assert unmapped["id"].tolist() == ["A0001", "A0002"]


def test_first_pass_without_territory_ids_names_what_to_load_first(
    demo_plan: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sf"
    ids = _ids(demo_plan, tmp_path, territories=False)
    assert run("export", "salesforce", str(demo_plan), "--ids", str(ids), "--out", str(out)) == 0
    managers = _managers(demo_plan)
    assert len(_read(out, "Territory2")) == 40 + len(managers)  # reps and their managers
    assert _read(out, "ObjectTerritory2Association").empty
    unmapped = _read(out, "unmapped")
    territories = unmapped.loc[unmapped["kind"] == "territory", "id"]
    assert territories.is_unique  # one row per territory to load, not one per rep under it
    assert len(territories) == 40 + len(managers)
    assert {f"MGR_{m}" for m in managers} <= set(territories)


def test_bad_crm_ids_are_reported_by_row(
    demo_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = tmp_path / "crm_ids.csv"
    ids.write_text(
        "kind,id,crm_id\nrep,R001,005000000000001\nuser,R002,005000000000002\nrep,R003,not-an-id\n"
    )
    assert (
        run(
            "export", "salesforce", str(demo_plan), "--ids", str(ids), "--out", str(tmp_path / "sf")
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "row 3: column 'kind': 'user'" in err and "row 4: column 'crm_id': 'not-an-id'" in err


def test_manager_hierarchy_and_non_ascii_ids_give_valid_unique_developer_names() -> None:
    from allocator.connect.salesforce import salesforce_files

    reps = pd.DataFrame(
        {
            "rep_id": ["销售01", "销售01b", "客户01", "M1"],
            "name": ["王伟", "李娜", "张敏", "刘洋"],
            "manager_id": ["M1", "M1", "M2", ""],
            "accounts": [1, 1, 1, 0],
            "potential": [10.0, 20.0, 30.0, 0.0],
            "quota": [5.0, 6.0, 7.0, 0.0],
        }
    )
    owners = pd.Series(["销售01", "销售01b", "客户01"], index=["甲", "乙", "丙"])
    accounts = pd.DataFrame(
        {"account_id": ["甲", "乙", "丙"], "name": ["甲公司", "乙公司", "丙公司"]}
    )
    ids = {
        "model": {"m": _sfid("0MA", 1)},
        "type": {"t": _sfid("0M5", 1)},
        "territory": {"MGR_M1": _sfid("0MI", 9)},
    }
    files = salesforce_files(reps, owners, accounts, ids, plan_name="plan")
    t = files.territories
    assert not schema_problems("Territory2", t), schema_problems("Territory2", t)
    assert t["DeveloperName"].is_unique
    assert t["DeveloperName"].iloc[:2].tolist() == ["MGR_M1", "MGR_M2"]  # parents first
    rep_rows = t.iloc[2:]
    parents = dict(zip(rep_rows["Name"], rep_rows["ParentTerritory2Id"], strict=True))
    assert parents["王伟 (销售01)"] == _sfid("0MI", 9)  # a loaded manager territory
    assert parents["张敏 (客户01)"] == ""  # M2 not loaded yet: named in unmapped
    assert "MGR_M2" in set(files.unmapped["id"])
    assert {"甲", "乙", "丙"} <= set(files.unmapped["id"])  # accounts without CRM ids, by name
    assert "甲公司" in set(files.unmapped["name"])
