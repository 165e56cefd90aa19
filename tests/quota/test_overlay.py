"""Overlay reps: quota on their product lines over the accounts of the reps they cover, without
owning an account (allocator/quota/overlay.py, models/organisation.md "Overlays")."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InputError
from allocator.io.data import make_tables
from allocator.io.scenario import load_scenario
from allocator.io.settings import QuotaSettings
from allocator.plan import Plan, solve_scenario
from allocator.quota.check import check_quotas
from allocator.report.output import plan_tables

CASE = Path(__file__).parent / "cases" / "new_hire" / "scenario.yaml"


def _with_overlay(covers: str = "R01;R02", start: str = "2027-03", **more: str) -> pd.DataFrame:
    scenario = load_scenario(CASE)
    reps = pd.read_csv(scenario.data.reps, dtype=str, keep_default_na=False)
    overlay = reps.iloc[[0]].assign(
        rep_id="R05", name="Specialist", role="overlay", covers=covers, start=start, **more
    )
    return pd.concat([reps.assign(role="", covers=""), overlay], ignore_index=True)


@pytest.fixture(scope="module")
def plan() -> Plan:
    scenario = load_scenario(CASE)
    tables = make_tables(
        reps=_with_overlay(),
        accounts=pd.read_csv(scenario.data.accounts, dtype=str),
        regions=pd.read_csv(scenario.data.regions, dtype=str),
        adjacency=pd.read_csv(scenario.data.adjacency, dtype=str),
        products=pd.read_csv(scenario.data.products, dtype=str),
        history=pd.read_csv(scenario.data.history, dtype=str),
    )
    return solve_scenario(scenario, tables=tables)


def test_an_overlay_rep_owns_no_account_and_takes_no_share(plan: Plan) -> None:
    assert plan.assignment is not None and plan.quotas is not None
    assert "R05" not in set(plan.assignment.assignments["rep_id"])
    assert "R05" not in set(plan.quotas.rep_product["rep_id"])
    assert plan.quotas.quotas["target"].sum() == plan.target.by_product["target"].sum()  # type: ignore[union-attr]


def test_overlay_quota_is_the_covered_quota_in_its_months(plan: Plan) -> None:
    assert plan.quotas is not None and plan.quotas.overlays is not None
    q = plan.quotas.quotas
    covered = q[q["rep_id"].isin(["R01", "R02"])].groupby("period")["target"].sum()
    overlay = plan.quotas.overlays.set_index("period")
    assert (overlay.loc[["2027-01", "2027-02"], "target"] == 0).all()  # starts in March
    later = [p for p in covered.index if p >= "2027-03"]
    assert (overlay.loc[later, "target"] == covered[later]).all()
    assert (overlay["covered_quota"] == covered.reindex(overlay.index)).all()
    assert "overlay_quotas" in plan_tables(plan)


def test_the_checker_verifies_overlay_quotas(plan: Plan) -> None:
    assert plan.quotas is not None and plan.quotas.overlays is not None and plan.target
    bad = plan.quotas.overlays.assign(target=plan.quotas.overlays["target"] + np.arange(12))
    broken = replace(plan.quotas, overlays=bad)
    found = check_quotas(plan.tables, plan.owners, plan.target, QuotaSettings(), broken).violations
    assert any("overlay quota of R05" in v for v in found)


def test_overlay_rows_are_checked_on_input() -> None:
    scenario = load_scenario(CASE)
    accounts = pd.read_csv(scenario.data.accounts, dtype=str)
    with pytest.raises(InputError) as err:
        make_tables(reps=_with_overlay(covers=""), accounts=accounts)
    assert "column 'covers'" in str(err.value)
    with pytest.raises(InputError, match="'R99' is not one"):
        make_tables(reps=_with_overlay(covers="R01;R99"), accounts=accounts)
    reps = _with_overlay()
    reps.loc[0, "role"] = "hunter"
    with pytest.raises(InputError, match="territory or overlay"):
        make_tables(reps=reps, accounts=accounts)
