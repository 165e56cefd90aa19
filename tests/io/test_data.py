"""The data layer: normalisation, every-problem validation, file formats and ``describe``.

The dataset is ``tests/broken/base/`` (3 reps, 4 accounts, 3 regions, 2 products); every number
asserted below is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from allocator.exceptions import InputError, ScenarioError
from allocator.io.data import describe, format_description, load_inputs, load_tables, make_tables
from allocator.io.scenario import load_scenario
from allocator.io.settings import DataPaths
from allocator.io.tables import COLUMNS, OPTIONAL_DEFAULTS, Tables

BASE = Path(__file__).resolve().parent / "broken" / "base"
TABLES = ("reps", "accounts", "regions", "adjacency", "products", "history")


def base_paths(**changes: str | None) -> DataPaths:
    paths: dict[str, str | None] = {t: str(BASE / f"{t}.csv") for t in TABLES}
    return DataPaths(**{**paths, **changes})


def base_text(table: str) -> dict[str, pd.DataFrame]:
    """A base table read as plain text cells, as a user might hold it before calling us."""
    return {table: pd.read_csv(BASE / f"{table}.csv", dtype=str, keep_default_na=False)}


def frames_as_text() -> dict[str, Any]:
    """Every base table as text frames, keyed like the arguments of ``make_tables``."""
    out: dict[str, Any] = {}
    for table in TABLES:
        out.update(base_text(table))
    return out


@pytest.fixture(scope="module")
def base() -> Tables:
    return load_tables(base_paths())


def as_number(cell: str) -> object:
    try:
        return float(cell)
    except ValueError:
        return cell


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- normalisation


def test_ids_are_strings_and_leading_zeros_survive(base: Tables) -> None:
    assert list(base.accounts["account_id"]) == ["007", "A2", "A3", "A4"]
    assert base.history is not None
    assert list(base.history["account_id"]) == ["007", "007", "A2"]
    for table, columns in COLUMNS.items():
        frame = getattr(base, table)
        if frame is None:
            continue
        for column, kind in columns.items():
            if kind in ("id", "str"):
                assert all(isinstance(v, str) for v in frame[column]), (table, column)
            if kind == "float":
                assert frame[column].dtype == "float64", (table, column)


def test_booleans_accept_words_and_blank_cells_get_defaults(base: Tables) -> None:
    # reps.active is true / yes / no; accounts.locked is true / false / no / (blank -> False)
    assert list(base.reps["active"]) == [True, True, False]
    assert list(base.accounts["locked"]) == [True, False, False, False]
    assert base.reps["active"].dtype == bool
    # A3 has no visits (blank -> 1.0); R3 has no skills (blank -> "")
    assert list(base.accounts["visits"]) == [2.0, 1.0, 1.0, 1.0]
    assert list(base.reps["skills"]) == ["P1;P2", "P1", ""]
    assert list(base.accounts["incumbent_rep_id"]) == ["R1", "R2", "", "R1"]


def test_absent_optional_columns_are_filled_with_their_defaults(base: Tables) -> None:
    # accounts.csv has no `active` column, regions.csv no market columns
    assert base.accounts["active"].tolist() == [True] * 4
    assert base.regions is not None
    assert base.regions["market_potential"].isna().all()
    for table, optional in OPTIONAL_DEFAULTS.items():
        if table == "managers":  # the organisation tables are tested in tests/io/test_staffing.py
            continue
        assert set(optional) <= set(getattr(base, table).columns), table


def test_mixed_case_bools_whitespace_and_extra_columns(tmp_path: Path) -> None:
    reps = write(
        tmp_path / "reps.csv",
        " rep_id , name ,lat,lon,region_id,experience,capacity,active,notes\n"
        "  R1 , Ann ,1,2,N,0,10,TRUE,keeps this\n"
        "R2,Bob,1,2,N,0,10,No,\n"
        "R3,Cy,1,2,N,0,10,1,\n"
        "R4,Di,1,2,N,0,10,0,\n",
    )
    accounts = write(
        tmp_path / "accounts.csv",
        "account_id,name,lat,lon,region_id,segment,potential,workload\nA1,X,1,2,N,A,5,1\n",
    )
    tables = load_tables(DataPaths(reps=reps, accounts=accounts))
    assert list(tables.reps["rep_id"]) == ["R1", "R2", "R3", "R4"]
    assert list(tables.reps["name"]) == ["Ann", "Bob", "Cy", "Di"]
    assert list(tables.reps["active"]) == [True, False, True, False]
    assert list(tables.reps["notes"]) == ["keeps this", "", "", ""]


def test_make_tables_never_mutates_the_callers_frames() -> None:
    given = frames_as_text()
    before = {name: frame.copy(deep=True) for name, frame in given.items()}
    tables = make_tables(**given)
    for name, frame in given.items():
        pd.testing.assert_frame_equal(frame, before[name])
    assert "active" not in given["accounts"].columns  # defaults went to our copy only
    assert tables.accounts["active"].tolist() == [True] * 4
    assert given["accounts"]["visits"].tolist() == ["2", "1", "", "1"]


def test_make_tables_matches_load_tables(base: Tables) -> None:
    made = make_tables(**frames_as_text())
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(made, table), getattr(base, table))


def test_numeric_ids_become_their_string_form() -> None:
    given = frames_as_text()
    reps = given["reps"].assign(rep_id=[12.0, 13.0, 14.0])
    incumbents = pd.Series([12, 13, None, 12.0], dtype=object)
    accounts = given["accounts"].assign(incumbent_rep_id=incumbents)
    tables = make_tables(reps=reps, accounts=accounts)
    assert list(tables.reps["rep_id"]) == ["12", "13", "14"]
    assert list(tables.accounts["incumbent_rep_id"]) == ["12", "13", "", "12"]


def test_loading_never_modifies_the_files(base: Tables) -> None:
    def digest() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in BASE.iterdir()}

    before = digest()
    load_tables(base_paths())
    assert digest() == before
    assert base.sources["reps"] == str(BASE / "reps.csv")


# ---------------------------------------------------------------- other formats


def test_parquet_round_trip(tmp_path: Path, base: Tables) -> None:
    paths = {}
    for table in TABLES:
        path = tmp_path / f"{table}.parquet"
        getattr(base, table).to_parquet(path)
        paths[table] = str(path)
    again = load_tables(DataPaths(**paths))
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(again, table), getattr(base, table))


def test_xlsx_round_trip_from_the_raw_text(tmp_path: Path, base: Tables) -> None:
    paths = {}
    for table, frame in frames_as_text().items():
        path = tmp_path / f"{table}.xlsx"
        # Numbers stored as numbers, as a spreadsheet user would type them; "007" stays text.
        typed = frame.apply(lambda c: c if c.name.endswith("_id") else c.map(as_number))
        typed.to_excel(path, index=False)
        paths[table] = str(path)
    again = load_tables(DataPaths(**paths))
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(again, table), getattr(base, table))


def test_xlsx_numeric_ids_and_period_dates(tmp_path: Path) -> None:
    path = tmp_path / "history.xlsx"
    pd.DataFrame(
        {
            "account_id": [7, 8],
            "product_id": ["P1", "P1"],
            "period": [pd.Timestamp("2026-01-01"), "2026-02"],
            "sales": [1.5, 2],
        }
    ).to_excel(path, index=False)
    history = pd.read_excel(path)  # what the user sees: 7, 8 and a date
    assert history["account_id"].tolist() == [7, 8]
    accounts = write(
        tmp_path / "accounts.csv",
        "account_id,name,lat,lon,region_id,segment,potential,workload\n"
        "7,X,1,2,N,A,5,1\n8,Y,1,2,N,A,5,1\n",
    )
    reps = write(
        tmp_path / "reps.csv",
        "rep_id,name,lat,lon,region_id,experience,capacity\nR1,A,1,2,N,0,10\n",
    )
    tables = load_tables(DataPaths(reps=reps, accounts=accounts, history=str(path)))
    assert tables.history is not None
    assert tables.history["account_id"].tolist() == ["7", "8"]
    assert tables.history["period"].tolist() == ["2026-01", "2026-02"]


def test_xlsx_rows_are_numbered_like_the_sheet(tmp_path: Path) -> None:
    path = tmp_path / "reps.xlsx"
    pd.DataFrame(
        {
            "rep_id": ["R1", "R2"],
            "name": ["A", "B"],
            "lat": [1, 1],
            "lon": [2, 2],
            "region_id": ["N", "N"],
            "experience": [0, 0],
            "capacity": [10, -1],
        }
    ).to_excel(path, index=False)
    accounts = write(
        tmp_path / "accounts.csv",
        "account_id,name,lat,lon,region_id,segment,potential,workload\nA1,X,1,2,N,A,5,1\n",
    )
    with pytest.raises(
        InputError, match=r"reps\.xlsx: row 3: column 'capacity': -1: expected a number > 0"
    ):
        load_tables(DataPaths(reps=str(path), accounts=accounts))


# ---------------------------------------------------------------- problems


def test_csv_row_numbers_count_the_header_and_blank_lines(tmp_path: Path) -> None:
    reps = write(
        tmp_path / "reps.csv",
        "rep_id,name,lat,lon,region_id,experience,capacity\n"
        "R1,A,1,2,N,0,10\n"  # row 2
        "\n"  # row 3, blank: skipped but counted
        "R2,B,1,2,N,0,x\n",  # row 4
    )
    accounts = write(
        tmp_path / "accounts.csv",
        "account_id,name,lat,lon,region_id,segment,potential,workload\nA1,X,1,2,N,A,5,1\n",
    )
    with pytest.raises(InputError) as info:
        load_tables(DataPaths(reps=reps, accounts=accounts))
    assert info.value.problems == (f"{reps}: row 4: column 'capacity': 'x': expected a number",)


def test_every_problem_is_collected_in_one_error() -> None:
    given = frames_as_text()
    given["reps"].loc[1, "capacity"] = "lots"  # reps table: index 1
    given["accounts"].loc[2, "lat"] = "abc"
    given["products"].loc[0, "margin"] = "1.5"
    with pytest.raises(InputError) as info:
        make_tables(**given)
    assert info.value.problems == (
        "reps table: index 1: column 'capacity': 'lots': expected a number",
        "accounts table: index 2: column 'lat': 'abc': expected a number",
        "products table: index 0: column 'margin': '1.5': expected a number in [0, 1]",
    )
    assert info.value.total == 3


def test_frame_problems_name_the_frames_own_index_labels() -> None:
    given = frames_as_text()
    reps = given["reps"].set_axis(["a", "b", "c"]).assign(capacity=[10.0, -2.0, 5.0])
    with pytest.raises(
        InputError, match=r"reps table: index b: column 'capacity': -2\.0: expected"
    ):
        make_tables(reps=reps, accounts=given["accounts"])


def test_problems_are_capped_with_a_count_of_the_rest() -> None:
    given = frames_as_text()
    reps = pd.concat([given["reps"]] * 20, ignore_index=True)  # 60 rows, 57 duplicate ids
    reps["rep_id"] = [f"R{i}" for i in range(60)]
    reps["capacity"] = "none"  # 60 problems
    with pytest.raises(InputError) as info:
        make_tables(reps=reps, accounts=given["accounts"], max_problems=5)
    assert len(info.value.problems) == 5
    assert info.value.total == 60
    assert str(info.value).startswith("60 problem(s) in the input data:")
    assert str(info.value).endswith("\n... and 55 more")


def test_a_misspelt_optional_column_is_reported_but_other_extras_are_welcome() -> None:
    given = frames_as_text()
    reps = given["reps"].rename(columns={"ramp": "Ramp", "active": "actve"})
    reps = reps.assign(district="x", notes="y", market_size=1)
    with pytest.raises(InputError) as info:
        make_tables(reps=reps, accounts=given["accounts"])
    assert info.value.problems == (
        "reps table: column 'Ramp': unknown column, did you mean 'ramp'? "
        "(the optional column 'ramp' is missing)",
        "reps table: column 'actve': unknown column, did you mean 'active'? "
        "(the optional column 'active' is missing)",
    )


def test_duplicate_adjacency_edges_and_negative_sales_are_fine() -> None:
    given = frames_as_text()
    adjacency = pd.concat([given["adjacency"], given["adjacency"]], ignore_index=True)
    tables = make_tables(**{**given, "adjacency": adjacency})
    assert tables.adjacency is not None and len(tables.adjacency) == 4
    assert tables.history is not None and tables.history["sales"].min() == -50.0


@pytest.mark.parametrize("value", ["nan", "inf", ""])
def test_non_finite_or_missing_sales_are_rejected(value: str) -> None:
    given = frames_as_text()
    given["history"].loc[0, "sales"] = value
    with pytest.raises(InputError, match=rf"history table: index 0: column 'sales': '{value}'"):
        make_tables(**given)


def test_a_table_that_is_not_a_frame_is_reported() -> None:
    given = frames_as_text()
    with pytest.raises(InputError, match=r"regions table: expected a pandas DataFrame, got dict"):
        make_tables(reps=given["reps"], accounts=given["accounts"], regions={"a": 1})  # type: ignore[arg-type]


def test_load_tables_requires_reps_and_accounts() -> None:
    with pytest.raises(InputError, match=r"data\.accounts: the accounts table is required"):
        load_tables(base_paths(accounts=None))


def test_load_inputs_names_the_missing_data_key(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", f"name: q3\ndata:\n  reps: {BASE / 'reps.csv'}\n")
    scenario = load_scenario(path)  # loading the scenario alone is fine
    with pytest.raises(ScenarioError, match=r"scenario 'q3': data\.accounts: missing"):
        load_inputs(scenario)


def test_load_inputs_reads_a_scenarios_tables(base: Tables) -> None:
    tables = load_inputs(load_scenario(BASE / "scenario.yaml"))
    pd.testing.assert_frame_equal(tables.accounts, base.accounts)


# ---------------------------------------------------------------- describe


def test_describe_numbers_checked_by_hand(base: Tables) -> None:
    d = describe(base)
    assert d["rows"] == {
        "reps": 3,
        "accounts": 4,
        "regions": 3,
        "adjacency": 2,
        "products": 2,
        "history": 3,
    }
    assert d["active_reps"] == 2  # R3 is inactive
    assert d["capacity"] == 180.0  # R1 100 + R2 80
    assert d["active_accounts"] == 4
    assert d["workload"] == 65.0  # 30 + 20 + 10 + 5
    assert d["workload_ratio"] == pytest.approx(65 / 180)
    # potential 1000 + 500 + 250 + 0 = 1750, split by history: P1 300 - 50 = 250, P2 100
    assert d["potential"] == pytest.approx({"P1": 1750 * 250 / 350, "P2": 1750 * 100 / 350})
    assert d["potential"]["P1"] == pytest.approx(1250.0)
    assert d["total_potential"] == pytest.approx(1750.0)
    assert d["segments"] == {"A": 2, "B": 1, "C": 1}
    assert (d["regions"], d["region_components"], d["regions_connected"]) == (3, 1, True)


def test_describe_without_products_regions_or_with_a_broken_graph() -> None:
    given = frames_as_text()
    bare = describe(make_tables(reps=given["reps"], accounts=given["accounts"]))
    assert bare["potential"] == {"ALL": 1750.0}
    assert (bare["regions"], bare["region_components"], bare["regions_connected"]) == (
        None,
        None,
        None,
    )
    # Only the edge N-S is left: {N, S} and {E} are two components.
    split = given["adjacency"].iloc[:1]
    d = describe(make_tables(**{**given, "adjacency": split}))
    assert (d["region_components"], d["regions_connected"]) == (2, False)


def test_describe_uses_only_active_accounts_and_the_potential_breakdown() -> None:
    given = frames_as_text()
    accounts = given["accounts"].assign(active=["true", "true", "false", "true"])  # A3 off
    breakdown = pd.DataFrame(
        {
            "account_id": ["007", "007", "A2", "A3"],
            "product_id": ["P1", "P2", "P2", "P1"],
            "potential": [600.0, 400.0, 500.0, 250.0],
        }
    )
    d = describe(make_tables(**{**given, "accounts": accounts, "account_potential": breakdown}))
    assert d["workload"] == 55.0  # 30 + 20 + 5 (A3 is inactive)
    assert d["potential"] == {"P1": 600.0, "P2": 900.0}  # A3's 250 of P1 is left out
    assert d["segments"] == {"A": 2, "B": 1}


def test_format_description_is_a_short_readable_summary(base: Tables) -> None:
    text = format_description(describe(base))
    assert text.splitlines() == [
        "tables:    reps 3, accounts 4, regions 3, adjacency 2, products 2, history 3",
        "reps:      2 active, capacity 180",
        "accounts:  4 active, workload 65 (36.1% of capacity)",
        "potential: 1,750 in total: P1 1,250 (71%), P2 500 (29%)",
        "segments:  A 2, B 1, C 1",
        "regions:   3, region graph connected",
    ]
    assert not math.isnan(describe(base)["workload_ratio"])


def test_all_unreadable_files_are_reported_together(tmp_path: Path) -> None:
    ragged = write(tmp_path / "reps.csv", "rep_id,name\nR1,A,extra\n")
    paths = base_paths(reps=ragged, accounts=str(tmp_path / "nowhere.csv"), history="h.json")
    with pytest.raises(InputError) as info:
        load_tables(paths)
    assert info.value.problems == (
        f"{ragged}: row 2 has 3 fields but the header has 2 "
        "(','-separated; a cell that holds ',' must be in double quotes)",
        f"data.accounts: file not found: {tmp_path / 'nowhere.csv'}",
        "data.history: h.json: unsupported file type '.json' (expected .csv, .parquet or .xlsx)",
    )


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    text = (BASE / "reps.csv").read_text(encoding="utf-8")
    reps = tmp_path / "reps.csv"
    reps.write_bytes("\ufeff".encode() + text.encode())
    tables = load_tables(base_paths(reps=str(reps)))
    assert list(tables.reps.columns[:2]) == ["rep_id", "name"]


def test_a_repeated_column_is_reported(tmp_path: Path) -> None:
    text = (BASE / "reps.csv").read_text(encoding="utf-8").splitlines()
    reps = write(
        tmp_path / "reps.csv",
        "\n".join(f"{line},x" for line in text).replace("active,x", "active,capacity", 1) + "\n",
    )
    with pytest.raises(InputError) as info:
        load_tables(base_paths(reps=reps))
    assert info.value.problems == (
        f"{reps}: column 'capacity' appears more than once (the first is used)",
    )
