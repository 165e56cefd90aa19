"""Fairness, disruption and coverage metrics against hand-computed values.

The Gini coefficient is the *population* one: ``sum_ij |x_i - x_j| / (2 n^2 mean)`` (the
maximum for n values is ``1 - 1/n``, so ``[0, 0, 0, 1]`` gives 0.75, not 1).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InputError
from allocator.report.metrics import (
    coverage,
    disruption,
    fair_quota,
    fair_share_weights,
    fairness,
    gini,
    jain,
    lorenz,
    normalise,
    plan_metrics,
)
from tests.report.test_explain import hand_plan, hand_quotas


def brute_gini(x: list[float]) -> float:
    """The double-sum definition, independent of the sorted-rank formula in the module."""
    n, mean = len(x), sum(x) / len(x)
    return sum(abs(a - b) for a in x for b in x) / (2 * n * n * mean)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 1, 1, 1], 0.0),
        ([0, 0, 0, 1], 0.75),  # population formula: 6 / (2 x 16 x 0.25)
        ([1, 2, 3, 4], 0.25),  # 20 / (2 x 16 x 2.5)
        ([0, 0, 0, 0], 0.0),  # nothing to share counts as equal
        ([5], 0.0),
    ],
)
def test_gini_by_hand(values: list[float], expected: float) -> None:
    assert gini(values) == pytest.approx(expected)


def test_gini_matches_double_sum_on_random_values() -> None:
    rng = np.random.default_rng(7)
    for n in (2, 5, 17):
        x = list(rng.uniform(0, 100, n))
        assert gini(x) == pytest.approx(brute_gini(x))


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1, 1, 1, 1], 1.0), ([0, 0, 0, 1], 0.25), ([1, 2, 3, 4], 100 / 120), ([0, 0], 1.0)],
)
def test_jain_by_hand(values: list[float], expected: float) -> None:
    assert jain(values) == pytest.approx(expected)


def test_fairness_of_one_to_four() -> None:
    out = fairness([1, 2, 3, 4], band=0.5)
    # normalised to the mean 2.5: 0.4, 0.8, 1.2, 1.6; population std sqrt(1.25) / 2.5
    assert out["n"] == 4 and out["excluded"] == 0
    assert out["total"] == 10
    assert out["min_rel"] == pytest.approx(0.4) and out["max_rel"] == pytest.approx(1.6)
    assert out["gini"] == pytest.approx(0.25)
    assert out["cv"] == pytest.approx(math.sqrt(1.25) / 2.5)
    assert out["max_min"] == pytest.approx(4.0)
    assert out["jain"] == pytest.approx(100 / 120)
    assert out["in_band"] == pytest.approx(0.5)  # 0.8 and 1.2 are within 1 +- 0.5


def test_fair_share_weights_make_a_half_ramp_rep_fair() -> None:
    """A new hire at ramp 0.5 holding half the potential of a full rep is perfectly fair."""
    values = pd.Series({"R1": 100.0, "R2": 100.0, "R3": 50.0})
    weights = pd.Series({"R3": 0.5, "R1": 1.0, "R2": 1.0})  # aligned by rep id, not position
    out = fairness(values, weights, band=0.0)
    assert out["gini"] == pytest.approx(0.0) and out["cv"] == pytest.approx(0.0)
    assert out["jain"] == pytest.approx(1.0) and out["max_min"] == pytest.approx(1.0)
    assert out["in_band"] == 1.0  # exactly on the fair share, band 0
    unweighted = fairness(values)
    assert unweighted["gini"] == pytest.approx(brute_gini([100, 100, 50]))


def test_band_edge_counts_as_inside() -> None:
    # fair level 100: 90 and 110 sit exactly on the edges of +-10%
    assert fairness([90.0, 110.0, 100.0], band=0.1)["in_band"] == 1.0
    assert fairness([89.0, 111.0, 100.0], band=0.1)["in_band"] == pytest.approx(1 / 3)


def test_nan_values_and_zero_weights_are_excluded() -> None:
    out = fairness([1.0, float("nan"), 3.0, 5.0], [1.0, 1.0, 0.0, 1.0])
    assert out["n"] == 2 and out["excluded"] == 2
    assert out["total"] == 6.0
    assert out["gini"] == pytest.approx(brute_gini([1, 5]))
    assert out["max_min"] == pytest.approx(5.0)


def test_zero_minimum_has_no_ratio_and_all_is_json() -> None:
    out = fairness([0.0, 2.0], band=0.1)
    assert out["max_min"] is None
    assert out["in_band"] == 0.0
    json.dumps(out, allow_nan=False)
    empty = fairness([float("nan")])
    assert empty["n"] == 0 and empty["gini"] is None
    json.dumps(empty, allow_nan=False)


@pytest.mark.parametrize(
    ("values", "weights", "match"),
    [
        ([1.0, -2.0], None, "value of 1 is -2"),
        ([1.0, 2.0], [1.0, -1.0], "weight of 1 is -1"),
        ([1.0, 2.0], [1.0], "2 values but 1 weights"),
        (pd.Series({"R1": 1.0, "R2": 2.0}), pd.Series({"R1": 1.0}), "no weight for R2"),
    ],
)
def test_bad_values_are_input_errors(values: object, weights: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        fairness(values, weights)  # type: ignore[arg-type]


def test_lorenz_area_is_the_gini() -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 10, 12)
    weights = rng.uniform(0.5, 1.0, 12)
    x, y = lorenz(values, weights)
    assert x[0] == y[0] == 0 and x[-1] == pytest.approx(1) and y[-1] == pytest.approx(1)
    assert np.all(np.diff(y) >= 0)
    area_gini = 1 - np.sum(np.diff(x) * (y[1:] + y[:-1]))
    assert area_gini == pytest.approx(gini(normalise(values, weights)))
    assert lorenz([0, 0, 0, 1])[1].tolist() == [0, 0, 0, 0, 1]


def test_fair_share_weights_modes() -> None:
    reps = pd.DataFrame(
        {"rep_id": ["R1", "R2", "R3"], "ramp": [1.0, 0.5, 1.0], "experience": [0, 2, 4]}
    )
    assert fair_share_weights(reps, "equal").tolist() == pytest.approx([1 / 3] * 3)
    assert fair_share_weights(reps, "ramp").tolist() == pytest.approx([0.4, 0.2, 0.4])
    # ramp x (1 + e / max e): 1 x 1, 0.5 x 1.5, 1 x 2, of 3.75
    expected = [1 / 3.75, 0.75 / 3.75, 2 / 3.75]
    assert fair_share_weights(reps, "experience_ramp").tolist() == pytest.approx(expected)
    assert list(fair_share_weights(reps, "ramp").index) == ["R1", "R2", "R3"]


def test_fair_quota_by_ramp_potential_and_skills() -> None:
    """P1: weights a x pi = 100, 200, 0.5 x 250 = 125 of 425 split the P1 total 425 exactly;
    P2: only R1 has potential; R2 (no P2 skill) would get none anyway."""
    plan = hand_plan()
    fair = fair_quota(hand_quotas().rep_product, plan.tables.active_reps)
    assert fair.to_dict() == pytest.approx({"R1": 160.0, "R2": 200.0, "R3": 125.0})


def test_disruption_and_coverage_of_the_hand_plan() -> None:
    plan = hand_plan()
    out = disruption(plan.assignment.assignments)
    assert out == {
        "accounts_moved": 1,  # A2 from R1 to R2
        "accounts_moved_share": 1 / 5,
        "potential_moved": 200.0,
        "potential_moved_share": 200 / 650,
        "reps_affected": 2,  # R1 lost it, R2 gained it
    }
    cov = coverage(plan.owners, plan.tables.active_accounts, plan.tables.active_reps, experienced=3)
    assert cov["accounts_per_rep_mean"] == pytest.approx(5 / 3)
    assert (cov["accounts_per_rep_min"], cov["accounts_per_rep_max"]) == (1, 3)
    # segment A: A3 only, with R3 (experience 5); experienced reps: R1, R3
    assert cov["segment_accounts"] == 1 and cov["experienced_reps"] == 2
    assert cov["segment_accounts_per_experienced_rep"] == 0.5
    assert cov["segment_accounts_with_experienced_rep_share"] == 1.0
    # without a threshold the median experience (5) is used: still R1 and R3
    assert (
        coverage(plan.owners, plan.tables.active_accounts, plan.tables.active_reps)[
            "experienced_reps"
        ]
        == 2
    )


def test_plan_metrics_of_the_hand_plan() -> None:
    metrics = plan_metrics(hand_plan())
    json.dumps(metrics, allow_nan=False)
    fair = metrics["fairness"]
    assert set(fair) == {"potential", "utilization", "travel_km", "quota", "quota_ratio"}
    # potential 200, 200, 250 over ramps 1, 1, 0.5: 200, 200, 500 against 650 / 2.5 = 260
    rel = [200 / 260, 200 / 260, 500 / 260]
    assert fair["potential"]["gini"] == pytest.approx(brute_gini(rel))
    assert fair["potential"]["max_rel"] == pytest.approx(500 / 260)
    assert fair["potential"]["band"] == 1.0 and fair["potential"]["in_band"] == 1.0
    # utilisation: 30/35, 10/100, 10/100
    util = [30 / 35, 0.1, 0.1]
    assert fair["utilization"]["gini"] == pytest.approx(brute_gini(util))
    assert fair["utilization"]["max_min"] == pytest.approx((30 / 35) / 0.1)
    # quota against the fair quota 160, 200, 125: 170/160, 190/200, 125/125 (totals equal)
    ratio = [170 / 160, 190 / 200, 1.0]
    assert fair["quota_ratio"]["gini"] == pytest.approx(brute_gini(ratio))
    assert fair["quota_ratio"]["in_band"] == 1.0 and fair["quota_ratio"]["band"] == 0.1
    assert fair["quota"]["total"] == 485.0
    assert metrics["disruption"]["accounts_moved"] == 1
    assert metrics["coverage"]["experience_threshold"] == 3


def test_plan_metrics_without_quotas() -> None:
    metrics = plan_metrics(hand_plan(quotas=False))
    assert "quota" not in metrics["fairness"]
    json.dumps(metrics, allow_nan=False)
