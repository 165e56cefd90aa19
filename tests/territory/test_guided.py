"""The LP-guided method for large maps: chains that join a rep's pieces, the guided arcs, and the
whole path against the exact flow model on a small account-level grid."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from allocator.solver import solve
from allocator.territory import solve_contiguous as sc
from allocator.territory.assignment import solve_assignment
from allocator.territory.build import build_territory, territory_problem
from allocator.territory.core import objective_terms
from allocator.territory.flow import build_flow, read_flow
from allocator.territory.grow import Graph, Rows, pieces
from allocator.territory.guided import bridge, guided_graph
from allocator.territory.search_inputs import search_inputs
from tests.territory.test_contiguous import (
    SOLVER,
    _accounts_per_region,
    assert_connected,
    grid_tables,
    settings,
    tables_of,
)

NO_ROWS = Rows((), (), (), (), (), (), (), (), None)
#: regions of a 2 x 3 grid: 0 1 2 / 3 4 5
GRID = ((1, 3), (0, 2, 4), (1, 5), (0, 4), (1, 3, 5), (2, 4))


def _graph(items_per_region: list[int], cost: np.ndarray, root: list[int]) -> Graph:
    region = np.repeat(np.arange(len(items_per_region)), items_per_region).astype(np.int64)
    items_in = tuple(tuple(np.flatnonzero(region == g).tolist()) for g in range(len(GRID)))
    n, m = cost.shape
    return Graph(
        region=region,
        component=np.zeros(len(GRID), np.int64),
        per_component=False,
        neighbours=GRID,
        items_in=items_in,
        root=np.array(root, np.int64),
        fixed=np.full(n, -1, np.int64),
        first=np.full(n, -1, np.int64),
        eligible=np.ones((n, m), bool),
        cost=cost,
    )


def _connected(graph: Graph, assign: np.ndarray, r: int) -> bool:
    return len(pieces(graph, set(graph.region[assign == r].tolist()))) == 1


def test_a_chain_joins_the_pieces_at_the_least_cost_found_by_brute_force() -> None:
    """Rep 0 holds regions 0 and 2; rep 1 the rest, two accounts per region. Through region 1
    the chain costs 10, round by 3-4-5 it costs 1+2+1: bridge must equal the cheapest set of
    moves that leaves both reps connected (all 2^8 subsets of rep 1's accounts tried)."""
    rng = np.random.default_rng(0)
    cost = np.zeros((12, 2))
    cost[:, 1] = rng.uniform(5, 6, 12)
    cost[:, 0] = cost[:, 1] + np.array([0, 0, 10, 12, 0, 0, 1, 3, 2, 5, 1, 4])
    graph = _graph([2] * 6, cost, root=[0, 4])
    assign = np.array([0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1], np.int64)
    out = bridge(graph, NO_ROWS, assign)
    assert _connected(graph, out, 0) and _connected(graph, out, 1)
    extra = float(cost[np.arange(12), out].sum() - cost[np.arange(12), assign].sum())
    theirs = np.flatnonzero(assign == 1)
    best = np.inf
    for k in range(len(theirs) + 1):
        for moved in itertools.combinations(theirs.tolist(), k):
            trial = assign.copy()
            trial[list(moved)] = 0
            if _connected(graph, trial, 0) and _connected(graph, trial, 1) and (trial == 1).any():
                best = min(best, float(cost[list(moved), 0].sum() - cost[list(moved), 1].sum()))
    assert extra == pytest.approx(best) == pytest.approx(4.0)
    assert sorted(np.flatnonzero(out != assign).tolist()) == [6, 8, 10]


def test_no_chain_takes_a_region_its_owner_cannot_give_up() -> None:
    """A path 0-1-2 where region 1 is rep 1's home with one account: rep 0 stays in two pieces
    (the caller cuts it back), and rep 1 keeps its home."""
    graph = Graph(
        region=np.array([0, 1, 2], np.int64),
        component=np.zeros(3, np.int64),
        per_component=False,
        neighbours=((1,), (0, 2), (1,)),
        items_in=((0,), (1,), (2,)),
        root=np.array([0, 1], np.int64),
        fixed=np.full(3, -1, np.int64),
        first=np.full(3, -1, np.int64),
        eligible=np.ones((3, 2), bool),
        cost=np.ones((3, 2)),
    )
    assign = np.array([0, 1, 0], np.int64)
    assert bridge(graph, NO_ROWS, assign).tolist() == [0, 1, 0]


def test_guided_arcs_keep_small_reduced_costs_the_plans_and_fixed_items() -> None:
    cost = np.arange(12, dtype=float).reshape(6, 2)
    graph = _graph([1] * 6, cost, root=[0, 5])
    graph = Graph(**{**graph.__dict__, "fixed": np.array([-1, -1, -1, -1, -1, 0], np.int64)})
    reduced = np.array([[0, 3], [0, 1], [2, 0], [0, 9], [9, 0], [5, 5]], float)
    plan = np.array([1, 0, 0, 0, 1, -1], np.int64)
    kept = guided_graph(graph, reduced, [plan], threshold=1.0).eligible
    expected = np.array([[1, 1], [1, 1], [1, 1], [1, 0], [0, 1], [1, 0]], bool)
    assert (kept == expected).all()


def _exact_optimum(tables, rule) -> float:  # type: ignore[no-untyped-def]
    problem = territory_problem(tables, rule, build_territory(tables, rule))
    assert problem.contiguity is not None
    graph, rows = search_inputs(problem, problem.contiguity)
    m = problem.shape[1]
    start = np.argmin(np.where(graph.eligible, graph.cost, np.inf), axis=1)
    model = build_flow(graph, rows, start, tuple(range(m)))
    report = solve(model.prob, SOLVER.model_copy(update={"gap": 0.0, "time_limit": 120}))
    assert report.status.value == "optimal"
    return float(sum(objective_terms(problem, read_flow(model, start)).values()))


def test_the_guided_path_is_contiguous_and_brackets_the_exact_optimum(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On a 5 x 5 account-level grid (3 reps, ±5%) the large-map path (forced on) gives a
    connected, checked plan whose objective is at least, and whose bound at most, the optimum
    of the exact flow model over every arc."""
    rng = np.random.default_rng(5)
    frames = grid_tables(5, 5, [(0, 0), (4, 4), (0, 4)], rng.lognormal(4.0, 0.5, 25))
    tables = tables_of(_accounts_per_region(frames, 3))
    rule = settings(0.05).model_copy(update={"level": "account"})
    optimum = _exact_optimum(tables, rule)
    monkeypatch.setattr(sc, "LARGE_ARCS", 0)
    with caplog.at_level(logging.INFO, logger="allocator"):
        result = solve_assignment(tables, rule, SOLVER)
    assert "LP plan bridged" in caplog.text
    assert_connected(tables, result.assignments)
    report = result.report
    assert report.objective is not None and report.bound is not None
    assert report.objective >= optimum - 1e-6 * optimum
    assert report.bound <= optimum + 1e-6 * optimum
