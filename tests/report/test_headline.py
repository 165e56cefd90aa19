"""The headline and the fairness figures agree with the models that made the plan."""

from __future__ import annotations

import pytest

from allocator.plan import Plan
from allocator.report.headline import plan_headline, plan_warnings, skill_mismatches
from allocator.report.metrics import plan_metrics, quota_fair
from allocator.report.relax import assignment_relaxation


@pytest.fixture(scope="module")
def plan(small_plan: Plan) -> Plan:
    return small_plan


def test_quota_in_band_is_the_share_of_reps_inside_the_lp_band(plan) -> None:
    """Independently: a rep is inside when |quota - sum_p fair_rp| <= band x sum_p fair_rp."""
    rp = plan.quotas.rep_product
    band = plan.scenario.quota.fairness.band
    by_rep = rp.groupby("rep_id")[["quota", "fair"]].sum()
    by_rep = by_rep[by_rep["fair"] > 0]
    inside = ((by_rep["quota"] - by_rep["fair"]).abs() <= band * by_rep["fair"] + len(rp)).mean()
    metrics = plan_metrics(plan)["fairness"]["quota"]
    assert metrics["in_band"] == pytest.approx(inside)
    assert metrics["in_band"] == 1.0  # the LP holds every rep-product inside its band
    assert quota_fair(plan).sum() == pytest.approx(rp["quota"].sum(), abs=len(rp))


def test_headline_figures_and_constraining_sentences(plan) -> None:
    relax = assignment_relaxation(plan)
    head = plan_headline(plan, plan_metrics(plan), relax)
    labels = [f[0] for f in head.figures]
    assert labels[:2] == ["Status", "Balance"] and "Quota fairness" in labels
    assert "Disruption" in labels
    quota = dict((f[0], f[1]) for f in head.figures)["Quota fairness"]
    n = plan.tables.active_reps.shape[0]
    assert quota == f"{n} of {n} reps in the ±15% band"
    assert 1 <= len(head.constraining) <= 3


def test_relaxation_values_are_lp_differences(plan) -> None:
    """Each family's value is LP(with) - LP(without) >= 0; the LP bounds the MIP from below."""
    relax = assignment_relaxation(plan)
    assert relax is not None and relax.objective <= plan.assignment.report.objective + 1e-6
    assert (relax.families["value"].dropna() >= 0).all()
    assert set(relax.families["family"]) >= {"capacity", "balance_lo", "balance_hi"}


def test_skill_mismatch_is_flagged(plan) -> None:
    """A rep that lacks skill P holds accounts with P potential: the warning names it."""
    mismatch = skill_mismatches(plan)
    rp = plan.quotas.rep_product
    skills = plan.tables.active_reps.set_index("rep_id")["skills"]
    expected = [
        (r, p)
        for r, p, v in rp[["rep_id", "product_id", "potential"]].itertuples(index=False)
        if skills[r] and p not in str(skills[r]).split(";") and v > 0
    ]
    assert sorted(zip(mismatch["rep_id"], mismatch["product_id"], strict=True)) == sorted(expected)
    assert (mismatch["quota"] == 0).all()
    words = plan_warnings(plan)
    for r, p in expected:
        assert any(w.startswith(f"{r} (") and f"lacks skill {p}" in w for w in words)
