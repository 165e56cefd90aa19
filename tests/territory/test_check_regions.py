"""The checker's region rules: home[r] and contiguity[r] on the regions a rep actually serves."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from allocator.demo.examples import company
from allocator.io.settings import AssignmentSettings
from allocator.io.tables import Tables
from allocator.territory.check import check_assignment

# A path G1 - G2 - G3 with G4 hanging off G2, and an island G5 (no links).
LINKS = [("G1", "G2"), ("G2", "G3"), ("G2", "G4")]


def tables(homes: dict[str, str], accounts: dict[str, str]) -> Tables:
    reps = [{"rep_id": r, "lon": 0.0, "region_id": g} for r, g in homes.items()]
    rows = [{"account_id": a, "lon": 0.0, "region_id": g} for a, g in accounts.items()]
    return company(reps, rows, adjacency=LINKS, regions=["G1", "G2", "G3", "G4", "G5"])


def violations(t: Tables, owners: dict[str, str], **contiguity: Any) -> tuple[str, ...]:
    level = contiguity.pop("level", "account")
    settings = AssignmentSettings.model_validate(
        {"level": level, "constraints": {"contiguity": contiguity}}
    )
    frame = pd.DataFrame({"account_id": list(owners), "rep_id": list(owners.values())})
    return check_assignment(t, settings, frame).violations


ONE_PER_REGION = {"A1": "G1", "A2": "G2", "A3": "G3", "A4": "G4"}


def test_a_territory_joined_only_through_another_reps_home_is_rejected() -> None:
    """R1 lives in G2 but R2 serves G2: R1's G1 and G3 touch only through R2's region."""
    t = tables({"R1": "G2", "R2": "G4"}, ONE_PER_REGION)
    owners = {"A1": "R1", "A3": "R1", "A2": "R2", "A4": "R2"}
    found = violations(t, owners)
    assert "home[R1]: R1 serves none of its home region G2 (its accounts are with R2)" in found
    assert "contiguity[R1]: its regions ['G1', 'G3'] are not connected" in found
    assert not any("R2" in v.split(":")[0] for v in found)


def test_without_the_home_rule_the_home_region_does_not_count() -> None:
    t = tables({"R1": "G2", "R2": "G4"}, ONE_PER_REGION)
    owners = {"A1": "R1", "A3": "R1", "A2": "R2", "A4": "R2"}
    found = violations(t, owners, include_home=False)
    assert found == ("contiguity[R1]: its regions ['G1', 'G3'] are not connected",)
    # the same rep serving G1, G2, G3 is connected and needs no home of its own
    assert violations(t, {"A1": "R1", "A2": "R1", "A3": "R1", "A4": "R2"}) == ()


def test_the_home_rule_holds_at_account_level_with_one_account_of_the_home() -> None:
    t = tables({"R1": "G1", "R2": "G2"}, {"A1": "G1", "A2": "G1", "A3": "G2"})
    assert violations(t, {"A1": "R1", "A2": "R2", "A3": "R2"}) == ()
    found = violations(t, {"A1": "R2", "A2": "R2", "A3": "R1"})
    assert "home[R1]: R1 serves none of its home region G1 (its accounts are with R2)" in found
    assert "home[R2]: R2 serves none of its home region G2 (its accounts are with R1)" in found


def test_a_region_shared_by_more_reps_than_items_goes_to_one_of_them() -> None:
    """At region level G2 is one item for two residents: either may take it, nobody else."""
    t = tables({"R1": "G2", "R2": "G2", "R3": "G4"}, ONE_PER_REGION)
    ok = {"A1": "R1", "A2": "R1", "A3": "R2", "A4": "R3"}
    assert violations(t, ok, level="region") == ()
    bad = {"A1": "R1", "A2": "R3", "A3": "R2", "A4": "R3"}
    found = violations(t, bad, level="region")
    assert "home[G2]: region G2 is served by R3, none of the reps living there (R1, R2)" in found


def test_a_home_region_without_accounts_sets_no_rule() -> None:
    t = tables({"R1": "G2", "R2": "G4"}, {"A1": "G1", "A3": "G3", "A4": "G4"})
    assert violations(t, {"A1": "R1", "A3": "R2", "A4": "R2"}) == (
        "contiguity[R2]: its regions ['G3', 'G4'] are not connected",
    )
    assert violations(t, {"A1": "R1", "A3": "R1", "A4": "R2"}) == (
        "contiguity[R1]: its regions ['G1', 'G3'] are not connected",
    )  # G2 holds no account: it joins nothing


@pytest.mark.parametrize(("per_component", "expected"), [(False, 1), (True, 0)])
def test_per_component_judges_each_island_on_its_own(per_component: bool, expected: int) -> None:
    t = tables({"R1": "G1", "R2": "G4"}, {"A1": "G1", "A2": "G2", "A4": "G4", "A5": "G5"})
    owners = {"A1": "R1", "A2": "R1", "A5": "R1", "A4": "R2"}
    found = violations(t, owners, per_component=per_component)
    assert len(found) == expected
    if expected:
        assert found == ("contiguity[R1]: its regions ['G1', 'G2', 'G5'] are not connected",)


def test_per_component_still_needs_each_piece_connected() -> None:
    t = tables({"R1": "G1", "R2": "G2"}, {"A1": "G1", "A2": "G2", "A3": "G3", "A5": "G5"})
    owners = {"A1": "R1", "A3": "R1", "A5": "R1", "A2": "R2"}
    found = violations(t, owners, per_component=True)
    assert found == (
        "contiguity[R1]: its regions ['G1', 'G3'] in the component of G1 are not connected",
    )
