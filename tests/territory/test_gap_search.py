"""The GAP search over the MIP incumbent: feasible, monotone, reaches a brute-forced optimum,
respects the deadline (by its stop reason, never by the clock)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from allocator.solver.trace import run_trace
from allocator.territory.gap import GapInstance, check_gap
from allocator.territory.gap_search import GapArrays, improve, local_search
from allocator.territory.gap_tabu import TabuState, tabu_search


def tight(seed: int, m: int = 3, n: int = 8) -> GapInstance:
    """A type-d-like instance (cost falls as weight rises), capacities at 80% of the share."""
    rng = np.random.default_rng(seed)
    weight = rng.integers(1, 30, size=(m, n)).astype(float)
    cost = 40.0 - weight + rng.integers(-5, 6, size=(m, n))
    capacity = 0.8 * weight.sum(axis=1) / m
    return GapInstance(name=f"tight{seed}", cost=cost, weight=weight, capacity=capacity)


def every(instance: GapInstance) -> list[tuple[float, tuple[int, ...]]]:
    """(cost, assignment) of every feasible assignment, cheapest first."""
    m, n = instance.shape
    out = []
    for agents in itertools.product(range(m), repeat=n):
        problems, value = check_gap(instance, list(agents))
        if not problems:
            out.append((value, agents))
    return sorted(out)


def arrays(instance: GapInstance) -> GapArrays:
    return GapArrays(instance.cost, instance.weight, instance.capacity)


def feasible_instances() -> list[tuple[GapInstance, list[tuple[float, tuple[int, ...]]]]]:
    found = []
    for seed in range(40):
        instance = tight(seed)
        options = every(instance)
        if len(options) >= 3 and options[0][0] < options[-1][0]:
            found.append((instance, options))
        if len(found) == 4:
            break
    assert len(found) == 4
    return found


CASES = feasible_instances()


@pytest.mark.parametrize("methods", [("lns",), ("tabu",), ("lns", "tabu")])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_reaches_the_brute_force_optimum_from_the_worst_start(case: int, methods) -> None:
    instance, options = CASES[case]
    optimum, worst = options[0][0], np.array(options[-1][1])
    with run_trace() as trace:
        found = improve(
            arrays(instance),
            worst,
            deadline=None,
            bound=optimum,
            max_rounds=300,
            methods=methods,
            sub_limit=60.0,  # every sub-MIP proves, so the path does not depend on the load
        )
    assert check_gap(instance, found.assign) == ([], optimum)
    assert found.stop == "bound"
    assert found.history[0] == options[-1][0]
    assert all(b < a for a, b in itertools.pairwise(found.history))
    noted = [p.objective for p in trace.points]
    assert noted and noted[-1] == optimum
    assert all(b < a for a, b in itertools.pairwise(noted))


@pytest.mark.parametrize("seed", range(5))
def test_never_infeasible_never_worse_without_a_bound(seed: int) -> None:
    instance, start = GREEDY[seed]
    before = check_gap(instance, start)[1]
    found = improve(arrays(instance), start, deadline=None, max_rounds=25)
    problems, value = check_gap(instance, found.assign)
    assert problems == []
    assert value == pytest.approx(found.objective)
    assert value <= before
    assert found.stop == "rounds"
    assert found.rounds == 25


def test_a_passed_deadline_returns_the_start_and_says_so() -> None:
    instance, options = CASES[0]
    worst = np.array(options[-1][1])
    found = improve(arrays(instance), worst, deadline=time.monotonic() - 1.0)
    assert found.stop == "deadline"
    assert found.rounds == 0
    assert check_gap(instance, found.assign) == ([], options[-1][0])


def test_an_infeasible_start_is_refused() -> None:
    instance, _ = CASES[0]
    with pytest.raises(ValueError, match="feasible"):
        improve(arrays(instance), np.zeros(instance.shape[1], dtype=int), deadline=None)


def test_tabu_walk_returns_its_best_feasible_point() -> None:
    instance, options = CASES[1]
    worst = np.array(options[-1][1])
    state = TabuState.start(instance.cost, instance.weight, seed=3)
    found = tabu_search(
        instance.cost,
        instance.weight,
        instance.capacity,
        worst,
        deadline=None,
        steps=500,
        state=state,
    )
    problems, value = check_gap(instance, found)
    assert problems == []
    assert value <= options[-1][0]
    assert state.step <= 500


def test_local_search_makes_the_one_improving_shift() -> None:
    """Job 2 costs 9 on agent 0 and 1 on agent 1, which has room: the shift saves 8."""
    instance = GapInstance(
        name="shift",
        cost=np.array([[1.0, 1, 9], [5, 5, 1]]),
        weight=np.array([[1.0, 1, 1], [1, 1, 1]]),
        capacity=np.array([3.0, 1.0]),
    )
    moved = local_search(arrays(instance), np.array([0, 0, 0]), deadline=None)
    assert moved.tolist() == [0, 0, 1]


def _greedy_cases() -> list[tuple[GapInstance, np.ndarray]]:
    """Five 4 x 12 instances the greedy below finds a start for."""
    out = []
    for seed in range(100, 200):
        instance = tight(seed, m=4, n=12)
        start = _greedy(instance)
        if start is not None:
            out.append((instance, start))
        if len(out) == 5:
            return out
    raise AssertionError("fewer than five greedy starts")


def _greedy(instance: GapInstance) -> np.ndarray | None:
    """Each job, heaviest first, to the agent with the most room left that can take it."""
    n = instance.shape[1]
    room = instance.capacity.copy()
    out = np.full(n, -1)
    for j in np.argsort(-instance.weight.min(axis=0)):
        fits = np.flatnonzero(instance.weight[:, j] <= room)
        if not len(fits):
            return None
        a = fits[np.argmax(room[fits])]
        out[j], room[a] = a, room[a] - instance.weight[a, j]
    return out


GREEDY = _greedy_cases()


def test_solve_gap_answers_are_checked_and_the_trace_only_improves() -> None:
    """A 6 x 30 type-d-like instance with a 4 s budget: whatever stage ends the run, the answer
    passes the independent check and the search's trace points only go down."""
    from allocator.io.settings import SolverSettings
    from allocator.territory.gap import solve_gap

    instance = tight(7, m=6, n=30)
    with run_trace() as trace:
        result = solve_gap(
            instance, maximize=False, solver=SolverSettings(time_limit=4, gap=0.0, threads=1)
        )
    problems, value = check_gap(instance, result.assignment)
    assert problems == [] and value == pytest.approx(result.objective)
    assert result.status in ("optimal", "time_limit")
    searched = [p.objective for p in trace.points if p.source in ("local", "lns", "tabu")]
    assert all(b < a for a, b in itertools.pairwise(searched))
    if searched:
        assert searched[-1] == pytest.approx(result.objective)


