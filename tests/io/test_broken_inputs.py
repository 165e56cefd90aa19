"""The broken-input catalogue: each folder of ``tests/broken/`` is one deliberate mistake.

Every case is a ``scenario.yaml`` that extends the small valid dataset in ``tests/broken/base/``
and overrides one table or one key (or is a broken YAML file on its own). Each must fail with
the project's error, and the message must name the file, the row (tables) or the key path
(YAML) and what was expected. The same cases run through ``allocator validate`` in a
subprocess: exit code 2, the message on stderr, never a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from allocator.exceptions import AllocatorError, InputError, ScenarioError
from allocator.io.data import load_inputs
from allocator.io.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "io" / "broken"

#: case folder -> (error class, regex the message must contain).
CASES: dict[str, tuple[type[AllocatorError], str]] = {
    # ---- files and columns
    "reps_file_missing": (
        InputError,
        r"data\.reps: file not found: \S*reps_file_missing/missing\.csv",
    ),
    "reps_unsupported_extension": (
        InputError,
        r"data\.reps: \S*/reps\.txt: unsupported file type '\.txt' "
        r"\(expected \.csv, \.parquet or \.xlsx\)",
    ),
    "reps_not_excel": (InputError, r"reps_not_excel/reps\.xlsx: not an Excel workbook"),
    "history_empty_file": (InputError, r"history_empty_file/history\.csv: the file is empty"),
    "reps_missing_column": (
        InputError,
        r"reps_missing_column/reps\.csv: missing required column 'capacity'",
    ),
    "accounts_misspelt_column": (
        InputError,
        r"accounts_misspelt_column/accounts\.csv: column 'worklaod': unknown column, "
        r"did you mean 'workload'\?",
    ),
    "reps_semicolon_separated": (
        InputError,
        r"reps_semicolon_separated/reps\.csv: row 2 has 11 fields but the header has 10 "
        r"\(';'-separated; a cell that holds ';' must be in double quotes\)",
    ),
    "history_duplicate_rows": (
        InputError,
        r"history_duplicate_rows/history\.csv: row 5: column 'period': "
        r"\('007', 'P1', '2026-01'\): expected a unique \(account_id, product_id, period\) "
        r"combination \(first on row 2\)",
    ),
    "accounts_potential_outlier": (
        InputError,
        r"accounts_potential_outlier/accounts\.csv: row 4: column 'potential': '1e18': expected "
        r"a number at most 1e\+09 .*fix the data, not the settings",
    ),
    "accounts_empty": (InputError, r"accounts_empty/accounts\.csv: the table has no rows"),
    # ---- cell types
    "reps_capacity_text": (
        InputError,
        r"reps_capacity_text/reps\.csv: row 3: column 'capacity': 'lots': expected a number",
    ),
    "accounts_lat_text": (
        InputError,
        r"accounts_lat_text/accounts\.csv: row 4: column 'lat': 'abc': expected a number",
    ),
    "accounts_locked_maybe": (
        InputError,
        r"accounts_locked_maybe/accounts\.csv: row 3: column 'locked': 'maybe': "
        r"expected true or false",
    ),
    "reps_empty_id": (
        InputError,
        r"reps_empty_id/reps\.csv: row 3: column 'rep_id': '': "
        r"expected an id \(the cell is empty\)",
    ),
    "history_sales_empty": (
        InputError,
        r"history_sales_empty/history\.csv: row 4: column 'sales': '': expected a number "
        r"\(the cell is empty\)",
    ),
    "reps_many_problems": (
        InputError,
        r"(?s)63 problem\(s\).*reps_many_problems/reps\.csv: row 2: column 'capacity': 'none': "
        r"expected a number.*\n\.\.\. and 13 more",
    ),
    # ---- unique ids
    "reps_duplicate_id": (
        InputError,
        r"reps_duplicate_id/reps\.csv: row 3: column 'rep_id': 'R1': expected a unique rep_id "
        r"\(first on row 2\)",
    ),
    "account_potential_duplicate_pair": (
        InputError,
        r"account_potential_duplicate_pair/account_potential\.csv: row 3: column 'product_id': "
        r"\('007', 'P1'\): expected a unique \(account_id, product_id\) pair \(first on row 2\)",
    ),
    # ---- references between tables
    "accounts_unknown_region": (
        InputError,
        r"accounts_unknown_region/accounts\.csv: row 4: column 'region_id': 'X': "
        r"expected one of the region_ids of \S*base/regions\.csv",
    ),
    "reps_unknown_region": (
        InputError,
        r"reps_unknown_region/reps\.csv: row 4: column 'region_id': 'W': "
        r"expected one of the region_ids of \S*base/regions\.csv",
    ),
    "accounts_unknown_incumbent": (
        InputError,
        r"accounts_unknown_incumbent/accounts\.csv: row 3: column 'incumbent_rep_id': 'R9': "
        r"expected one of the rep_ids of \S*base/reps\.csv",
    ),
    "accounts_unknown_required_skill": (
        InputError,
        r"accounts_unknown_required_skill/accounts\.csv: row 3: column 'required_skills': 'P5': "
        r"expected product_ids of \S*base/products\.csv, ';'-separated \('P5' is not one\)",
    ),
    "reps_unknown_skill": (
        InputError,
        r"reps_unknown_skill/reps\.csv: row 3: column 'skills': 'P1;P7': expected product_ids "
        r"of \S*base/products\.csv, ';'-separated \('P7' is not one\)",
    ),
    "adjacency_unknown_region": (
        InputError,
        r"adjacency_unknown_region/adjacency\.csv: row 3: column 'region_b': 'Z': "
        r"expected one of the region_ids of",
    ),
    "adjacency_self_loop": (
        InputError,
        r"adjacency_self_loop/adjacency\.csv: row 2: column 'region_b': 'N': "
        r"expected a region other than region_a",
    ),
    "adjacency_without_regions": (
        InputError,
        r"base/adjacency\.csv: adjacency is given without a regions table",
    ),
    "regions_unknown_parent": (
        InputError,
        r"regions_unknown_parent/regions\.csv: row 3: column 'parent_id': 'Q': "
        r"expected one of the region_ids of",
    ),
    "history_unknown_account": (
        InputError,
        r"history_unknown_account/history\.csv: row 4: column 'account_id': 'A9': "
        r"expected one of the account_ids of \S*base/accounts\.csv",
    ),
    "history_unknown_product": (
        InputError,
        r"history_unknown_product/history\.csv: row 3: column 'product_id': 'P9': "
        r"expected one of the product_ids of \S*base/products\.csv",
    ),
    "commitments_unknown_rep": (
        InputError,
        r"commitments_unknown_rep/commitments\.csv: row 3: column 'rep_id': 'R9': "
        r"expected one of the rep_ids of",
    ),
    # ---- ranges and formats
    "reps_capacity_zero": (
        InputError,
        r"reps_capacity_zero/reps\.csv: row 4: column 'capacity': '0': expected a number > 0",
    ),
    "accounts_potential_negative": (
        InputError,
        r"accounts_potential_negative/accounts\.csv: row 3: column 'potential': '-500': "
        r"expected a number >= 0",
    ),
    "accounts_workload_negative": (
        InputError,
        r"accounts_workload_negative/accounts\.csv: row 4: column 'workload': '-10': "
        r"expected a number >= 0",
    ),
    "accounts_lat_out_of_range": (
        InputError,
        r"accounts_lat_out_of_range/accounts\.csv: row 5: column 'lat': '95': "
        r"expected a number in \[-90, 90\]",
    ),
    "reps_lon_out_of_range": (
        InputError,
        r"reps_lon_out_of_range/reps\.csv: row 3: column 'lon': '190': "
        r"expected a number in \[-180, 180\]",
    ),
    "reps_ramp_out_of_range": (
        InputError,
        r"reps_ramp_out_of_range/reps\.csv: row 3: column 'ramp': '1\.5': "
        r"expected a number in \[0, 1\]",
    ),
    "reps_experience_negative": (
        InputError,
        r"reps_experience_negative/reps\.csv: row 2: column 'experience': '-3': "
        r"expected a number >= 0",
    ),
    "accounts_visits_negative": (
        InputError,
        r"accounts_visits_negative/accounts\.csv: row 5: column 'visits': '-1': "
        r"expected a number >= 0",
    ),
    "products_margin_out_of_range": (
        InputError,
        r"products_margin_out_of_range/products\.csv: row 2: column 'margin': '1\.2': "
        r"expected a number in \[0, 1\]",
    ),
    "products_bad_category": (
        InputError,
        r"products_bad_category/products\.csv: row 3: column 'category': 'attak': "
        r"expected one of attack, volume, profit, image",
    ),
    "history_bad_period": (
        InputError,
        r"history_bad_period/history\.csv: row 4: column 'period': '2026-13': "
        r"expected a month written YYYY-MM",
    ),
    "accounts_locked_without_incumbent": (
        InputError,
        r"accounts_locked_without_incumbent/accounts\.csv: row 4: column 'locked': 'true': "
        r"expected an incumbent_rep_id on a locked account",
    ),
    # ---- scenario YAML
    "yaml_unknown_key": (
        ScenarioError,
        r"yaml_unknown_key/scenario\.yaml: assignment\.objetive: unknown key "
        r"\(did you mean 'objective'\?\)",
    ),
    "yaml_unknown_constraint": (
        ScenarioError,
        r"yaml_unknown_constraint/scenario\.yaml: assignment\.constraints\.capacty: unknown key "
        r"\(did you mean 'capacity'\?\)",
    ),
    "yaml_wrong_type": (
        ScenarioError,
        r"yaml_wrong_type/scenario\.yaml: solver\.time_limit: Input should be a valid number.*"
        r"got 'fast'",
    ),
    "yaml_bad_solver": (
        ScenarioError,
        r"yaml_bad_solver/scenario\.yaml: solver\.name: Input should be 'highs' or 'cbc', "
        r"got 'gurobi'",
    ),
    "yaml_invalid": (
        ScenarioError,
        r"yaml_invalid/scenario\.yaml: line 4, column 2: not valid YAML",
    ),
    "yaml_top_level_list": (
        ScenarioError,
        r"yaml_top_level_list/scenario\.yaml: expected a mapping of keys at the top, got a list",
    ),
    "yaml_duplicate_key": (
        ScenarioError,
        r"yaml_duplicate_key/scenario\.yaml: line 3, column 1: .*key 'name' is given twice "
        r"\(first on line 1\)",
    ),
    "yaml_data_not_mapping": (
        ScenarioError,
        r"yaml_data_not_mapping/scenario\.yaml: data: expected a mapping of table name to path",
    ),
    "yaml_extends_missing": (
        ScenarioError,
        r"yaml_extends_missing/scenario\.yaml: extends: file not found: \S*nowhere/scenario\.yaml",
    ),
    "yaml_extends_cycle": (
        ScenarioError,
        r"yaml_extends_cycle/other\.yaml: extends: cycle of scenarios: \S*/scenario\.yaml -> "
        r"\S*/other\.yaml -> \S*/scenario\.yaml",
    ),
    "yaml_parent_unknown_key": (
        ScenarioError,
        r"yaml_parent_unknown_key/parent\.yaml: solver\.gapp: unknown key \(did you mean 'gap'\?\)",
    ),
    "yaml_empty": (
        ScenarioError,
        r"yaml_empty/scenario\.yaml: the scenario file is empty",
    ),
    "yaml_no_reps": (
        ScenarioError,
        r"scenario 'yaml_no_reps': data\.reps: missing; the reps table is required",
    ),
    "yaml_weights_sum": (
        ScenarioError,
        r"yaml_weights_sum/scenario\.yaml: target\.weights: the four weights must sum to 1, "
        r"they sum to 1\.5",
    ),
    "yaml_band_order": (
        ScenarioError,
        r"yaml_band_order/scenario\.yaml: target\.mix\.categories\.attack: "
        r"min 0\.5 is above max 0\.2",
    ),
    "yaml_stretch_below_one": (
        ScenarioError,
        r"yaml_stretch_below_one/scenario\.yaml: quota\.tiers\.stretch: "
        r"Input should be greater than or equal to 1, got 0\.8",
    ),
}


def scenario_of(case: str) -> Path:
    return BROKEN / case / "scenario.yaml"


def test_catalogue_lists_every_case_folder() -> None:
    folders = {p.name for p in BROKEN.iterdir() if p.is_dir()} - {"base"}
    assert folders == set(CASES)
    assert len(CASES) >= 25


def test_the_base_dataset_is_valid() -> None:
    # Each case must fail for its own mistake, not for one shared with the base.
    tables = load_inputs(load_scenario(scenario_of("base")))
    assert list(tables.reps["rep_id"]) == ["R1", "R2", "R3"]
    assert list(tables.accounts["account_id"]) == ["007", "A2", "A3", "A4"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_fails_with_a_message_naming_the_place(case: str) -> None:
    error, pattern = CASES[case]
    with pytest.raises(error, match=pattern):
        load_inputs(load_scenario(scenario_of(case)))


# ---------------------------------------------------------------- through the CLI


def _validate(case: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    command = [sys.executable, "-m", "allocator.cli", "validate", str(scenario_of(case))]
    return case, subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def cli_results() -> dict[str, subprocess.CompletedProcess[str]]:
    """``allocator validate`` on every case (and the base), two processes at a time.

    About 0.6 s of interpreter and import time per case, so ~20 s on two idle cores: these
    tests are marked ``slow`` (still in the default run; ``-m "not slow"`` skips them).
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(_validate, ["base", *sorted(CASES)]))


@pytest.mark.slow
def test_cli_validates_the_base(cli_results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = cli_results["base"]
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout
    assert "capacity 180" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_reports_case_with_exit_code_2(
    case: str, cli_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = cli_results[case]
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert re.search(CASES[case][1], result.stderr, flags=re.MULTILINE), result.stderr
