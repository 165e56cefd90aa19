"""Headcount sizing (allocator/territory/sizing.py, models/organisation.md "Headcount sizing").

A hand-checkable instance: two clusters of accounts far apart, each holding 40 hours of work;
reps have 50 hours. One rep cannot reach both clusters' work within 85% utilisation; two reps
(one per cluster) cover everything. The LP numbers are recomputed by hand below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from allocator.exceptions import InputError
from allocator.io.data import make_tables
from allocator.io.tables import Tables
from allocator.territory.sizing import size_team


def _company(reps: int) -> Tables:
    lons = [8.0, 8.01, 8.02, 8.03, 12.0, 12.01, 12.02, 12.03]
    accounts = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(8)],
            "name": "x",
            "lat": 50.0,
            "lon": lons,
            "region_id": ["W"] * 4 + ["E"] * 4,
            "segment": "B",
            "potential": [100.0] * 8,
            "workload": [10.0] * 8,
        }
    )
    team = pd.DataFrame(
        {
            "rep_id": [f"R{k}" for k in range(reps)],
            "name": "r",
            "lat": 50.0,
            "lon": [8.0, 12.0][:reps],
            "region_id": ["W", "E"][:reps],
            "experience": 5.0,
            "capacity": 50.0,
        }
    )
    return make_tables(reps=team, accounts=accounts)


def test_curve_numbers_and_recommendation() -> None:
    result = size_team(_company(1), [1, 2, 3], utilization=0.85, coverage=0.95)
    curve = result.curve.set_index("reps")
    # one rep: 0.85 x 50 = 42.5 hours of 80 -> 42.5 / 80 of the potential
    assert curve.at[1, "coverage"] == pytest.approx(42.5 / 80)
    assert curve.at[1, "utilization"] == pytest.approx(0.85)
    # two reps (the second at the east cluster's centre): everything, 80 of 100 hours
    assert curve.at[2, "coverage"] == pytest.approx(1.0)
    assert curve.at[2, "utilization"] == pytest.approx(0.8)
    assert curve.at[2, "marginal_potential"] == pytest.approx(800 - 425)
    assert result.recommended == 2
    new = result.placements[result.placements["status"] == "new"]
    assert new["region_id"].tolist() == ["E"]
    assert pd.isna(curve.at[1, "marginal_potential"])


def test_fewer_reps_drop_the_least_useful() -> None:
    result = size_team(_company(2), [1, 2], coverage=0.5)
    assert result.recommended == 1
    dropped = result.placements[result.placements["status"] == "dropped"]
    assert len(dropped) == 1
    assert "recommended: 1 reps" in result.summary()


def test_no_count_meets_the_target() -> None:
    result = size_team(_company(1), [1], coverage=0.99)
    assert result.recommended is None and "widen --reps" in result.summary()


def test_bad_counts_are_refused() -> None:
    with pytest.raises(InputError):
        size_team(_company(1), [0, 1])


def test_cli_prints_the_curve_and_writes_the_chart(
    small_company: Path,
    tmp_path: Path,
    cli_main: Callable[[list[str]], int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "size"
    assert cli_main(["size", str(small_company), "--reps", "4:8:2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "coverage" in text and "recommended" in text
    curve = pd.read_csv(out / "sizing.csv")
    assert curve["reps"].tolist() == [4, 6, 8]
    assert (out / "sizing.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "placements.csv").exists()
    assert cli_main(["size", str(small_company), "--reps", "8:4"]) == 2
