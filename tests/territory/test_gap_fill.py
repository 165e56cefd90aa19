"""Starts filled agent by agent: the LP's prices, feasible fills, and best_start beating a
poor start and never worse than its start."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.optimize import linprog

from allocator.territory.gap import check_gap
from allocator.territory.gap_fill import best_start, fill_start, lp_prices
from allocator.territory.gap_local import GapArrays, local_search
from tests.territory.test_gap_search import every, tight


def type_d(seed: int, m: int, n: int) -> GapArrays:
    """Yagiura's type D in small: cost 111 - weight + U[-10, 10], capacity 80% of the share."""
    rng = np.random.default_rng(seed)
    weight = rng.integers(1, 101, size=(m, n)).astype(float)
    cost = 111.0 - weight + rng.integers(-10, 11, size=(m, n))
    capacity = np.floor(0.8 * weight.sum(axis=1) / m)
    return GapArrays(cost, weight, capacity)


def lp_bound(arrays: GapArrays) -> float:
    m, n = arrays.cost.shape
    rows = np.zeros((n, m * n))
    for j in range(n):
        rows[j, j::n] = 1.0
    caps = np.zeros((m, m * n))
    for a in range(m):
        caps[a, a * n : (a + 1) * n] = arrays.weight[a]
    out = linprog(
        arrays.cost.ravel(),
        A_ub=caps,
        b_ub=arrays.capacity,
        A_eq=rows,
        b_eq=np.ones(n),
        bounds=(0, 1),
        method="highs",
    )
    assert out.status == 0
    return float(out.fun)


@pytest.mark.parametrize("seed", range(4))
def test_lp_prices_reach_the_lp_bound(seed: int) -> None:
    # relaxing the capacities at the LP's duals gives back the LP bound (the relaxed problem,
    # each job on one agent, has integral vertices): a wrong sign or row would fall short
    arrays = type_d(seed, m=5, n=30)
    u = lp_prices(arrays, deadline=None)
    assert u is not None and (u >= 0).all() and u.max() > 0
    reduced = arrays.cost + u[:, None] * arrays.weight
    lagrangian = float(reduced.min(axis=0).sum() - u @ arrays.capacity)
    assert lagrangian == pytest.approx(lp_bound(arrays), abs=1e-6)


def test_fills_are_feasible() -> None:
    made = 0
    for seed in range(6):
        arrays = type_d(seed, m=8, n=64)
        u = lp_prices(arrays, deadline=None)
        assert u is not None
        rng = np.random.default_rng(seed)
        start = fill_start(arrays, u, rng, tolerance=0.5, deadline=time.monotonic() + 5)
        if start is None:
            continue
        made += 1
        assert arrays.feasible(start)
        assert set(start) == set(range(8))  # every agent took jobs
    assert made >= 4


@pytest.mark.parametrize("seed", range(3))
def test_best_start_beats_a_poor_start_on_a_tight_set(seed: int) -> None:
    arrays = type_d(seed, m=12, n=120)
    # a feasible start that ignores costs: first fit, heaviest jobs first
    room = arrays.capacity.copy()
    poor = np.full(120, -1)
    for j in np.argsort(-arrays.weight.min(axis=0)):
        a = int(np.flatnonzero(arrays.weight[:, j] <= room)[0])
        poor[j], room[a] = a, room[a] - arrays.weight[a, j]
    assert arrays.feasible(poor)
    descended = arrays.value(local_search(arrays, poor, deadline=None))
    found = best_start(arrays, poor, deadline=time.monotonic() + 600, tries=4)
    assert arrays.feasible(found)
    assert arrays.value(found) < descended


@pytest.mark.parametrize("seed", range(3))
def test_best_start_never_loses_its_start(seed: int) -> None:
    instance = tight(seed, m=3, n=8)
    options = every(instance)
    if not options:
        pytest.skip("no feasible assignment")
    optimum, agents = options[0]
    arrays = GapArrays(instance.cost, instance.weight, instance.capacity)
    found = best_start(arrays, np.array(agents), deadline=time.monotonic() + 600, tries=3)
    problems, value = check_gap(instance, found)
    assert not problems and value == pytest.approx(optimum)