def test_an_ejection_chain_makes_room_where_no_shift_or_swap_can() -> None:
    """Capacities 2, 1, 1, every weight 1; start (0, 1, 0) costs 11 + 1 + 1 = 13.

    No shift improves (agent 1 is full; moving job 1 to agent 2 costs +1; the rest cost 50),
    and no swap does (jobs 0 and 1: 1 + 20 - 12 = +9). The chain "job 0 to agent 1, job 1 on
    to agent 2" changes the cost by -10 + 1 = -9, to 4.
    """
    instance = GapInstance(
        name="chain",
        cost=np.array([[11.0, 20, 1], [1, 1, 50], [50, 2, 50]]),
        weight=np.ones((3, 3)),
        capacity=np.array([2.0, 1.0, 1.0]),
    )
    moved = local_search(arrays(instance), np.array([0, 1, 0]), deadline=None)
    assert moved.tolist() == [1, 2, 0]
    assert check_gap(instance, moved) == ([], 4.0)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_start_without_the_mip_is_feasible(case: int) -> None:
    from allocator.territory.gap_search import feasible_start

    instance, _ = CASES[case]
    start = feasible_start(arrays(instance), deadline=time.monotonic() + 600)
    assert start is not None
    assert check_gap(instance, start)[0] == []


def test_no_start_once_the_deadline_has_passed_on_an_overloaded_instance() -> None:
    """Every job's cheapest agent is agent 0, which can hold one job: the Lagrangian start may
    be infeasible, and with the deadline gone the walk takes no step."""
    from allocator.territory.gap_search import feasible_start

    instance = GapInstance(
        name="over",
        cost=np.array([[1.0, 1, 1], [9, 9, 9]]),
        weight=np.ones((2, 3)),
        capacity=np.array([1.0, 2.0]),
    )
    start = feasible_start(arrays(instance), deadline=time.monotonic() - 1.0)
    assert start is None or check_gap(instance, start)[0] == []
