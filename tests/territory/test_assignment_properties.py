"""Properties of the territory model on seeded random companies.

Small ones (8 accounts, 3 reps) are compared with brute force; larger ones check that arc pruning
with pricing reaches the all-pairs optimum, that every account is assigned once, that territories
are connected under contiguity, and that the same input gives the same output.
"""

from __future__ import annotations

import networkx as nx
import pytest

from allocator.demo.examples import example
from allocator.exceptions import InfeasibleError
from allocator.io.settings import AssignmentSettings
from tests.territory.test_assignment_helpers import (
    SOLVER,
    brute_force,
    owners,
    random_company,
    solved,
)

CONFIGS = {
    "capacity": {"constraints": {"capacity": {}}},
    "balance": {
        "constraints": {
            "capacity": {"travel_hours_per_km": 0.005},
            "balance": {"tolerance": 0.5, "measure": "both", "fair_share": "experience_ramp"},
        },
        "objective": {"balance": 5},
    },
    "mixed": {
        "constraints": {
            "capacity": {},
            "experience": {"A": 3},
            "max_accounts": {"limit": 4},
            "continuity": {"max_moved_share": 0.5, "measure": "potential"},
        },
        "objective": {"disruption": 50, "balance": 2},
    },
    "contiguity": {"constraints": {"capacity": {}, "contiguity": {}}},
    "region": {"level": "region", "constraints": {"capacity": {}}},
}


#: The same families with room to spare, for 50-80 accounts (tight random instances can take a
#: MIP solver minutes just to find a feasible point; that is not what these tests are about).
LARGE = {
    "capacity": CONFIGS["capacity"],
    "balance": {
        "constraints": {
            "capacity": {"travel_hours_per_km": 0.002},
            "balance": {"tolerance": 0.3, "fair_share": "experience_ramp"},
        },
        "objective": {"balance": 1},
    },
    "mixed": {
        "constraints": {
            "capacity": {},
            "experience": {"A": 3},
            "max_accounts": {"limit": 14},
            "continuity": {"max_moved_share": 0.5, "measure": "potential"},
        },
        "objective": {"disruption": 50, "balance": 2},
    },
}


def with_nearest(config: dict, nearest: int) -> AssignmentSettings:
    settings = AssignmentSettings.model_validate(config)
    candidates = settings.constraints.candidates.model_copy(update={"nearest": nearest})
    constraints = settings.constraints.model_copy(update={"candidates": candidates})
    return settings.model_copy(update={"constraints": constraints})


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_small_random_territories_match_brute_force(config: str, seed: int) -> None:
    """One candidate arc per account at first: pricing and the reduced-cost step find the rest."""
    grid = 3 if config in ("contiguity", "region") else 0
    tables = random_company(seed, accounts=8, reps=3, incumbents=True, grid=grid, slack=1.4)
    settings = with_nearest(CONFIGS[config], 1)
    try:
        best, ties = brute_force(tables, settings)
    except ValueError:  # no feasible assignment at all
        with pytest.raises(InfeasibleError):
            solved(tables, settings)
        return
    result = solved(tables, settings)
    assert result.report.objective == pytest.approx(best, rel=1e-6)
    assert owners(result) in ties


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("config", ["capacity", "balance", "mixed"])
def test_pruned_model_reaches_the_all_pairs_optimum(config: str, seed: int) -> None:
    tables = random_company(100 + seed, accounts=50, reps=6, incumbents=True, slack=1.25)
    pruned = solved(tables, with_nearest(LARGE[config], 2))
    full = solved(tables, with_nearest(LARGE[config], 6))
    assert pruned.arcs < full.arcs <= 50 * 6  # the full model has every eligible arc
    assert pruned.pruning_exact and full.pruning_exact
    assert pruned.report.objective == pytest.approx(full.report.objective, rel=1e-4, abs=1e-6)


def test_every_account_once_and_same_input_same_output() -> None:
    tables = random_company(7, accounts=80, reps=6, incumbents=True)
    settings = with_nearest(LARGE["mixed"], 3)
    first, again = solved(tables, settings), solved(tables, settings)
    table = first.assignments
    assert table["account_id"].is_unique and len(table) == 80
    assert set(table["rep_id"]) <= set(tables.reps["rep_id"])
    assert first.assignments.equals(again.assignments)
    assert first.report.objective == again.report.objective


@pytest.mark.parametrize("seed", range(3))
def test_every_territory_is_connected_under_contiguity(seed: int) -> None:
    tables = random_company(200 + seed, accounts=40, reps=4, grid=4, slack=1.3)
    settings = with_nearest(CONFIGS["contiguity"], 2)
    result = solved(tables, settings)
    graph = nx.Graph(
        list(zip(tables.adjacency["region_a"], tables.adjacency["region_b"], strict=True))
    )
    region = tables.accounts.set_index("account_id")["region_id"]
    home = tables.reps.set_index("rep_id")["region_id"]
    for rep, group in result.assignments.groupby("rep_id"):
        served = set(region[group["account_id"]]) | {home[rep]}
        assert nx.is_connected(graph.subgraph(served)), (rep, served)
    unconstrained = solved(tables, with_nearest(CONFIGS["capacity"], 2))
    assert result.report.objective >= unconstrained.report.objective - 1e-6


def test_pricing_brings_in_the_arcs_the_nearest_rule_left_out() -> None:
    """capacity_move with one candidate per account (R1 for all): the LP over those arcs is
    infeasible, phase 1 prices R2's arcs in, and the optimum is the hand-computed one."""
    ex = example("capacity_move")
    result = solved(ex.tables, with_nearest(ex.settings.model_dump(), 1))
    assert result.priced_arcs >= 1 and result.arcs == 3 + result.priced_arcs
    assert result.report.objective == pytest.approx(ex.objective, rel=1e-9)
    assert owners(result) == dict(ex.owners)


def test_without_pricing_the_pruned_model_is_a_heuristic() -> None:
    """price_out false keeps only the nearest arcs: capacity_move then has no solution in them
    and falls back to every arc; the result is still optimal but not claimed exact by pricing."""
    ex = example("capacity_move")
    config = ex.settings.model_dump()
    config["constraints"]["candidates"] = {"nearest": 1, "price_out": False}
    result = solved(ex.tables, AssignmentSettings.model_validate(config))
    assert result.report.objective == pytest.approx(ex.objective, rel=1e-9)
    assert result.priced_arcs == 0 and result.arcs == 6


def test_pricing_with_cbc_duals_reaches_the_all_pairs_optimum() -> None:
    """CBC's LP duals drive the pricing as well as HiGHS's do (balance rows, 2 arcs per account)."""
    tables = random_company(101, accounts=50, reps=6, incumbents=True, slack=1.25)
    cbc = solved(
        tables, with_nearest(LARGE["balance"], 2), SOLVER.model_copy(update={"name": "cbc"})
    )
    full = solved(tables, with_nearest(LARGE["balance"], 6))
    assert cbc.report.solver == "cbc" and cbc.priced_arcs > 0
    assert cbc.report.objective == pytest.approx(full.report.objective, rel=1e-4)
