"""The GAP tabu walk with strategic oscillation: its chosen step against every shift, swap and
chain enumerated and re-priced from scratch, feasible answers only from overloaded starts,
brute-forced optima reached with ejection chains."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from allocator.territory.gap import GapInstance, check_gap
from allocator.territory.gap_search import GapArrays
from allocator.territory.gap_tabu import TabuState, _best_move, tabu_search
from tests.territory.test_gap_moves import instance, penalised
from tests.territory.test_gap_search import every, tight


def neighbours(assign: np.ndarray, m: int) -> list[np.ndarray]:
    """Every shift, swap and depth-two chain (three distinct agents) of ``assign``."""
    n = len(assign)
    out = []
    for j, a in itertools.product(range(n), range(m)):
        if assign[j] != a:
            moved = assign.copy()
            moved[j] = a
            out.append(moved)
    for j1, j2 in itertools.product(range(n), range(n)):
        a1, a2 = assign[j1], assign[j2]
        if a1 == a2:
            continue
        swapped = assign.copy()
        swapped[j1], swapped[j2] = a2, a1
        out.append(swapped)
        for a3 in range(m):
            if a3 not in (a1, a2):
                chained = assign.copy()
                chained[j1], chained[j2] = a2, a3
                out.append(chained)
    return out


@pytest.mark.parametrize("seed", range(24))
def test_the_chosen_step_is_the_cheapest_penalised_neighbour(seed: int) -> None:
    """Nothing tabu, every job scanned: the step taken changes the penalised cost, recomputed
    from scratch before and after, by the least change over every enumerated neighbour."""
    cost, weight, capacity, assign = instance(seed)
    capacity = capacity * (0.66 if seed % 2 else 1.0)
    m, n = cost.shape
    state = TabuState.start(cost, weight, seed)
    state.alpha = np.random.default_rng(seed).uniform(0.5, 3.0, m)
    state.step = 1
    load = np.zeros(m)
    np.add.at(load, assign, weight[assign, np.arange(n)])
    move = _best_move(cost, weight, capacity, assign, load, state, -np.inf)
    before = penalised(cost, weight, capacity, state.alpha, assign)
    changes = [
        penalised(cost, weight, capacity, state.alpha, other) - before
        for other in neighbours(assign, m)
    ]
    kind, x, y, z = move
    moved = assign.copy()
    if kind == 0:
        moved[y] = x
    elif kind == 1:
        moved[x], moved[y] = assign[y], assign[x]
    else:
        moved[x], moved[y] = assign[y], z
    taken = penalised(cost, weight, capacity, state.alpha, moved) - before
    assert taken == pytest.approx(min(changes))


@pytest.mark.parametrize("seed", range(12))
def test_oscillation_from_an_overloaded_start_returns_only_feasible_points(seed: int) -> None:
    """Every job on its cheapest agent overloads it; the walk crosses the boundary many times
    (chains on) and hands back a feasible point or None, never an
    overloaded one; a returned point's cost is the one recomputed from the raw data."""
    gap = tight(seed, m=5, n=20)
    arrays = GapArrays(gap.cost, gap.weight, gap.capacity)
    start = np.argmin(gap.cost, axis=0)
    assert check_gap(gap, start)[0] != []
    state = TabuState.start(gap.cost, gap.weight, seed)
    found = tabu_search(
        gap.cost, gap.weight, gap.capacity, start, deadline=None, steps=400, state=state
    )
    if found is None:
        return
    problems, value = check_gap(gap, found)
    assert problems == []
    assert value == pytest.approx(arrays.value(found))


def _four_agent_cases() -> list[tuple[GapInstance, float]]:
    out = []
    for seed in range(300, 400):
        gap = tight(seed, m=4, n=7)
        options = every(gap)
        if len(options) >= 5:
            out.append((gap, options[0][0]))
        if len(out) == 4:
            return out
    raise AssertionError("fewer than four feasible 4 x 7 instances")


FOUR = _four_agent_cases()


@pytest.mark.parametrize("case", range(len(FOUR)))
def test_the_walk_with_chains_reaches_the_brute_force_optimum(case: int) -> None:
    """From the overloaded start of every job on its cheapest agent."""
    gap, optimum = FOUR[case]
    state = TabuState.start(gap.cost, gap.weight, case)
    found = tabu_search(
        gap.cost,
        gap.weight,
        gap.capacity,
        np.argmin(gap.cost, axis=0),
        deadline=None,
        steps=3000,
        state=state,
        bound=optimum,
    )
    assert found is not None
    assert check_gap(gap, found) == ([], optimum)
