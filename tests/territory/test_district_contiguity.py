"""Contiguity per district (``assignment.constraints.managers.contiguous``): the regions served by
a manager's reps form one connected piece (allocator/territory/flow.py ``district_flow``,
graph_check.py, check.py; models/organisation.md "Contiguity per district").

A path of four regions G0-G1-G2-G3, two accounts in each, one rep living in each: R1 (G0) and
R3 (G2) report to D1, R2 (G1) and R4 (G3) to D2. With territories contiguous rep by rep, every
rep keeps its own region (no travel), which splits both districts (D1 holds G0 and G2 around
G1). Joined up, D1 must serve G1 and D2 must serve G2: by hand, the cheapest way moves one
account of G1 to a D1 rep and one of G2 to a D2 rep, two moves of one link (0.1 degrees of
longitude) each, so the travel is exactly twice one account's trip from the next region.
"""

from __future__ import annotations

import re

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InfeasibleError, ScenarioError
from allocator.geography import haversine_km
from allocator.io.data import make_tables
from allocator.io.scenario import scenario_from_dict
from allocator.io.settings import (
    AssignmentConstraints,
    AssignmentSettings,
    CapacitySettings,
    ContiguitySettings,
    ManagerSettings,
    ObjectiveWeights,
    SolverSettings,
)
from allocator.io.tables import Tables
from allocator.territory.assignment import solve_assignment
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.check import check_assignment
from allocator.territory.flow import build_flow, flow_start
from allocator.territory.search_inputs import search_inputs

SOLVER = SolverSettings(time_limit=20, gap=1e-6, threads=1)
DISTRICT = {"R1": "D1", "R2": "D2", "R3": "D1", "R4": "D2"}


def path_company(island: bool = False) -> Tables:
    regions = ["G0", "G1", "G2", "G3"] + (["G9"] if island else [])
    lon = {g: 10.0 + 0.1 * k for k, g in enumerate(regions)}
    accounts = pd.DataFrame(
        [
            (f"A{g}{s}", f"Kunde {g}{s}", 50.0, lon[g], g, "C", 100.0, 1.0)
            for g in regions
            for s in "ab"
        ],
        columns=[
            "account_id",
            "name",
            "lat",
            "lon",
            "region_id",
            "segment",
            "potential",
            "workload",
        ],
    )
    homes = {"R1": "G0", "R2": "G1", "R3": "G2", "R4": "G3"} | ({"R5": "G9"} if island else {})
    reps = pd.DataFrame(
        {
            "rep_id": list(homes),
            "name": list(homes),
            "experience": 1,
            "region_id": list(homes.values()),
            "lat": 50.0,
            "lon": [lon[g] for g in homes.values()],
            "capacity": 100.0,
            "manager_id": [DISTRICT.get(r, "D1") for r in homes],
        }
    )
    adjacency = pd.DataFrame({"region_a": ["G0", "G1", "G2"], "region_b": ["G1", "G2", "G3"]})
    managers = pd.DataFrame({"manager_id": ["D1", "D2"], "name": ["D1", "D2"]})
    return make_tables(
        reps=reps,
        accounts=accounts,
        regions=pd.DataFrame({"region_id": regions, "name": regions}),
        adjacency=adjacency,
        managers=managers,
    )


def settings(*, districts: bool) -> AssignmentSettings:
    managers = ManagerSettings(tolerance=None, contiguous=True) if districts else None
    return AssignmentSettings(
        objective=ObjectiveWeights(travel=1.0, balance=0.0, disruption=0.0),
        constraints=AssignmentConstraints(
            capacity=CapacitySettings(), contiguity=ContiguitySettings(), managers=managers
        ),
    )


def regions_of(result, tables: Tables) -> dict[str, set[str]]:
    where = tables.accounts.set_index("account_id")["region_id"]
    pairs = result.assignments
    return {
        m: set(pairs.loc[pairs["rep_id"].map(DISTRICT) == m, "account_id"].map(where))
        for m in ("D1", "D2")
    }


