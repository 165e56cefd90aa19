"""The elite set, path relinking and exact crossovers of the GAP search, and phases sized by
their gains."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import numpy as np
import pytest

from allocator.solver.trace import run_trace
from allocator.territory import gap_relink
from allocator.territory.gap import check_gap
from allocator.territory.gap_relink import Elite, crossover
from allocator.territory.gap_search import _credit, _length, improve
from tests.territory.test_gap_search import CASES, arrays, every, tight


def test_elite_keeps_the_best_distinct_members_in_order() -> None:
    elite = Elite()
    for value in range(gap_relink.SIZE + 3, 0, -1):
        elite.add(float(value), np.array([value, 0]))
    elite.add(1.0, np.array([1, 0]))  # a copy of a member: ignored
    values = [v for v, _ in elite.members]
    assert values == sorted(values) == [float(v) for v in range(1, gap_relink.SIZE + 1)]


def test_relink_lands_between_the_two_assignments() -> None:
    rng = np.random.default_rng(0)
    base = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    guide = np.array([0, 2, 1, 1, 0, 2, 2, 1, 0, 2])
    elite = Elite()
    elite.add(10.0, base)
    assert elite.relink(base, rng) is None  # nobody to relink with
    elite.add(11.0, guide)
    moved = 0
    for _ in range(50):
        point = elite.relink(base, rng)
        assert point is not None
        same = base == guide
        assert (point[same] == base[same]).all()
        assert ((point == base) | (point == guide)).all()
        moved += int((point != base).sum())
    assert 0 < moved < 50 * int((base != guide).sum())


@pytest.mark.parametrize("case", range(len(CASES)))
def test_relinking_every_phase_still_reaches_the_brute_force_optimum(case: int) -> None:
    """``kick=0`` escalates at every step, so every tabu phase after the first starts from a
    relinked (often overloaded) point; the answer is still the optimum, the trace monotone."""
    instance, options = CASES[case]
    optimum, worst = options[0][0], np.array(options[-1][1])
    with run_trace() as trace:
        found = improve(
            arrays(instance), worst, deadline=None, bound=optimum, kick=0.0, max_rounds=300
        )
    assert check_gap(instance, found.assign) == ([], optimum)
    assert found.stop == "bound"
    assert all(b < a for a, b in itertools.pairwise(found.history))
    noted = [p.objective for p in trace.points]
    assert noted and noted[-1] == optimum
    assert all(b < a for a, b in itertools.pairwise(noted))


def test_the_kind_of_phase_that_gains_gets_the_longer_phases() -> None:
    credit = {"lns": 1.0, "tabu": 1.0}
    assert _length(credit, "lns") == pytest.approx(_length(credit, "tabu"))
    for _ in range(5):
        _credit(credit, "tabu", (0.0, 100.0), 100.0)  # no gain
        _credit(credit, "lns", (0.0, 100.0), 90.0)  # gains
    assert _length(credit, "lns") > _length(credit, "tabu")
    assert _length(credit, "tabu") >= 0.5


def test_a_poor_mip_incumbent_gives_way_to_a_cheaper_lagrangian_start() -> None:
    """The worst feasible assignment with no bound (gap unknown) is replaced by the
    Lagrangian start when that costs less; a close incumbent (gap 0) is kept as it is."""
    import time

    from allocator.solver import SolveReport, Status
    from allocator.territory.gap import _better_start

    instance, options = CASES[0]
    worst = np.array(options[-1][1])
    report = SolveReport(
        status=Status.TIME_LIMIT,
        solver="highs",
        objective=options[-1][0],
        bound=None,
        gap=None,
        seconds=0.0,
        has_solution=True,
        message="",
    )
    now = time.monotonic()
    start = _better_start(arrays(instance), worst, report, now, now + 30.0)
    problems, value = check_gap(instance, start)
    assert problems == [] and value < options[-1][0]
    kept = _better_start(arrays(instance), worst, replace(report, gap=0.0), now, now + 30.0)
    assert kept is worst


@pytest.mark.parametrize("seed", range(4))
def test_crossover_keeps_the_agreement_and_beats_both_parents(seed: int) -> None:
    instance = tight(seed, m=3, n=8)
    options = every(instance)
    if len(options) < 2:
        pytest.skip("fewer than two feasible assignments")
    gap = arrays(instance)
    rng = np.random.default_rng(seed)
    elite = Elite()
    assert crossover(gap, elite, rng, 5.0) is None  # nobody to cross
    (v1, p1), (v2, p2) = options[-1], options[len(options) // 2]
    elite.add(v1, np.array(p1))
    elite.add(v2, np.array(p2))
    child = crossover(gap, elite, rng, 5.0)
    assert child is not None and gap.feasible(child)
    agree = np.array(p1) == np.array(p2)
    assert (child[agree] == np.array(p1)[agree]).all()
    # both parents complete the agreement, and the sub-GAP is solved exactly
    assert gap.value(child) <= min(v1, v2) + 1e-9
    kept = [v for v, a in options if (np.array(a)[agree] == np.array(p1)[agree]).all()]
    assert gap.value(child) == pytest.approx(min(kept))


@pytest.mark.parametrize("seed", range(3))
def test_polish_phases_reach_the_optimum_from_a_pool_and_stop_at_the_bound(seed: int) -> None:
    instance = tight(seed, m=3, n=8)
    options = every(instance)
    if len(options) < 4:
        pytest.skip("too few feasible assignments")
    gap = arrays(instance)
    pool = Elite()
    for value, agents in options[-4:]:  # the four worst assignments
        pool.add(value, np.array(agents))
    start = np.array(options[-1][1])
    with run_trace() as trace:
        found = improve(
            gap,
            start,
            deadline=time.monotonic() + 600,
            bound=options[0][0],
            methods=("polish",),
            elite=pool,
        )
    assert found.objective == pytest.approx(options[0][0]) and found.stop == "bound"
    assert gap.feasible(found.assign)
    assert {p.source for p in trace.points} <= {"local", "polish"}
