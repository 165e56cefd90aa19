"""Contiguous territories (issue 13b): feasible, two parts, proven infeasible, out of time.

Small inputs of our own (grids and a mainland with an island); the known answers come from
enumeration by hand (the 4x4 grid's smallest tolerance, 3/14 = 21.43%, was found by listing all
connected two-part splits). Every solved plan passes the independent checker inside
``solve_assignment`` and is checked connected again here with networkx.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from allocator.demo.maps import MAPS_DIR, map_instance
from allocator.exceptions import InfeasibleError, NoSolutionInTimeError
from allocator.io.data import make_tables
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.io.tables import Tables
from allocator.solver import Status, solve
from allocator.territory.assignment import solve_assignment
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.flow import build_flow, flow_start
from allocator.territory.search_inputs import search_inputs

SOLVER = SolverSettings(time_limit=20, gap=1e-4, threads=1)


def grid_tables(
    rows: int,
    cols: int,
    homes: list[tuple[int, int]],
    potential: np.ndarray,
    workload: np.ndarray | None = None,
    *,
    prefix: str = "G",
    offset: float = 0.0,
) -> dict[str, pd.DataFrame]:
    """Frames of a rows x cols grid of regions, one account per region, reps at ``homes``."""
    ids = [[f"{prefix}{r}{c}" for c in range(cols)] for r in range(rows)]
    flat = [g for row in ids for g in row]
    lat = [50.0 + 0.1 * r for r in range(rows) for _ in range(cols)]
    lon = [10.0 + offset + 0.1 * c for _ in range(rows) for c in range(cols)]
    edges = [(ids[r][c], ids[r][c + 1]) for r in range(rows) for c in range(cols - 1)]
    edges += [(ids[r][c], ids[r + 1][c]) for r in range(rows - 1) for c in range(cols)]
    work = potential / 10.0 if workload is None else workload
    accounts = pd.DataFrame(
        {
            "account_id": ["A" + g for g in flat],
            "region_id": flat,
            "lat": lat,
            "lon": lon,
            "name": ["Kunde " + g for g in flat],
            "segment": "C",
            "potential": potential,
            "workload": work,
        }
    )
    reps = pd.DataFrame(
        {
            "rep_id": [f"{prefix}R{k + 1}" for k in range(len(homes))],
            "name": [f"Rep {prefix}{k + 1}" for k in range(len(homes))],
            "experience": 1,
            "region_id": [ids[r][c] for r, c in homes],
            "lat": [50.0 + 0.1 * r for r, _ in homes],
            "lon": [10.0 + offset + 0.1 * c for _, c in homes],
            "capacity": 10 * float(work.sum()),
        }
    )
    regions = pd.DataFrame({"region_id": flat, "name": ["Kreis " + g for g in flat]})
    adjacency = pd.DataFrame(edges, columns=["region_a", "region_b"])
    return {"reps": reps, "accounts": accounts, "regions": regions, "adjacency": adjacency}


def tables_of(*parts: dict[str, pd.DataFrame]) -> Tables:
    frames = {k: pd.concat([p[k] for p in parts], ignore_index=True) for k in parts[0]}
    return make_tables(**frames)


def settings(
    tolerance: float, measure: str = "potential", **contiguity: object
) -> AssignmentSettings:
    return AssignmentSettings.model_validate(
        {
            "level": "region",
            "objective": {"travel": 1.0},
            "constraints": {
                "balance": {"measure": measure, "tolerance": tolerance, "fair_share": "equal"},
                "contiguity": dict(contiguity),
            },
        }
    )


def assert_connected(tables: Tables, assignments: pd.DataFrame) -> None:
    adjacency = tables.adjacency
    assert adjacency is not None
    graph = nx.Graph(list(zip(adjacency["region_a"], adjacency["region_b"], strict=True)))
    region = tables.accounts.set_index("account_id")["region_id"]
    for rep, group in assignments.groupby("rep_id"):
        served = set(region[group["account_id"]])
        parts = [c for c in nx.connected_components(graph.subgraph(served))]
        assert len(parts) == 1, f"{rep} serves {len(parts)} pieces: {parts}"


def test_a_six_by_six_map_is_solved_contiguous_and_balanced() -> None:
    rng = np.random.default_rng(3)
    potential = rng.integers(50, 150, 36).astype(float)
    potential[14] = 600.0  # a metro region
    tables = tables_of(grid_tables(6, 6, [(0, 0), (0, 5), (5, 0), (5, 5)], potential))
    result = solve_assignment(tables, settings(0.10), SOLVER)
    assert_connected(tables, result.assignments)
    owners = result.assignments[["account_id", "rep_id"]]
    load = owners.merge(tables.accounts, on="account_id").groupby("rep_id")["potential"]
    share = load.sum() / (potential.sum() / 4)
    assert share.between(0.9 - 1e-9, 1.1 + 1e-9).all()
    assert result.report.bound is not None and result.report.bound <= result.report.objective + 1e-6


def test_a_mainland_with_three_reps_and_an_island_with_one_are_solved() -> None:
    mainland = grid_tables(4, 5, [(0, 0), (3, 0), (1, 4)], np.full(20, 100.0))
    island = grid_tables(2, 2, [(0, 0)], np.full(4, 165.0), prefix="I", offset=2.0)
    tables = tables_of(mainland, island)
    result = solve_assignment(tables, settings(0.10), SOLVER)
    assert_connected(tables, result.assignments)
    on_island = result.assignments[result.assignments["account_id"].str.startswith("AI")]
    assert set(on_island["rep_id"]) == {"IR1"}


def _two_measure_grid(tolerance: float) -> tuple[Tables, AssignmentSettings]:
    potential = np.ones(16)
    potential[[0, 4, 8, 12]] = 4.0  # the left column
    workload = np.ones(16)
    workload[[12, 13, 14, 15]] = 4.0  # the bottom row
    tables = tables_of(grid_tables(4, 4, [(0, 0), (3, 3)], potential, workload))
    return tables, settings(tolerance, measure="both")


def test_a_4x4_grid_at_15_percent_is_proven_infeasible_with_the_tolerance_that_works() -> None:
    tables, rule = _two_measure_grid(0.15)
    with pytest.raises(InfeasibleError) as caught:
        solve_assignment(tables, rule, SOLVER)
    text = str(caught.value)
    assert "21.43%" in text  # 3/14, by enumerating every connected split
    assert "time_limit" not in text and "more time would not help" in text


def test_the_same_grid_at_25_percent_is_solved() -> None:
    tables, rule = _two_measure_grid(0.25)
    result = solve_assignment(tables, rule, SOLVER)
    assert_connected(tables, result.assignments)


def test_a_unit_above_every_band_is_named_before_solving() -> None:
    potential = np.full(16, 10.0)
    potential[5] = 123.0  # 123 / 273 = 45% of the total, 1.8 fair shares of 4 reps
    tables = tables_of(grid_tables(4, 4, [(0, 0), (0, 3), (3, 0), (3, 3)], potential))
    with pytest.raises(InfeasibleError) as caught:
        solve_assignment(tables, settings(0.10), SOLVER)
    text = str(caught.value)
    assert "Kreis G11" in text and "45.1%" in text and "80.2%" in text and "before solving" in text


@pytest.mark.parametrize("seed", range(6))
def test_every_territory_is_connected(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, cols, k = int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.integers(2, 5))
    cells = rng.choice(rows * cols, size=k, replace=False)
    homes = [(int(c) // cols, int(c) % cols) for c in cells]
    potential = rng.lognormal(3.0, 0.4, rows * cols)
    tables = tables_of(grid_tables(rows, cols, homes, potential))
    try:
        result = solve_assignment(tables, settings(0.35), SOLVER)
    except InfeasibleError:
        return  # lumpy draws may be infeasible; the message is tested above
    assert_connected(tables, result.assignments)


def test_out_of_time_gives_the_best_connected_plan_marked() -> None:
    rng = np.random.default_rng(0)
    tables = tables_of(
        grid_tables(6, 6, [(0, 0), (0, 5), (5, 0), (5, 5)], rng.lognormal(3.0, 0.5, 36))
    )
    tiny = SolverSettings(time_limit=0.01, gap=1e-4, threads=1)
    with pytest.raises(NoSolutionInTimeError) as caught:
        solve_assignment(tables, settings(0.01), tiny)
    best = caught.value.result
    assert best is not None and len(best.assignments) == 36
    assert_connected(tables, best.assignments)


def _accounts_per_region(frames: dict[str, pd.DataFrame], copies: int) -> dict[str, pd.DataFrame]:
    """Each region's account split into ``copies`` accounts with uneven shares."""
    rows = []
    for k in range(copies):
        part = frames["accounts"].copy()
        share = (k + 1) / (copies * (copies + 1) / 2)
        part["account_id"] = part["account_id"] + f"-{k}"
        part["potential"] = part["potential"] * share
        part["workload"] = part["workload"] * share
        rows.append(part)
    return {**frames, "accounts": pd.concat(rows, ignore_index=True)}


