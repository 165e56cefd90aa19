"""analyse_regions: the graph analysis fed with the scenario's rules and the model's fair shares."""

from __future__ import annotations

import pytest

from allocator.demo.examples import company
from allocator.io.settings import AssignmentSettings
from allocator.territory.regions import analyse_regions


def settings(**constraints: object) -> AssignmentSettings:
    return AssignmentSettings.model_validate({"level": "region", "constraints": constraints})


def test_a_region_above_the_band_is_proved_with_the_models_fair_shares() -> None:
    """G1 holds 300 of 500; a half share is 250, R2 at ramp 0.25 gets 100: G1 needs 20%."""
    reps = [
        {"rep_id": "R1", "lon": 0.0, "region_id": "G1"},
        {"rep_id": "R2", "lon": 5.0, "region_id": "G2", "ramp": 0.25},
    ]
    accounts = [
        {"account_id": "A1", "lon": 0.0, "region_id": "G1", "potential": 300.0},
        {"account_id": "A2", "lon": 5.0, "region_id": "G2", "potential": 200.0},
    ]
    tables = company(reps, accounts, adjacency=[("G1", "G2")])
    # ramp fair shares: R1 400, R2 100; G1's 300 fits R1's band; nothing proved
    assert analyse_regions(tables, settings(balance={"tolerance": 0.1})).infeasible == ()
    equal = analyse_regions(tables, settings(balance={"tolerance": 0.1, "fair_share": "equal"}))
    (big,) = equal.infeasible
    assert big.kind == "oversized_unit" and big.min_tolerance == pytest.approx(0.2)
    # without balance, the graph proves nothing here
    assert analyse_regions(tables, settings(contiguity={})).infeasible == ()


def test_contiguity_settings_reach_the_analysis() -> None:
    reps = [{"rep_id": "R1", "lon": 0.0, "region_id": "G1"}]
    accounts = [
        {"account_id": "A1", "lon": 0.0, "region_id": "G1"},
        {"account_id": "A2", "lon": 9.0, "region_id": "G2"},
    ]
    tables = company(reps, accounts)  # no links: G2 is an island without a rep
    (island,) = analyse_regions(tables, settings(contiguity={})).infeasible
    assert island.kind == "no_rep" and island.regions == ("G2",)
    loose = settings(contiguity={"per_component": True})
    assert analyse_regions(tables, loose).infeasible == ()
    assert analyse_regions(tables, settings()).infeasible == ()  # contiguity off
