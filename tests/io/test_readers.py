"""Reading what planners' spreadsheets write (issue 14): ``;`` and decimal commas, workbooks under
any name, ids that lost their leading zeros, duplicate history, history past the start.

The two folders in ``tests/io/cases/`` are copies of ``../shared/cases/semicolon-csv`` and
``../shared/cases/zip-leading-zeros-excel`` (real planners' reports rebuilt with made-up data).
Each case runs through ``allocator validate`` in this process: exit code, message, and every
input file byte-identical afterwards.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from allocator.cli import main
from allocator.exceptions import AllocatorWarning, InputError
from allocator.io.data import load_inputs, make_tables
from allocator.io.files import sha256
from allocator.io.readers import decimal_comma_columns, file_kind, sniff_delimiter
from allocator.io.scenario import load_scenario
from allocator.io.settings import TargetSettings
from allocator.quota.target import set_target

CASES = Path(__file__).parent / "cases"


def _copy(case: str, tmp_path: Path) -> Path:
    folder = tmp_path / case
    shutil.copytree(CASES / case, folder)
    return folder / "scenario.yaml"


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- ; and decimal commas


def test_semicolon_csv_with_decimal_commas_is_read(tmp_path: Path) -> None:
    scenario = _copy("semicolon_csv", tmp_path)
    tables = load_inputs(load_scenario(scenario))
    reps = tables.reps.set_index("rep_id")
    assert reps.loc["R02", "lon"] == pytest.approx(8.3)  # written 8,3
    accounts = tables.accounts.set_index("account_id")
    assert accounts.loc["A0001", "lat"] == pytest.approx(50.11587)  # written 50,11587
    assert accounts.loc["A0001", "workload"] == pytest.approx(10.9)  # written 10,9
    assert accounts.loc["A0001", "potential"] == 11119  # a whole number stays whole
    assert list(accounts.index[:2]) == ["A0001", "A0002"]  # the BOM did not stick to the header


def test_semicolon_case_validates_and_leaves_its_files_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _copy("semicolon_csv", tmp_path)
    before = _hashes(scenario.parent)
    assert main(["validate", str(scenario)]) == 0
    assert "is valid" in capsys.readouterr().out
    assert _hashes(scenario.parent) == before


def test_delimiter_is_sniffed_from_the_header() -> None:
    assert sniff_delimiter("a;b;c\n1,5;2;3\n") == ";"
    assert sniff_delimiter("a,b,c\n1;2,3,4\n") == ","
    assert sniff_delimiter("a\tb\n1\t2\n") == "\t"
    assert sniff_delimiter("\n\nname;x\n") == ";"
    assert sniff_delimiter("only\n1\n") == ","


def test_decimal_comma_columns_leave_text_and_ids_alone() -> None:
    frame = pd.DataFrame(
        {
            "id": ["007", "12", "13"],
            "lat": ["50,1", "49", "1.234,5"],
            "name": ["Firm 1,5", "B", "C"],
            "list": ["P1,P2", "P3", ""],
        }
    )
    assert decimal_comma_columns(frame) == ["lat"]


def test_a_row_with_a_field_too_many_is_named(tmp_path: Path) -> None:
    path = tmp_path / "reps.csv"
    path.write_text("rep_id;name;capacity\nR1;Ann;10\nR2;Bob;P1;20\n")
    tables_yaml = tmp_path / "s.yaml"
    tables_yaml.write_text("data:\n  reps: reps.csv\n  accounts: reps.csv\n")
    with pytest.raises(InputError, match=r"reps\.csv: row 3 has 4 fields but the header has 3"):
        load_inputs(load_scenario(tables_yaml))


# ---------------------------------------------------------------- workbooks under any name


def test_a_workbook_saved_as_csv_is_read_as_excel(tmp_path: Path) -> None:
    xlsx = CASES / "zip_leading_zeros_excel" / "data" / "accounts.xlsx"
    renamed = tmp_path / "accounts.csv"
    shutil.copyfile(xlsx, renamed)
    assert file_kind(renamed) == "excel"
    frame = pd.read_excel(xlsx, dtype=object)
    again = tmp_path / "reps.csv"
    again.write_text("rep_id,name,lat,lon,region_id,experience,capacity\nR1,A,50,8,1730,1,300\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("data:\n  reps: reps.csv\n  accounts: accounts.csv\n")
    tables = load_inputs(load_scenario(scenario))
    assert len(tables.accounts) == len(frame)
    assert tables.accounts["region_id"].iloc[0] == "1730"


def test_an_old_xls_workbook_is_named(tmp_path: Path) -> None:
    path = tmp_path / "reps.csv"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    scenario = tmp_path / "s.yaml"
    scenario.write_text("data:\n  reps: reps.csv\n  accounts: reps.csv\n")
    with pytest.raises(InputError, match=r"reps\.csv: an Excel 97-2003 \(\.xls\) workbook"):
        load_inputs(load_scenario(scenario))


# ---------------------------------------------------------------- ids that lost their zeros


def test_zip_codes_excel_turned_into_numbers_give_one_grouped_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _copy("zip_leading_zeros_excel", tmp_path)
    before = _hashes(scenario.parent)
    assert main(["validate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert "1 problem(s)" in err  # one line, not one per row
    assert "accounts.xlsx: column 'region_id': 12 id(s) match the region_ids" in err
    assert "only once zero-padded (1730 for 01730, 2110 for 02110" in err
    assert "Text" in err and "Traceback" not in err
    assert _hashes(scenario.parent) == before


def test_an_id_that_matches_nothing_padded_keeps_its_own_line() -> None:
    reps = pd.DataFrame(
        {
            "rep_id": ["R1"],
            "name": ["A"],
            "lat": [50.0],
            "lon": [8.0],
            "region_id": ["01730"],
            "experience": [1.0],
            "capacity": [10.0],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3"],
            "name": ["x", "y", "z"],
            "lat": [50.0] * 3,
            "lon": [8.0] * 3,
            "region_id": ["1730", "99", "01730"],
            "segment": ["A"] * 3,
            "potential": [1.0] * 3,
            "workload": [1.0] * 3,
        }
    )
    regions = pd.DataFrame({"region_id": ["01730"], "name": ["Acton"]})
    with pytest.raises(InputError) as info:
        make_tables(reps=reps, accounts=accounts, regions=regions)
    lines = info.value.problems
    assert len(lines) == 2
    assert "1 id(s) match the region_ids of regions table only once zero-padded" in lines[0]
    assert "index 0" in lines[0]
    assert "index 1: column 'region_id': '99'" in lines[1]


# ---------------------------------------------------------------- history


def _company(history: pd.DataFrame) -> dict[str, pd.DataFrame]:
    reps = pd.DataFrame(
        {
            "rep_id": ["R1"],
            "name": ["A"],
            "lat": [50.0],
            "lon": [8.0],
            "region_id": ["G"],
            "experience": [1.0],
            "capacity": [10.0],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["A1"],
            "name": ["x"],
            "lat": [50.0],
            "lon": [8.0],
            "region_id": ["G"],
            "segment": ["A"],
            "potential": [1.0],
            "workload": [1.0],
        }
    )
    return {"reps": reps, "accounts": accounts, "history": history}


def _history(periods: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["A1"] * len(periods),
            "product_id": ["ALL"] * len(periods),
            "period": periods,
            "sales": [100.0] * len(periods),
        }
    )


def _months(first: str, n: int) -> list[str]:
    return [str(pd.Period(first, freq="M") + i) for i in range(n)]


def test_duplicate_history_rows_are_named_with_their_rows() -> None:
    history = _history(["2026-01", "2026-02", "2026-01"])
    with pytest.raises(
        InputError,
        match=r"index 2: column 'period': \('A1', 'ALL', '2026-01'\): "
        r"expected a unique \(account_id, product_id, period\) combination "
        r"\(first on index 0\)",
    ):
        make_tables(**_company(history))


def _target_warnings(periods: list[str]) -> list[str]:
    tables = make_tables(**_company(_history(periods)), sources={"history": "history.csv"})
    settings = TargetSettings(start="2027-01", months=12, plan=1000.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        set_target(tables, settings)
    return [str(w.message) for w in caught if issubclass(w.category, AllocatorWarning)]


def test_three_full_years_of_history_warn_nothing() -> None:
    assert _target_warnings(_months("2024-01", 36)) == []


def test_history_after_the_start_is_named() -> None:
    found = _target_warnings(_months("2024-01", 39))  # runs to 2027-03
    assert len(found) == 1
    assert "history.csv: 3 month(s) of history dated 2027-01..2027-03" in found[0]
    assert "on or after target.start 2027-01, are not used" in found[0]


def test_short_history_says_which_years_were_used() -> None:
    found = _target_warnings(_months("2025-01", 24))
    assert len(found) == 1
    assert "fewer than the 3 years before 2027-01" in found[0]
    assert "years used: 2025, 2026" in found[0]
    assert "2027-01, 2027-02, 2027-03, ... (12 months)" in found[0]


def test_an_outlier_potential_is_called_a_data_fault_not_a_time_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A potential of 1e18 once made the solver fail with "raise solver.time_limit"."""
    case = Path(__file__).parent / "broken" / "accounts_potential_outlier" / "scenario.yaml"
    out = tmp_path / "out"
    assert main(["-q", "solve", str(case), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "accounts.csv: row 4: column 'potential': '1e18'" in err
    assert "fix the data, not the settings" in err
    assert "time_limit" not in err and "Traceback" not in err
    assert not out.exists()