def test_account_level_territories_serve_connected_regions() -> None:
    rng = np.random.default_rng(5)
    frames = grid_tables(5, 5, [(0, 0), (4, 4), (0, 4)], rng.lognormal(4.0, 0.5, 25))
    tables = tables_of(_accounts_per_region(frames, 3))
    rule = settings(0.05).model_copy(update={"level": "account"})
    result = solve_assignment(tables, rule, SOLVER)
    assert len(result.assignments) == 75
    assert_connected(tables, result.assignments)


def test_an_island_without_a_rep_is_served_per_component() -> None:
    mainland = grid_tables(3, 4, [(0, 0), (2, 3)], np.full(12, 100.0))
    island = grid_tables(1, 2, [], np.full(2, 100.0), prefix="I", offset=2.0)
    tables = tables_of(mainland, island)
    with pytest.raises(InfeasibleError) as caught:
        solve_assignment(tables, settings(0.10), SOLVER)
    assert "Kreis I00" in str(caught.value)
    result = solve_assignment(tables, settings(0.10, per_component=True), SOLVER)
    on_island = result.assignments[result.assignments["account_id"].str.startswith("AI")]
    assert len(set(on_island["rep_id"])) == 1  # one connected piece on the island
    owners = result.assignments[["account_id", "rep_id"]]
    load = owners.merge(tables.accounts, on="account_id").groupby("rep_id")["potential"].sum()
    assert load.between(0.9 * 700 - 1e-6, 1.1 * 700 + 1e-6).all()


