"""The benchmark peers (HiGHS direct, CP-SAT, naive PuLP) answer right, and the summary adds up."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from allocator.territory.gap import GapInstance, check_gap, gap_problem
from benchmarks.peers import compact, run_peer
from benchmarks.plan import matches, plan
from benchmarks.render_peers import enrich, peer_line, peer_summary

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"


def tiny_gap() -> GapInstance:
    """3 agents x 6 jobs with tight capacities: the cheapest agent per job does not fit."""
    cost = np.array([[4, 2, 7, 3, 6, 5], [3, 6, 2, 5, 4, 7], [6, 4, 5, 2, 3, 4]], float)
    weight = np.array([[5, 4, 6, 3, 5, 4], [4, 6, 3, 5, 4, 6], [6, 5, 5, 4, 3, 5]], float)
    return GapInstance("tiny", cost, weight, np.array([9.0, 8.0, 9.0]))


def brute_force(instance: GapInstance) -> float:
    m, n = instance.shape
    best = np.inf
    for agents in itertools.product(range(m), repeat=n):
        problems, value = check_gap(instance, np.array(agents))
        if not problems:
            best = min(best, value)
    return float(best)


@pytest.mark.parametrize("method", ["highs", "cpsat", "naive"])
def test_each_peer_finds_the_gap_optimum(method: str) -> None:
    if method == "cpsat":
        pytest.importorskip("ortools", reason="the CP-SAT peer needs the bench extra")
    instance = tiny_gap()
    optimum = brute_force(instance)
    res, seconds = run_peer(
        method, gap_problem(instance, maximize=False), time_limit=20, gap=0.0, threads=1
    )
    problems, value = check_gap(instance, res.assign)
    assert not problems
    assert value == pytest.approx(optimum)
    assert res.objective == pytest.approx(optimum)
    assert seconds >= res.build_seconds
    assert res.trace and res.trace[-1][1] == pytest.approx(optimum)


def test_cpsat_territory_answer_meets_every_rule(small_tables) -> None:
    """CP-SAT's rounded territory model must still give a plan the checker accepts."""
    pytest.importorskip("ortools", reason="the CP-SAT peer needs the bench extra")
    from allocator.demo import demo_settings
    from allocator.io.settings import AssignmentSettings
    from benchmarks.cases import _dense

    settings = AssignmentSettings.model_validate(demo_settings(small_tables)["assignment"])
    spec = {"method": "cpsat", "time_limit": 20.0, "threads": 1}
    row = _dense(spec, small_tables, settings)
    assert row["check"] == "ok", row
    assert row["objective"] is not None


def test_compact_keeps_the_running_best_in_the_instance_sense() -> None:
    points = [(0.5, -10.0), (1.0, -9.0), (2.0, -12.0), (3.0, None), (4.0, -12.0)]
    assert json.loads(compact(points, sign=-1.0)) == [[0.5, 10.0], [2.0, 12.0]]


def test_summary_counts_excess_wins_and_time_to_quality() -> None:
    rows = [
        {"case": "a", "method": "ours", "objective": 101, "published": 100, "check": "ok",
         "trace": "[[1,110],[5,101]]", "seconds": 10},
        {"case": "a", "method": "highs", "objective": 102, "published": 100, "check": "ok",
         "trace": "[[2,102]]", "seconds": 10},
        {"case": "b", "method": "ours", "objective": 200, "published": 200, "check": "ok",
         "trace": "[[3,200]]", "seconds": 20},
        {"case": "b", "method": "highs", "objective": 199, "published": 200, "check": "bad",
         "trace": "[[1,199]]", "seconds": 20},
    ]  # fmt: skip
    rich = {(r["case"], r["method"]): r for r in enrich(rows)}
    assert rich["a", "ours"]["excess"] == pytest.approx(0.01)
    assert rich["a", "ours"]["to 1%"] == 5 and rich["a", "ours"]["to 0.5%"] is None
    assert rich["a", "highs"]["to 1%"] is None
    assert rich["b", "highs"]["excess"] is None  # a failed check is no answer
    table = "\n".join(peer_summary(rows))
    assert "| ours | 2 of 2 | 0.500% | 2 | 1 | 1 | 15.0 |" in table
    assert "| highs | 1 of 2 | 2.000% | 0 | 0 | 0 | 15.0 |" in table


