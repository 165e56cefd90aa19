"""The region graph analysis: components, islands, reps, and what the graph alone proves."""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.geography.analysis import BalanceBands, analyse_graph, format_analysis

# A small Hawaii: a mainland of four tracts (Oahu), a two-tract island with its own rep (Maui),
# a one-tract island without a rep (Niihau) and a tract without accounts (a park) on the mainland.
REGIONS = pd.DataFrame(
    {
        "region_id": ["O1", "O2", "O3", "O4", "M1", "M2", "N1", "P1"],
        "name": [
            "Honolulu",
            "Kailua",
            "Pearl City",
            "Waianae",
            "Kahului",
            "Lahaina",
            "Niihau",
            "Park",
        ],
        "lat": [21.3, 21.4, 21.4, 21.45, 20.9, 20.88, 21.9, 21.5],
        "lon": [-157.85, -157.74, -157.97, -158.18, -156.47, -156.68, -160.15, -158.0],
    }
)
LINKS = pd.DataFrame(
    [("O1", "O2"), ("O1", "O3"), ("O3", "O4"), ("O2", "O3"), ("M1", "M2"), ("O4", "P1")],
    columns=["region_a", "region_b"],
)
POPULATION = {
    "O1": 400.0,
    "O2": 200.0,
    "O3": 150.0,
    "O4": 50.0,
    "M1": 100.0,
    "M2": 60.0,
    "N1": 40.0,
}


def accounts(population: dict[str, float] = POPULATION) -> pd.DataFrame:
    points = REGIONS.set_index("region_id")
    return pd.DataFrame(
        {
            "account_id": [f"A{g}" for g in population],
            "region_id": list(population),
            "lat": [points.at[g, "lat"] for g in population],
            "lon": [points.at[g, "lon"] for g in population],
            "potential": list(population.values()),
            "workload": [p / 100 for p in population.values()],
        }
    )


def reps(homes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"rep_id": list(homes), "region_id": list(homes.values())})


def test_islands_are_named_with_their_accounts_and_potential() -> None:
    team = reps({"R1": "O1", "R2": "O3", "R3": "M1"})
    result = analyse_graph(REGIONS, LINKS, accounts(), team, level="region")
    sizes = [(c.regions, c.potential, c.reps, c.island) for c in result.components]
    assert sizes == [
        (("O1", "O2", "O3", "O4"), 800.0, ("R1", "R2"), False),
        (("M1", "M2"), 160.0, ("R3",), True),
        (("N1",), 40.0, (), True),
    ]
    assert result.empty_regions == ("P1",)
    (niihau,) = [f for f in result.findings if f.kind == "no_rep"]
    assert niihau.infeasible and niihau.regions == ("N1",)
    assert "N1 'Niihau' (1 account, potential 40)" in niihau.message
    assert "no neighbour with accounts" in niihau.message
    assert "region_a: N1, region_b: O4" in niihau.fix  # the closest mainland tract
    assert "per_component: true" in niihau.fix
    text = format_analysis(result)
    assert "3 components" in text
    assert (
        "island 3: 1 region (Niihau), 1 account, potential 40 (4.0%); reps living there: none"
        in text
    )
    assert "infeasible: component 3" in text


def test_per_component_lets_reps_from_elsewhere_serve_an_island() -> None:
    team = reps({"R1": "O1", "R2": "O3", "R3": "M1"})
    result = analyse_graph(REGIONS, LINKS, accounts(), team, per_component=True)
    assert result.infeasible == ()
    (niihau,) = [f for f in result.findings if f.kind == "no_rep"]
    assert "served from elsewhere (per_component: true)" in niihau.message


def test_two_components_each_with_reps_are_reported_not_refused() -> None:
    team = reps({"R1": "O1", "R2": "O3", "R3": "M1"})
    two = {g: p for g, p in POPULATION.items() if g != "N1"}
    result = analyse_graph(REGIONS, LINKS, accounts(two), team)
    assert [c.size for c in result.components] == [4, 2]
    assert not result.connected
    assert result.infeasible == ()
    # fair shares of a third each (320): Maui's 160 potential is far below R3's band
    bands = BalanceBands(0.30, {"potential": dict.fromkeys(["R1", "R2", "R3"], 320.0)})
    result = analyse_graph(REGIONS, LINKS, accounts(two), team, balance=bands)
    (maui,) = result.infeasible
    assert maui.kind == "component_balance" and maui.regions == ("M1", "M2")
    assert maui.min_tolerance == pytest.approx(0.5)  # 160 = (1 - 0.5) x 320
    assert result.min_tolerance == pytest.approx(0.5)
    # judged per component, R1 and R2 may help on Maui: nothing is proved
    loose = analyse_graph(REGIONS, LINKS, accounts(two), team, per_component=True, balance=bands)
    assert loose.infeasible == ()


def test_a_unit_above_every_band_gives_the_smallest_tolerance() -> None:
    """Honolulu alone holds 400 of 960: above a fair third (320) + 10%: tolerance >= 25%."""
    team = reps({"R1": "O1", "R2": "O3", "R3": "O4"})
    bands = BalanceBands(0.10, {"potential": dict.fromkeys(["R1", "R2", "R3"], 320.0)})
    result = analyse_graph(
        REGIONS, LINKS, accounts(), team, level="region", per_component=True, balance=bands
    )
    (big,) = [f for f in result.findings if f.kind == "oversized_unit"]
    assert big.infeasible and big.regions == ("O1",)
    assert big.min_tolerance == pytest.approx(400 / 320 - 1)
    assert "O1 'Honolulu'" in big.message and "below a tolerance of 25.0%" in big.message
    assert "tolerance to at least 0.25" in big.fix
    # at account level the same region is one account: the proof stands
    assert analyse_graph(
        REGIONS, LINKS, accounts(), team, per_component=True, balance=bands
    ).infeasible


def test_regions_without_accounts_that_cut_a_component_are_named() -> None:
    """Waianae (O4) reaches the mainland only through the park P1 once O3 is gone."""
    links = pd.DataFrame(
        [("O1", "O2"), ("O2", "P1"), ("P1", "O4")], columns=["region_a", "region_b"]
    )
    population = {"O1": 400.0, "O2": 200.0, "O4": 50.0}
    result = analyse_graph(REGIONS, links, accounts(population), reps({"R1": "O1", "R2": "O4"}))
    assert [c.regions for c in result.components] == [("O1", "O2"), ("O4",)]
    (cut,) = [f for f in result.findings if f.kind == "island"]
    assert "cut off only by regions without accounts: P1 'Park'" in cut.message


def test_homes_without_accounts_and_shared_homes_are_explained() -> None:
    team = reps({"R1": "O1", "R2": "O1", "R3": "P1"})
    result = analyse_graph(REGIONS, LINKS, accounts(), team, level="region", per_component=True)
    kinds = {f.kind: f for f in result.findings}
    assert "R1, R2 live in O1 'Honolulu'" in kinds["shared_home"].message
    assert "P1 'Park' of R3 holds no accounts" in kinds["home_without_accounts"].message
    assert not kinds["shared_home"].infeasible


def test_without_contiguity_only_the_band_can_prove_anything() -> None:
    team = reps({"R1": "O1", "R2": "O3", "R3": "M1"})
    result = analyse_graph(REGIONS, LINKS, accounts(), team, contiguity=False)
    assert result.infeasible == ()
    assert [f.kind for f in result.findings] == ["no_rep", "no_accounts"]