def connected(regions: set[str]) -> bool:
    path = nx.path_graph(["G0", "G1", "G2", "G3"])
    return nx.is_connected(path.subgraph(regions))


@pytest.fixture(scope="module")
def free_plan():
    tables = path_company()
    return tables, solve_assignment(tables, settings(districts=False), SOLVER)


def test_the_rep_level_optimum_splits_both_districts(free_plan) -> None:
    tables, result = free_plan
    assert result.objective == pytest.approx(0.0, abs=1e-6)  # everyone stays at home
    held = regions_of(result, tables)
    assert held == {"D1": {"G0", "G2"}, "D2": {"G1", "G3"}}
    assert not connected(held["D1"]) and not connected(held["D2"])


def test_district_contiguity_joins_each_district_at_the_least_travel() -> None:
    tables = path_company()
    result = solve_assignment(tables, settings(districts=True), SOLVER)
    held = regions_of(result, tables)
    assert connected(held["D1"]) and connected(held["D2"]), held
    one_link = haversine_km(50.0, 10.0, 50.0, 10.1)
    assert result.objective == pytest.approx(2 * one_link, rel=1e-6)
    assert check_assignment(tables, settings(districts=True), result.assignments).ok


def test_the_checker_rejects_a_split_district(free_plan) -> None:
    tables, result = free_plan
    assert check_assignment(tables, settings(districts=False), result.assignments).ok
    found = check_assignment(tables, settings(districts=True), result.assignments).violations
    assert any(v.startswith("district_contiguity[D1]") for v in found), found
    assert any(v.startswith("district_contiguity[D2]") for v in found), found


def test_a_district_living_in_two_parts_of_the_map_is_refused_before_solving() -> None:
    tables = path_company(island=True)  # R5 of D1 lives on the island G9
    with pytest.raises(InfeasibleError) as err:
        solve_assignment(tables, settings(districts=True), SOLVER)
    text = str(err.value)
    assert "proven before solving" in text
    assert "district_contiguity[D1]: its reps live in 2 parts" in text and "R5 in G9" in text


def test_the_flow_start_of_a_joined_plan_meets_every_district_row() -> None:
    tables = path_company()
    rules = settings(districts=True)
    result = solve_assignment(tables, rules, SOLVER)
    problem = territory_problem(tables, rules, build_territory(tables, rules))
    graph, rows = search_inputs(problem, problem.contiguity)
    position = {r: k for k, r in enumerate(problem.reps)}
    owner = result.assignments.set_index("account_id")["rep_id"]
    assign = np.array([position[owner[a]] for a in problem.items], np.int64)
    model = build_flow(graph, rows, assign, tuple(range(len(problem.reps))))
    district_rows = [n for n in model.prob.constraints if re.fullmatch(r"district_flow_\d+_\d+", n)]
    assert len(district_rows) == 2 * 4  # both districts, every region they may serve
    start = flow_start(model, graph, rows, assign)
    for variable in model.prob.variables():
        variable.varValue = start.get(variable.name, 0.0)
    broken = [n for n, c in model.prob.constraints.items() if not c.valid(1e-9)]
    assert not broken


def test_district_contiguity_without_contiguity_names_the_key() -> None:
    raw = {"name": "x", "data": {"reps": "r.csv", "accounts": "a.csv"}}
    raw["assignment"] = {"constraints": {"managers": {"contiguous": True}}}
    with pytest.raises(ScenarioError, match=r"managers\.contiguous needs contiguity"):
        scenario_from_dict(raw)
    raw["assignment"]["constraints"]["contiguity"] = {}
    raw["assignment"]["objective"] = {"mode": "lexicographic"}
    with pytest.raises(ScenarioError, match=r"managers\.contiguous works with objective\.mode"):
        scenario_from_dict(raw)