def test_summary_compares_methods_on_the_cases_they_all_ran() -> None:
    rows = [
        {"case": "a", "method": "ours", "objective": 100, "published": 100, "check": "ok",
         "seconds": 1},
        {"case": "d", "method": "ours", "objective": 103, "published": 100, "check": "ok",
         "seconds": 1},
        {"case": "d", "method": "highs", "objective": 101, "published": 100, "check": "ok",
         "seconds": 1},
    ]  # fmt: skip
    first, _, second = "\n".join(peer_summary(rows)).partition("every method ran")
    assert "| ours | 2 of 2 | 1.500% | 1 |" in first  # ours alone on case a
    assert "| ours | 1 of 1 | 3.000% | 0 |" in second  # only case d, where HiGHS was better
    assert "| highs | 1 of 1 | 1.000% | 1 |" in second
    assert "every method ran" not in "\n".join(peer_summary(rows[1:]))
    line = peer_line(rows)
    assert line is not None and "the 1 case(s)" in line
    assert "ours 3.000%, highs 1.000%" in line and "strictly better on 0 vs highs" in line
    assert peer_line(rows[:2]) is None  # allocator alone: no peers sentence


def test_territory_excess_is_against_the_best_exact_bound() -> None:
    rows = [
        {"case": "1000x20", "method": "ours", "objective": 101, "bound": 99, "check": "ok"},
        {"case": "1000x20", "method": "highs", "objective": 103, "bound": 100, "check": "ok"},
        {"case": "1000x20", "method": "cpsat", "objective": 102, "bound": 101.5, "check": "ok"},
    ]
    excess = {r["method"]: r["excess"] for r in enrich(rows)}
    assert excess == pytest.approx({"ours": 0.01, "highs": 0.03, "cpsat": 0.02})


def test_instances_and_methods_choose_the_cases() -> None:
    assert matches("gapd/d05100", ["d*"]) and matches("d10400", ["d*"])
    assert not matches("gapc/c05100", ["d*"]) and matches("anything", None)
    cases, _ = plan("side", quick=True, data=DATA, methods=["ours", "cpsat"], instances=None)
    assert [c.spec["method"] for c in cases] == ["ours", "cpsat"]
    assert all(c.spec["threads"] == 1 for c in cases)
    if not (DATA / "optima.csv").exists():
        pytest.skip("../shared/benchmarks not present")
    cases, _ = plan("gapabcd", quick=False, data=DATA, methods=["highs"], instances=["d*"])
    assert [(Path(c.spec["file"]).name, c.spec["indices"]) for c in cases] == [
        ("gapd.txt", [1, 2, 3, 4, 5, 6])
    ]
    cases, _ = plan("yagiura", quick=False, data=DATA, methods=None, instances=["d10400"])
    assert [c.spec["method"] for c in cases] == ["ours", "highs", "cpsat", "naive"]


def test_a_silent_case_is_killed_at_its_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_case waits on the case's lines; one that prints nothing must still stop on time."""
    import sys
    import time

    from benchmarks.plan import Case
    from benchmarks.run import run_case

    silent = tmp_path / "python"
    silent.write_text("#!/bin/sh\nexec sleep 30\n")
    silent.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(silent))
    case = Case("scale", {"accounts": 10, "reps": 2}, expected=1, timeout=1.0)
    began = time.perf_counter()
    assert run_case(case, tmp_path / "out") == 0
    assert time.perf_counter() - began < 10  # not the case's 30 s
    rows = (tmp_path / "out.csv").read_text()
    assert "failed" in rows and "10x2" in rows


def test_bad_limits_and_unmatched_patterns_stop_before_any_row_is_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.run import main

    out = tmp_path / "results"
    out.with_suffix(".csv").write_text("kept\n")
    with pytest.raises(SystemExit) as stop:
        main(["--only", "gapabcd", "--gap-limit", "-1", "--out", str(out)])
    assert stop.value.code == 2 and "positive number of seconds" in capsys.readouterr().err
    code = main(["--only", "gapabcd", "--instances", "nosuch*", "--out", str(out)])
    assert code == 2 and "matches no case" in capsys.readouterr().err
    assert out.with_suffix(".csv").read_text() == "kept\n"
