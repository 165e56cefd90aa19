"""The GAP's Lagrangian heuristic: exact knapsacks, a valid bound, feasible answers, and the
optimum when the knapsacks partition the jobs (all against brute force)."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from allocator.territory.gap import GapInstance, check_gap
from allocator.territory.gap_lagrange import (
    Multipliers,
    applies,
    knapsacks,
    lagrangian_heuristic,
)
from allocator.territory.gap_search import GapArrays, improve
from tests.territory.test_gap_search import every, tight


def test_knapsacks_are_the_brute_force_optima() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        m, n = 3, 8
        profit = rng.integers(-10, 30, size=(m, n)).astype(float)
        weight = rng.integers(0, 12, size=(m, n)).astype(float)
        capacity = rng.integers(5, 40, size=m).astype(float) + 0.5  # rounded down
        values, take = knapsacks(profit, weight, capacity)
        for a in range(m):
            best = max(
                profit[a, list(s)].sum()
                for k in range(n + 1)
                for s in itertools.combinations(range(n), k)
                if weight[a, list(s)].sum() <= capacity[a]
            )
            assert values[a] == pytest.approx(best)
            assert weight[a, take[a]].sum() <= capacity[a]
            assert profit[a, take[a]].sum() == pytest.approx(values[a])


@pytest.mark.parametrize("seed", range(6))
def test_bound_never_passes_the_optimum_and_answers_are_feasible(seed: int) -> None:
    instance = tight(seed, m=3, n=9)
    options = every(instance)
    if not options:
        pytest.skip("no feasible assignment")
    optimum = options[0][0]
    cost, weight, capacity = instance.cost, instance.weight, instance.capacity
    state = Multipliers.start(cost)
    found = lagrangian_heuristic(
        cost, weight, capacity, deadline=time.monotonic() + 0.5, state=state
    )
    assert found.steps == state.steps > 0
    assert found.bound <= optimum + 1e-9
    if found.assign is not None:
        problems, value = check_gap(instance, found.assign)
        assert not problems
        assert value == pytest.approx(found.objective)
        assert value >= optimum - 1e-9


def test_knapsacks_that_partition_the_jobs_give_the_optimum_at_once() -> None:
    """With room for everything each job goes to its cheapest agent, and the first
    multipliers (each job's second-cheapest cost) already separate them (distinct costs)."""
    rng = np.random.default_rng(4)
    m, n = 3, 12
    cost = rng.permutation(m * n).reshape(m, n).astype(float)
    weight = rng.integers(1, 5, size=(m, n)).astype(float)
    capacity = np.full(m, weight.sum())
    found = lagrangian_heuristic(cost, weight, capacity, deadline=time.monotonic() + 5)
    assert found.steps == 1
    assert found.assign is not None
    assert (found.assign == np.argmin(cost, axis=0)).all()
    assert found.objective == pytest.approx(cost.min(axis=0).sum())
    assert found.bound == pytest.approx(found.objective)


def test_an_answer_must_beat_the_record() -> None:
    rng = np.random.default_rng(4)
    cost = rng.permutation(36).reshape(3, 12).astype(float)
    weight = np.ones((3, 12))
    best = cost.min(axis=0).sum()
    found = lagrangian_heuristic(
        cost, weight, np.full(3, 12.0), deadline=time.monotonic() + 5, record=best
    )
    assert found.assign is None and math.isinf(found.objective)


def test_it_applies_to_integer_weights_with_few_agents_and_many_jobs_each() -> None:
    weight = np.ones((4, 40))
    capacity = np.full(4, 12.0)
    assert applies(weight, weight, capacity)
    assert not applies(weight, weight + 0.5, capacity)  # fractional weights
    assert not applies(weight[:, :19], weight[:, :19], capacity)  # under 5 jobs per agent
    many = np.ones((21, 200))
    assert not applies(many, many, np.full(21, 12.0))  # over 20 agents
    assert not applies(weight, weight, np.full(4, 1e6))  # a table too large


@pytest.mark.parametrize("seed", range(3))
def test_the_search_with_the_lagrangian_phase_proves_a_valid_bound(seed: int) -> None:
    instance = tight(seed, m=2, n=12)
    options = every(instance)
    if not options:
        pytest.skip("no feasible assignment")
    optimum, worst = options[0][0], np.array(options[-1][1])
    gap = GapArrays(instance.cost, instance.weight, instance.capacity)
    assert applies(gap.cost, gap.weight, gap.capacity)
    found = improve(gap, worst, deadline=time.monotonic() + 2)
    assert found.bound is not None and found.bound <= optimum + 1e-9
    assert gap.feasible(found.assign) and found.objective >= optimum - 1e-9
    if found.stop == "bound":
        assert found.objective == pytest.approx(optimum)


def test_a_fractional_weight_instance_searches_without_the_phase() -> None:
    instance = GapInstance(
        name="frac",
        cost=np.array([[1.0, 2.0, 3.0] * 4, [3.0, 2.0, 1.0] * 4]),
        weight=np.full((2, 12), 0.5),
        capacity=np.array([4.0, 4.0]),
    )
    gap = GapArrays(instance.cost, instance.weight, instance.capacity)
    found = improve(gap, np.array([0, 1] * 6), deadline=time.monotonic() + 0.5)
    assert found.bound is None
    assert gap.feasible(found.assign)


def test_a_capacity_just_under_a_whole_number_keeps_the_bound_valid() -> None:
    """Ten unit jobs fit agent 0 (cost 0) when its capacity is 10 less a rounding error, as
    feasible() accepts; the bound must not claim that 10 jobs cost something there."""
    cost = np.array([[0.0] * 10, [1.0] * 10])
    weight = np.ones((2, 10))
    capacity = np.array([10 - 1e-12, 100.0])
    gap = GapArrays(cost, weight, capacity)
    assert gap.feasible(np.zeros(10, np.int64))
    found = lagrangian_heuristic(cost, weight, capacity, deadline=time.monotonic() + 1)
    assert found.bound <= 1e-9


def test_fractional_weights_are_refused_and_the_search_skips_the_phase() -> None:
    cost = np.array([[0.0, 0, 0, 0, 10, 10], [10, 10, 10, 10, 0, 0]])
    weight = np.full((2, 6), 1.5)
    capacity = np.array([4.5, 9.0])
    with pytest.raises(ValueError, match="whole"):
        lagrangian_heuristic(cost, weight, capacity, deadline=time.monotonic() + 1)
    gap = GapArrays(cost, weight, capacity)
    start = np.array([0, 0, 0, 1, 1, 1])
    found = improve(gap, start, deadline=time.monotonic() + 1, methods=("lns", "lagrange"))
    assert gap.feasible(found.assign) and found.bound is None
    assert found.objective == pytest.approx(10.0)  # the optimum: agent 0 holds three jobs


def test_collect_gets_every_assignment_the_re_solves_find() -> None:
    instance = tight(3, m=4, n=24)
    cost, weight, capacity = instance.cost, instance.weight, instance.capacity
    pool: list[np.ndarray] = []
    found = lagrangian_heuristic(
        cost,
        weight,
        capacity,
        deadline=time.monotonic() + 600,
        record=1e6,
        collect=pool.append,
        steps=400,
    )
    assert found.steps == 400
    assert pool and all(GapArrays(cost, weight, capacity).feasible(a) for a in pool)
    # not cut off at the record: some re-solve after the first finds nothing better than an
    # earlier one (cut off, each would beat the one before)
    values = [float(cost[a, np.arange(24)].sum()) for a in pool]
    assert min(values) == pytest.approx(found.objective)
    assert any(later >= earlier for earlier, later in itertools.pairwise(values))
