"""The GAP search's move tables against plain recomputation: the depth-two ejection chain
against every chain enumerated by hand, the tabu walk's swap and chain values against the
penalised cost computed before and after each move."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from allocator.territory.gap_chain import best_chain, penalised_chains
from allocator.territory.gap_tabu import _swap_deltas


def instance(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(cost, weight, capacity, assign): a feasible random assignment with little room left;
    every third seed has real-valued costs and weights (ties are then unlikely)."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(2, 6)), int(rng.integers(3, 12))
    if seed % 3:
        weight = rng.integers(1, 20, (m, n)).astype(float)
        cost = 30.0 - weight + rng.integers(-4, 5, (m, n))
    else:
        weight, cost = rng.uniform(1, 20, (m, n)), rng.uniform(0, 30, (m, n))
    assign = rng.integers(0, m, n)
    load = np.zeros(m)
    np.add.at(load, assign, weight[assign, np.arange(n)])
    return cost, weight, load + rng.uniform(0, 8, m), assign


def chains(cost, weight, room, assign):
    """Every depth-two chain by enumeration: (change, j1, a2, j2, a3), room taken before it."""
    m, n = cost.shape
    out = []
    for j1, a2, j2, a3 in itertools.product(range(n), range(m), range(n), range(m)):
        if assign[j1] == a2 or assign[j2] != a2 or a3 == a2 or weight[a2, j1] <= room[a2]:
            continue
        if weight[a2, j1] > room[a2] + weight[a2, j2] or weight[a3, j2] > room[a3]:
            continue
        change = cost[a2, j1] - cost[assign[j1], j1] + cost[a3, j2] - cost[a2, j2]
        out.append((change, j1, a2, j2, a3))
    return out


@pytest.mark.parametrize("seed", range(60))
def test_the_best_chain_is_the_best_improving_chain_enumerated(seed: int) -> None:
    cost, weight, capacity, assign = instance(seed)
    load = np.zeros(len(capacity))
    np.add.at(load, assign, weight[assign, np.arange(len(assign))])
    room = capacity - load
    found = best_chain(cost, weight, room, assign)
    improving = [c for c in chains(cost, weight, room, assign) if c[0] < 0]
    if not improving:
        assert found[0] == np.inf
        return
    assert found[0] == pytest.approx(min(c[0] for c in improving))
    change, j1, a2, j2, a3 = found
    moved = assign.copy()
    moved[j1], moved[j2] = a2, a3
    after = np.zeros(len(capacity))
    np.add.at(after, moved, weight[moved, np.arange(len(moved))])
    assert (after <= capacity + 1e-9).all()
    jobs = np.arange(len(assign))
    assert cost[moved, jobs].sum() - cost[assign, jobs].sum() == pytest.approx(change)


def penalised(cost, weight, capacity, alpha, assign) -> float:
    load = np.zeros(len(capacity))
    np.add.at(load, assign, weight[assign, np.arange(len(assign))])
    over = np.maximum(load - capacity, 0.0)
    return float(cost[assign, np.arange(len(assign))].sum() + (alpha * over).sum())


def _penalised_state(seed: int, salt: int, barred: float):
    """An instance with overloaded starts on odd seeds (capacity cut by a third), per-agent
    penalty weights, a random share ``barred`` of (agent, job) cells barred, each agent's
    excess load and half the jobs as table rows."""
    cost, weight, capacity, assign = instance(seed)
    capacity = capacity * (0.66 if seed % 2 else 1.0)
    rng = np.random.default_rng(salt + seed)
    m, n = cost.shape
    alpha = rng.uniform(0.5, 3.0, m)
    mask = rng.random((m, n)) < barred
    load = np.zeros(m)
    np.add.at(load, assign, weight[assign, np.arange(n)])
    rows = np.sort(rng.choice(n, max(1, n // 2), replace=False))
    return cost, weight, capacity, assign, alpha, mask, load - capacity, rows


@pytest.mark.parametrize("seed", range(30))
def test_swap_values_equal_the_penalised_cost_recomputed(seed: int) -> None:
    """Overloaded starts too (capacity cut by a third); tabu cells and same-agent pairs are
    barred (inf), every other cell is the recomputed change."""
    cost, weight, capacity, assign, alpha, tabu, excess, rows = _penalised_state(seed, 100, 0.3)
    n = cost.shape[1]
    table = _swap_deltas(
        cost, weight, assign, (excess, np.maximum(excess, 0), alpha), rows, tabu, -np.inf
    )
    before = penalised(cost, weight, capacity, alpha, assign)
    for r, j1 in enumerate(rows):
        for j2 in range(n):
            a1, a2 = assign[j1], assign[j2]
            if a1 == a2 or tabu[a2, j1] or tabu[a1, j2]:
                assert table[r, j2] == np.inf
                continue
            swapped = assign.copy()
            swapped[j1], swapped[j2] = a2, a1
            after = penalised(cost, weight, capacity, alpha, swapped)
            assert table[r, j2] == pytest.approx(after - before)


@pytest.mark.parametrize("seed", range(30))
def test_chain_values_equal_the_penalised_cost_recomputed(seed: int) -> None:
    """Each cell (j1, j2) is the best chain j1 -> agent of j2, j2 -> a3 (a3 neither j1's agent
    nor j2's, open to j2) by enumeration of a3, with overloaded starts; shut cells are inf."""
    cost, weight, capacity, assign, alpha, shut, excess, rows = _penalised_state(seed, 200, 0.25)
    m, n = cost.shape
    table, to = penalised_chains(
        cost, weight, assign, (excess, np.maximum(excess, 0), alpha), rows, shut
    )
    before = penalised(cost, weight, capacity, alpha, assign)
    for r, j1 in enumerate(rows):
        for j2 in range(n):
            a1, a2 = assign[j1], assign[j2]
            options = []
            for a3 in range(m):
                if a1 == a2 or shut[a2, j1] or a3 in (a1, a2) or shut[a3, j2]:
                    continue
                moved = assign.copy()
                moved[j1], moved[j2] = a2, a3
                options.append(penalised(cost, weight, capacity, alpha, moved) - before)
            if not options:
                assert table[r, j2] == np.inf
                continue
            assert table[r, j2] == pytest.approx(min(options))
            moved = assign.copy()
            moved[j1], moved[j2] = a2, to[r, j2]
            assert penalised(cost, weight, capacity, alpha, moved) - before == pytest.approx(
                table[r, j2]
            )
