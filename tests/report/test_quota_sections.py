"""Tiers, expenses and the reconciliation in the report: where commitments and quotas differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.io.scenario import scenario_from_dict
from allocator.io.settings import QuotaSettings
from allocator.plan import Plan
from allocator.quota.allocate import allocate_quotas
from allocator.report.plan_report import write_report
from allocator.report.quota_sections import reconciliation_reasons
from tests.quota.test_quota import HIGHS, make_target, org, owners_of

BAND = {"fairness": {"band": 0.1}}


def committed_plan() -> Plan:
    """R1 commits 70 of P1 (fair 50, band 10%: at most 55), R2 commits 130 (fair 150): the
    quotas are 55 and 145 (tests/quota/test_quota.py checks the LP)."""
    commitments = [("R1", "P1", 70.0), ("R2", "P1", 130.0)]
    tables = org({"R1": {"P1": 100}, "R2": {"P1": 300}}, commitments=commitments)
    target = make_target({"P1": [100, 100]})
    settings = QuotaSettings.model_validate(BAND)
    owners = owners_of(tables).rename("rep_id")
    quotas = allocate_quotas(tables, owners, target, settings, HIGHS)
    scenario = scenario_from_dict(
        {"name": "committed", "assignment": {"enabled": False}, "quota": BAND}
    )
    return Plan(scenario, tables, owners, None, target, quotas, 0.1)


def test_reconciliation_names_the_constraint_and_the_rep() -> None:
    rec = reconciliation_reasons(committed_plan()).set_index("rep_id")
    assert rec.loc["R1", "gap"] == -15 and rec.loc["R2", "gap"] == 15
    assert rec.loc["R1", "why"] == (
        "fairness_hi[R1,P1]: the fairness band caps it at 55 (fair quota 50 x (1 + 0.1))"
    )
    assert rec.loc["R2", "why"].startswith("target_total[P1]: the P1 quotas must add up to its")
    assert rec.loc["R2", "why"].endswith("lands with R2")


def test_report_has_tiers_and_the_reconciliation(tmp_path: Path) -> None:
    write_report(committed_plan(), tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Quota tiers" in md and "## Reconciliation: commitments against quotas" in md
    assert "2 commitment(s) from the reps (bottom-up)" in md and "2 differ" in md
    assert "| R1 | P1 | 70 | 55 | -15 | fairness_hi[R1,P1]: the fairness band caps it at 55" in md
    # tiers: base 90%, target, stretch 115% of each rep's quota over the horizon
    assert "| R1 | 49 | 55 | 63 |" in md  # whole units per month: 24 + 25, 27 + 28, 31 + 32


@pytest.mark.parametrize("budget", [1000.0])
def test_report_has_expenses(tmp_path: Path, budget: float) -> None:
    plan = committed_plan()
    settings = QuotaSettings.model_validate({**BAND, "expense": {"budget": budget}})
    owners = plan.owners
    quotas = allocate_quotas(plan.tables, owners, plan.target, settings, HIGHS)
    assert quotas.expenses is not None
    scenario = plan.scenario.replace({"quota.expense.budget": budget})
    write_report(Plan(scenario, plan.tables, owners, None, plan.target, quotas, 0.1), tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Expenses" in md
    for rep in ("R1", "R2"):
        assert f"| {rep} |" in md.split("## Expenses")[1]
