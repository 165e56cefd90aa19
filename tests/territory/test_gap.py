"""OR-Library GAP through the territory core: published optima, independent check, reader errors.

The instances live in ``../shared/benchmarks`` (relative to the repository root); the tests that
need them skip when that folder is absent.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.exceptions import InputError
from allocator.io.settings import SolverSettings
from allocator.territory.gap import GapInstance, bench_gap, check_gap, read_gap, solve_gap

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"
needs_bench = pytest.mark.skipif(
    not (BENCH / "optima.csv").exists(), reason="no ../shared/benchmarks"
)
SOLVER = SolverSettings(threads=2, time_limit=20)


def optima(sense: str) -> dict[tuple[str, int], float]:
    table = pd.read_csv(BENCH / "optima.csv")
    table = table[table["sense"] == sense]
    return {
        (Path(f).name, int(k)): float(v)
        for f, k, v in zip(
            table["file"], table["index_in_file"], table["optimal_or_best"], strict=True
        )
    }


def tiny() -> GapInstance:
    """Two agents (capacity 5 and 4), three jobs; by hand (8 assignments):

    cost  [[1, 4, 3], [2, 1, 5]]  weight [[3, 2, 2], [2, 3, 3]].
    Cheapest per job is 1, 1, 3 (agents 0, 1, 0): agent 0 carries 3 + 2 = 5 <= 5, agent 1 3 <= 4:
    feasible, so the minimum is 5. The maximum: jobs to agents (1, 0, 1) = 2 + 4 + 5 = 11 needs
    agent 1 to carry 2 + 3 = 5 > 4; the best feasible is (0, 0, 1) = 1 + 4 + 5 = 10 (agent 0
    carries 3 + 2 = 5, agent 1 carries 3).
    """
    return GapInstance(
        name="tiny",
        cost=np.array([[1.0, 4, 3], [2, 1, 5]]),
        weight=np.array([[3.0, 2, 2], [2, 3, 3]]),
        capacity=np.array([5.0, 4.0]),
    )


def brute(instance: GapInstance, *, maximize: bool) -> float:
    m, n = instance.shape
    values = [check_gap(instance, list(agents)) for agents in itertools.product(range(m), repeat=n)]
    feasible = [v for problems, v in values if not problems]
    return max(feasible) if maximize else min(feasible)


@pytest.mark.parametrize(("maximize", "expected"), [(False, 5.0), (True, 10.0)])
@pytest.mark.parametrize("backend", ["highs", "cbc"])
def test_tiny_gap_by_hand(maximize: bool, expected: float, backend: str) -> None:
    result = solve_gap(
        tiny(), maximize=maximize, solver=SOLVER.model_copy(update={"name": backend})
    )
    assert result.objective == expected == brute(tiny(), maximize=maximize)
    assert check_gap(tiny(), result.assignment) == ([], expected)


def test_check_gap_names_an_overloaded_agent() -> None:
    problems, value = check_gap(tiny(), [0, 0, 0])
    assert problems == ["capacity[1]: 7 > 5"] and value == 8.0


def test_read_gap_rejects_an_incomplete_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("2\n2 3\n1 2 3 4 5 6\n")
    with pytest.raises(InputError, match="problem 1 of 2 is incomplete"):
        read_gap(path)
    path.write_text("2 x 3")
    with pytest.raises(InputError, match="not a GAP file"):
        read_gap(path)


@needs_bench
def test_read_gap_shapes() -> None:
    problems = read_gap(BENCH / "gap" / "gap1.txt")
    assert [p.name for p in problems] == [f"gap1-{k}" for k in range(1, 6)]
    assert problems[0].shape == (5, 15) and problems[0].capacity.shape == (5,)
    single = read_gap(BENCH / "yagiura" / "c10400")
    assert len(single) == 1 and single[0].shape == (10, 400) and single[0].name == "c10400"


@needs_bench
@pytest.mark.parametrize("number", range(1, 13))
def test_gap1_to_gap12_reach_the_published_maximum(number: int) -> None:
    published = optima("max")
    path = BENCH / "gap" / f"gap{number}.txt"
    for instance in read_gap(path):
        result = solve_gap(instance, maximize=True, solver=SOLVER)
        problems, value = check_gap(instance, result.assignment)
        assert not problems
        assert value == result.objective == published[path.name, instance.index], instance.name
        assert result.status == "optimal"


@needs_bench
def test_pruned_gap_with_pricing_reaches_the_same_optima() -> None:
    """One candidate agent per job at first: pricing and the reduced-cost step find the rest."""
    published = optima("max")
    for instance in read_gap(BENCH / "gap" / "gap4.txt")[:3]:
        result = solve_gap(instance, maximize=True, solver=SOLVER, nearest=1)
        assert result.objective == published["gap4.txt", instance.index]


@needs_bench
def test_gapa_smoke_within_half_a_percent_of_best_known() -> None:
    instance = read_gap(BENCH / "gap" / "gapa.txt")[0]
    result = solve_gap(instance, maximize=False, solver=SOLVER)
    best = optima("min")["gapa.txt", 1]
    assert not check_gap(instance, result.assignment)[0]
    assert best <= result.objective <= 1.005 * best


@needs_bench
def test_bench_gap_table() -> None:
    table = bench_gap([BENCH / "gap" / "gap1.txt"], optima_csv=BENCH / "optima.csv", solver=SOLVER)
    assert list(table.columns) == [
        "instance",
        "sense",
        "objective",
        "bound",
        "gap",
        "seconds",
        "published",
        "diff",
        "status",
    ]
    assert list(table["instance"]) == [f"c515-{k}" for k in range(1, 6)]
    assert (table["sense"] == "max").all() and (table["diff"] == 0).all()


@needs_bench
def test_large_instances_start_from_the_nearest_agents_and_still_reach_the_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every instance counts as large here (LARGE = 0) and starts from 2 agents per job: the
    core prices the rest in, so the published optima and a bound below them still come out."""
    import allocator.territory.gap as gap_module

    monkeypatch.setattr(gap_module, "LARGE", 0)
    monkeypatch.setattr(gap_module, "NEAREST", 2)
    seen: list[int | None] = []
    core = gap_module.solve_arcs
    monkeypatch.setattr(
        gap_module,
        "solve_arcs",
        lambda problem, options, *a, **k: (
            seen.append(options.nearest) or core(problem, options, *a, **k)
        ),
    )
    published = optima("max")
    for instance in read_gap(BENCH / "gap" / "gap1.txt")[:2]:
        result = solve_gap(instance, maximize=True, solver=SOLVER)
        assert result.objective == published["gap1.txt", instance.index]
        assert result.bound is not None and result.bound >= result.objective - 1e-6
    assert seen and seen[0] == 2