@pytest.mark.skipif(not MAPS_DIR.is_dir(), reason="../shared/maps is not there")
def test_maine_counties_from_polygons_are_solved_contiguous(tmp_path: Path) -> None:
    """A real map (16 counties, polygons): three reps at ±10% come out connected and checked."""
    scenario, tables = map_instance(
        MAPS_DIR / "me-county", reps=3, tolerance=0.10, out_dir=tmp_path
    )
    result = solve_assignment(tables, scenario.assignment, SOLVER)
    assert_connected(tables, result.assignments)
    assert result.report.gap is not None and result.report.gap <= 0.01


def test_the_exact_model_admits_a_rep_with_pieces_on_two_islands() -> None:
    """With per_component, the flow model must accept a rep rooted at home that also serves an
    island (it once had no supply there and called a feasible plan infeasible)."""
    mainland = grid_tables(3, 4, [(0, 0), (2, 3)], np.full(12, 100.0))
    island = grid_tables(1, 2, [], np.full(2, 100.0), prefix="I", offset=2.0)
    tables = tables_of(mainland, island)
    rule = settings(0.10, per_component=True)
    result = solve_assignment(tables, rule, SOLVER)
    territory = build_territory(tables, rule)
    problem = territory_problem(tables, rule, territory)
    assert problem.contiguity is not None
    graph, rows = search_inputs(problem, problem.contiguity)
    index = {rep: k for k, rep in enumerate(problem.reps)}
    owner = result.assignments.set_index("account_id")["rep_id"]
    assign = np.array([index[owner["A" + g]] for g in problem.items], np.int64)
    model = build_flow(graph, rows, assign, tuple(range(len(problem.reps))))
    report = solve(model.prob, SOLVER, warm_start=flow_start(model, graph, rows, assign))
    assert report.status is Status.OPTIMAL
    assert report.objective == pytest.approx(result.report.objective, rel=1e-6)
