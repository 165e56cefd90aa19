"""Sweeps: the grid, the runners (in-process, processes, Dask), resume, interruption, the report.

Most tests replace the solve hook (``allocator.sweep.run.solve_into``) with :func:`fake_solve`, a
cheap stand-in whose numbers are known functions of the variant's settings, so the machinery is
checked exactly and fast. ``test_end_to_end_*`` solve a tiny generated company for real.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import itertools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import allocator.sweep.run as sweep_module
from allocator.cli.sweep import add_sweep_parser, cmd_sweep
from allocator.exceptions import (
    AllocatorError,
    InfeasibleError,
    OutputError,
    ScenarioError,
    SolverError,
)
from allocator.io.scenario import Scenario, load_scenario, scenario_from_dict
from allocator.io.settings import SolverSettings
from allocator.sweep.grid import expand_sweep, split_sweep_block
from allocator.sweep.progress import Progress, format_seconds
from allocator.sweep.report import non_dominated
from allocator.sweep.run import sweep
from allocator.sweep.runner import dask_slots

SHARE = "assignment.constraints.continuity.max_moved_share"
TOL = "assignment.constraints.balance.tolerance"
#: 3 x 2 = 6 variants, the three with tolerance 0.05 non-dominated (see fake_solve)
GRID = {SHARE: [0.1, 0.2, 0.3], TOL: [0.05, 0.1]}


# ---------------------------------------------------------------- the fake solve


def fake_solve(scenario: Scenario, solver: SolverSettings, folder: Path) -> dict[str, Any]:
    """Stand-in for the real solve: known numbers, a manifest, and the failures we ask for.

    moved share = max_moved_share; gini = 0.1 / share + tolerance; objective = 1000 x gini.
    For a fixed share the smaller tolerance has the smaller gini, so only the three
    ``tolerance=0.05`` variants are non-dominated (moved share vs gini, both minimised).
    Tolerance 0.5 is "infeasible", tolerance 0.6 fails with a solver error, 0.7 kills the
    worker process (only used in a process pool).
    """
    constraints = scenario.assignment.constraints
    share = constraints.continuity.max_moved_share  # type: ignore[union-attr]
    tol = constraints.balance.tolerance  # type: ignore[union-attr]
    if tol == 0.5:
        raise InfeasibleError("assignment is infeasible", diagnosis=["balance[R1] needs 0.02"])
    if tol == 0.6:
        raise SolverError("HiGHS crashed")
    if tol == 0.7:
        os._exit(3)
    (folder / "manifest.json").write_text(json.dumps({"scenario": {"hash": scenario.hash()}}))
    (folder / "pid.txt").write_text(str(os.getpid()))
    assert share is not None
    gini = round(0.1 / share + tol, 6)
    return {
        "status": "optimal",
        "objective": 1000 * gini,
        "threads": solver.threads,
        "fairness": {"potential": {"gini": gini}},
        "disruption": {"potential_moved_share": share},
    }


def flat_fake(scenario: Scenario, solver: SolverSettings, folder: Path) -> dict[str, Any]:
    """:func:`fake_solve` with the nested metrics flattened, as the real hook returns them."""
    return sweep_module.flatten(fake_solve(scenario, solver, folder))


@pytest.fixture
def base() -> Scenario:
    """A scenario with balance and continuity on (no data: the fake needs none)."""
    return scenario_from_dict(
        {
            "name": "base",
            "assignment": {"constraints": {"balance": {}, "continuity": {"max_moved_share": 0.2}}},
        }
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the solve hook with :func:`flat_fake`; returns the list of solved variant names."""
    calls: list[str] = []

    def counting(scenario: Scenario, solver: SolverSettings, folder: Path) -> dict[str, Any]:
        calls.append(scenario.name)
        return flat_fake(scenario, solver, folder)

    monkeypatch.setattr(sweep_module, "solve_into", counting)
    monkeypatch.setattr(sweep_module, "check_inputs", lambda scenarios: None)
    return calls


# ---------------------------------------------------------------- the grid


def test_grid_is_the_product_of_the_lists_in_order(base: Scenario) -> None:
    variants = expand_sweep(base, GRID)
    assert [v.id for v in variants] == [
        f"max_moved_share={s}__tolerance={t}" for s in (0.1, 0.2, 0.3) for t in (0.05, 0.1)
    ]
    last = variants[-1].scenario
    assert last.name == "base/max_moved_share=0.3__tolerance=0.1"
    assert last.assignment.constraints.continuity.max_moved_share == 0.3  # type: ignore[union-attr]
    assert last.assignment.constraints.balance.tolerance == 0.1  # type: ignore[union-attr]
    assert last.sweep is None and base.assignment.constraints.balance.tolerance == 0.10  # type: ignore[union-attr]
    assert len({v.scenario.hash() for v in variants}) == 6


def test_named_variants_are_crossed_with_the_grid(base: Scenario) -> None:
    named: dict[str, dict[str, Any]] = {
        "no-travel": {"assignment.objective.travel": 0},
        "calm": {SHARE: 0.05},
    }
    variants = expand_sweep(base, {TOL: [0.05, 0.2]}, named)
    assert [v.id for v in variants] == [
        "no-travel__tolerance=0.05",
        "no-travel__tolerance=0.2",
        "calm__tolerance=0.05",
        "calm__tolerance=0.2",
    ]
    assert variants[0].scenario.assignment.objective.travel == 0
    assert variants[2].scenario.assignment.constraints.continuity.max_moved_share == 0.05  # type: ignore[union-attr]
    assert variants[2].name == "calm" and variants[2].params == {SHARE: 0.05, TOL: 0.05}
    only_named = expand_sweep(base, None, named)
    assert [v.id for v in only_named] == ["no-travel", "calm"]


def test_same_label_twice_uses_a_longer_suffix(base: Scenario) -> None:
    grid = {TOL: [0.1], "assignment.constraints.capacity.tolerance": [0.0, 0.1]}
    ids = [v.id for v in expand_sweep(base, grid)]
    assert ids == [
        "balance.tolerance=0.1__capacity.tolerance=0",
        "balance.tolerance=0.1__capacity.tolerance=0.1",
    ]


@pytest.mark.parametrize(
    ("grid", "variants", "match"),
    [
        (
            {"assignment.constraints.balanse.tolerance": [0.1]},
            None,
            r"balanse.*did you mean 'balance'",
        ),
        ({"solver.time_limit.seconds": [1]}, None, r"solver.time_limit.seconds: unknown key path"),
        ({"name": ["x"]}, None, r"name: a sweep cannot change this key"),
        ({TOL: 0.1}, None, r"sweep.assignment.constraints.balance.tolerance: expected a list"),
        ({TOL: []}, None, r"list of values is empty"),
        (
            {TOL: [0.1, 1.5]},
            None,
            r"variant 'tolerance=1.5': assignment.constraints.balance.tolerance",
        ),
        ({TOL: [0.1, 0.10]}, None, r"tolerance: the value 0.1 is listed twice"),
        (
            {"assignment.constraints.experience": [{"A b": 1}, {"A-b": 1}]},
            None,
            r"two variants get the same id 'experience=--A-b--1-'",
        ),
        ({TOL: [0.1]}, {"a": {TOL: 0.2}}, r"sweep.variants.a: .*tolerance is also in the grid"),
        ({}, {"bad name": {TOL: 0.2}}, r"a variant name is a folder name"),
        ({}, {"a": {"quota.fairnes.band": 0.2}}, r"no key 'fairnes' \(did you mean 'fairness'\?\)"),
        (None, None, r"nothing to sweep"),
    ],
)
def test_bad_sweeps_name_the_key(base: Scenario, grid: Any, variants: Any, match: str) -> None:
    with pytest.raises(ScenarioError, match=match):
        expand_sweep(base, grid, variants, source="s.yaml")


def test_sweep_block_loads_from_a_file_that_extends_a_base(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: base\nassignment: {constraints: {balance: {}}}\n")
    (tmp_path / "sw.yaml").write_text(
        f"extends: base.yaml\nname: sw\nsweep:\n  {TOL}: [0.05, 0.2]\n"
        "  variants:\n    calm: {assignment.objective.disruption: 9}\n"
    )
    scenario = load_scenario(tmp_path / "sw.yaml")
    grid, named = split_sweep_block(scenario.sweep)
    assert grid == {TOL: [0.05, 0.2]} and named == {"calm": {"assignment.objective.disruption": 9}}
    variants = expand_sweep(scenario, grid, named)
    assert [v.scenario.name for v in variants] == [
        "sw/calm__tolerance=0.05",
        "sw/calm__tolerance=0.2",
    ]
    assert variants[1].scenario.assignment.objective.disruption == 9


# ---------------------------------------------------------------- the runner


def _check_results(frame: pd.DataFrame, out: Path) -> None:
    """Every number of sweep.csv recomputed from the fake's formula and from the folders."""
    assert list(frame["variant_id"]) == [
        f"max_moved_share={s}__tolerance={t}" for s in (0.1, 0.2, 0.3) for t in (0.05, 0.1)
    ]
    assert (frame["status"] == "optimal").all()
    gini = 0.1 / frame[SHARE] + frame[TOL]
    assert frame["fairness.potential.gini"].tolist() == pytest.approx(gini.tolist())
    assert frame["objective"].tolist() == pytest.approx((1000 * gini).tolist())
    assert frame["disruption.potential_moved_share"].tolist() == frame[SHARE].tolist()
    assert frame.loc[frame["non_dominated"], TOL].tolist() == [0.05, 0.05, 0.05]
    on_disk = pd.read_csv(out / "sweep.csv")
    assert on_disk["variant_id"].tolist() == frame["variant_id"].tolist()
    assert on_disk["objective"].tolist() == pytest.approx(frame["objective"].tolist())
    for ident in frame["variant_id"]:
        row = json.loads((out / ident / "variant.json").read_text())
        assert row["objective"] == pytest.approx(
            frame.set_index("variant_id").loc[ident, "objective"]
        )
    assert "data:image/png;base64," in (out / "sweep.html").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.is_dir()]


def test_in_process_sweep_writes_folders_csv_and_html(
    base: Scenario, fake: list[str], tmp_path: Path
) -> None:
    frame = sweep(base, GRID, out=tmp_path, workers=1, progress=False)
    _check_results(frame, tmp_path)
    assert len(fake) == 6 and not frame["resumed"].any()
    assert (frame["threads"] == (os.cpu_count() or 1)).all()  # one worker gets every core


def test_failed_variants_are_recorded_and_the_sweep_goes_on(
    base: Scenario, fake: list[str], tmp_path: Path
) -> None:
    frame = sweep(
        base, {SHARE: [0.2], TOL: [0.05, 0.5, 0.6]}, out=tmp_path, workers=1, progress=False
    )
    status = dict(zip(frame[TOL], frame["status"], strict=True))
    assert status == {0.05: "optimal", 0.5: "infeasible", 0.6: "error"}
    bad = frame.set_index(TOL).to_dict("index")
    assert bad[0.5]["diagnosis"] == "balance[R1] needs 0.02"
    assert bad[0.5]["message"] == "assignment is infeasible"
    assert bad[0.6]["message"] == "SolverError: HiGHS crashed"
    assert (tmp_path / "max_moved_share=0.2__tolerance=0.5" / "variant.json").exists()
    assert not (tmp_path / "max_moved_share=0.2__tolerance=0.6").exists()  # an error is retried
    assert frame["non_dominated"].tolist() == [True, False, False]


def test_rerun_resumes_and_resolves_only_what_changed(
    base: Scenario, fake: list[str], tmp_path: Path
) -> None:
    sweep(base, GRID, out=tmp_path, workers=1, progress=False)
    stale = tmp_path / ".max_moved_share=0.1__tolerance=0.05.tmp-99999"
    stale.mkdir()
    (stale / "half.csv").write_text("a,b\n1")
    fake.clear()
    again = sweep(base, GRID, out=tmp_path, workers=1, progress=False)
    assert fake == [] and again["resumed"].all() and not stale.exists()
    _check_results(again, tmp_path)
    # a folder whose manifest is of another scenario (settings changed) is solved again
    manifest = tmp_path / "max_moved_share=0.2__tolerance=0.1" / "manifest.json"
    manifest.write_text(json.dumps({"scenario": {"hash": "older"}}))
    third = sweep(base, GRID, out=tmp_path, workers=1, progress=False)
    assert fake == ["base/max_moved_share=0.2__tolerance=0.1"]
    assert third["resumed"].sum() == 5
    # and a changed base re-solves everything
    fake.clear()
    sweep(base.replace({"solver.gap": 0.01}), GRID, out=tmp_path, workers=1, progress=False)
    assert len(fake) == 6


def test_interrupted_sweep_keeps_finished_variants_and_resumes(
    base: Scenario, fake: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(scenario: Scenario, solver: SolverSettings, folder: Path) -> dict[str, Any]:
        fake.append(scenario.name)
        (folder / "partial.csv").write_text("half")
        if len(fake) == 3:
            raise KeyboardInterrupt
        return flat_fake(scenario, solver, folder)

    monkeypatch.setattr(sweep_module, "solve_into", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep(base, GRID, out=tmp_path, workers=1, progress=False)
    kept = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert kept == ["max_moved_share=0.1__tolerance=0.05", "max_moved_share=0.1__tolerance=0.1"]
    partial = pd.read_csv(tmp_path / "sweep.csv")
    assert partial["status"].tolist() == ["optimal"] * 2 + ["not_run"] * 4
    assert not (tmp_path / ".sweep.lock").exists()
    monkeypatch.setattr(sweep_module, "solve_into", flat_fake)
    frame = sweep(base, GRID, out=tmp_path, workers=1, progress=False)
    _check_results(frame, tmp_path)
    assert frame["resumed"].tolist() == [True, True, False, False, False, False]


def test_a_folder_not_written_by_a_sweep_is_not_replaced(
    base: Scenario, fake: list[str], tmp_path: Path
) -> None:
    mine = tmp_path / "max_moved_share=0.1__tolerance=0.05"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"max_moved_share=0.1__tolerance=0.05\b"):
        sweep(base, GRID, out=tmp_path, workers=1, progress=False)
    assert (mine / "notes.txt").read_text() == "mine" and fake == []


def test_process_pool_divides_cores_and_survives_a_dead_worker(
    base: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two processes: every variant solved in a child, threads = cores // 2, a killed worker
    recorded as an error after its retry, the others solved."""
    monkeypatch.setattr(sweep_module, "solve_into", flat_fake)
    monkeypatch.setattr(sweep_module, "check_inputs", lambda scenarios: None)
    frame = sweep(
        base, {SHARE: [0.1, 0.2], TOL: [0.05, 0.7]}, out=tmp_path, workers=2, progress=False
    )
    status = frame.set_index("variant_id")["status"].to_dict()
    assert status == {
        "max_moved_share=0.1__tolerance=0.05": "optimal",
        "max_moved_share=0.1__tolerance=0.7": "error",
        "max_moved_share=0.2__tolerance=0.05": "optimal",
        "max_moved_share=0.2__tolerance=0.7": "error",
    }
    dead = frame[frame["status"] == "error"]
    assert dead["message"].str.contains("worker process died").all()
    solved = frame[frame["status"] == "optimal"]
    assert (solved["threads"] == max(1, (os.cpu_count() or 1) // 2)).all()
    pids = {int((tmp_path / i / "pid.txt").read_text()) for i in solved["variant_id"]}
    assert os.getpid() not in pids


def test_cmd_sweep_exit_codes_and_strict(
    tmp_path: Path,
    fake: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "sw.yaml").write_text(
        f"name: sw\nassignment: {{constraints: {{balance: {{}}, continuity: {{}}}}}}\n"
        f"sweep:\n  {SHARE}: [0.2]\n  {TOL}: [0.05, 0.5]\n"
    )
    parser = argparse.ArgumentParser()
    add_sweep_parser(parser.add_subparsers())
    argv = [
        str(tmp_path / "sw.yaml"),
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "1",
        "--no-progress",
    ]
    args = parser.parse_args(["sweep", *argv])
    assert args.func is cmd_sweep and cmd_sweep(args) == 0
    assert "2 variants: 1 infeasible, 1 optimal" in capsys.readouterr().out
    strict = parser.parse_args(["sweep", *argv, "--strict"])
    assert cmd_sweep(strict) == 1
    assert fake == [
        "sw/max_moved_share=0.2__tolerance=0.05",
        "sw/max_moved_share=0.2__tolerance=0.5",
    ]
    with pytest.raises(SystemExit):
        parser.parse_args(["sweep", *argv, "--workers", "0"])
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if the extra were missing
    with pytest.raises(AllocatorError, match=r"pip install 'allocator\[dask\]'"):
        cmd_sweep(parser.parse_args(["sweep", *argv, "--dask", "local"]))
    (tmp_path / "plain.yaml").write_text("name: plain\n")
    with pytest.raises(ScenarioError, match="no sweep: block"):
        cmd_sweep(parser.parse_args(["sweep", str(tmp_path / "plain.yaml")]))


# ---------------------------------------------------------------- progress and report


def test_progress_counts_and_estimates_time_left() -> None:
    now = [100.0]
    stream = io.StringIO()
    bar = Progress(5, slots=2, resumed=1, stream=stream, clock=lambda: now[0])
    assert bar.line() == "sweep: 1/5 done (1 resumed), 2 running, 0 failed, time left unknown"
    now[0] = 130.0
    bar.update({"status": "optimal"}, variant_id="a")  # 1 solved in 30 s, 3 to go: 90 s
    assert bar.line() == "sweep: 2/5 done (1 resumed), 2 running, 0 failed, about 1m30s left"
    now[0] = 140.0
    bar.update({"status": "infeasible"}, variant_id="b")  # 2 in 40 s, 2 to go: 40 s
    bar.update({"status": "error"}, variant_id="c")  # 3 in 40 s, 1 to go: 13 s
    assert bar.line() == "sweep: 4/5 done (1 resumed), 1 running, 2 failed, about 13s left"
    bar.update({"status": "optimal"}, variant_id="d")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("[a: optimal]") and lines[1].endswith("[b: infeasible]")
    assert lines[-1] == "sweep: 5/5 done (1 resumed), 0 running, 2 failed, took 40s"
    assert [format_seconds(s) for s in (59.4, 61, 3725)] == ["59s", "1m01s", "1h02m"]


def test_progress_with_a_budget_starts_from_it_and_does_not_jump() -> None:
    """12 variants, 2 at a time, 60 s budget each: 6 x 60 s before anything finished; a first
    variant done in 5 s moves the estimate towards the pace, it does not collapse it."""
    now = [0.0]
    bar = Progress(12, slots=2, stream=io.StringIO(), clock=lambda: now[0], budget=60.0)
    without = Progress(12, slots=2, stream=io.StringIO(), clock=lambda: now[0])
    assert bar.seconds_left() == 360.0 and without.seconds_left() is None
    now[0] = 5.0
    bar.update({"status": "optimal"}, variant_id="a")  # pace 10 s, blended (10 + 2 x 60) / 3
    blended = bar.seconds_left()
    assert blended is not None and 200 < blended < 360
    without.update({"status": "optimal"}, variant_id="a")
    assert without.seconds_left() == 55.0  # the old estimate: 11 x 10 s / 2, a fall from 360
    estimates = []
    for k in range(2, 13):  # then every variant takes 50 s of wall time per slot
        now[0] = 5.0 + 25.0 * (k - 1)
        bar.update({"status": "optimal"}, variant_id=str(k))
        estimates.append(bar.seconds_left())
    steps = [a - b for a, b in itertools.pairwise(estimates)]
    assert all(step >= 0 for step in steps)  # never rises while the pace holds
    assert estimates[-1] == 0


def test_non_dominated_by_hand() -> None:
    """Minimise both: (1,5) (2,2) (3,1) form the front; (2,3) is beaten by (2,2), (4,4) by all;
    the duplicate (2,2) does not dominate its twin; an infeasible (0,0) counts for nothing."""
    frame = pd.DataFrame(
        {
            "x": [1, 2, 2, 3, 4, 2, 0],
            "y": [5, 2, 3, 1, 4, 2, 0],
            "status": ["optimal"] * 6 + ["infeasible"],
        }
    )
    assert non_dominated(frame, "x", "y").tolist() == [True, True, False, True, False, True, False]


# ---------------------------------------------------------------- Dask


def test_dask_local_cluster_gives_the_same_results(
    base: Scenario, fake: list[str], tmp_path: Path
) -> None:
    distributed = pytest.importorskip(
        "distributed", reason="dask is an optional extra: allocator[dask]"
    )
    monkeypatch_free = sweep_module.solve_into  # the counting fake of the fixture
    local = sweep(base, GRID, out=tmp_path / "local", workers=1, progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,  # threads: the fake of the fixture runs as patched
            protocol="tcp://",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        slots, threads = dask_slots(client)
        assert slots == 2 and threads == max(1, (os.cpu_count() or 1) // 2)
        remote = sweep(base, GRID, out=tmp_path / "dask", client=client, progress=False)
    assert sweep_module.solve_into is monkeypatch_free
    _check_results(remote, tmp_path / "dask")
    same = [c for c in local.columns if c not in ("seconds", "threads")]
    pd.testing.assert_frame_equal(local[same], remote[same])


# ---------------------------------------------------------------- end to end, real models

MODELS_READY = importlib.util.find_spec("allocator.territory.assignment") is not None
needs_models = pytest.mark.skipif(
    not MODELS_READY,
    reason="allocator.territory.assignment (the territory model) is not in the tree yet",
)
TINY_GRID = {SHARE: [0.05, 0.1]}  # tight caps: each variant solves in about a second


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A generated company of 120 accounts, 6 reps, 6 regions (seed 1) with the demo settings."""
    from allocator.demo import generate_company, write_company

    folder = tmp_path_factory.mktemp("tiny")
    tables = generate_company(accounts=120, reps=6, regions=6, seed=1)
    return load_scenario(write_company(tables, folder, scenario_name="tiny"))


@pytest.fixture(scope="module")
def tiny_swept(
    tiny: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> tuple[pd.DataFrame, Path]:
    """The tiny company's sweep, solved once in two worker processes: (table, folder)."""
    out = tmp_path_factory.mktemp("tiny-sweep")
    return sweep(tiny, TINY_GRID, out=out, workers=2, progress=False), out


def _check_tiny(frame: pd.DataFrame, out: Path, base: Scenario) -> None:
    """Constraints and numbers of every variant recomputed from its folder."""
    accounts = pd.read_csv(base.data.accounts, dtype=str, keep_default_na=False)  # type: ignore[arg-type]
    assert (frame["status"] == "optimal").all(), frame[["variant_id", "status", "message"]]
    for _, row in frame.iterrows():
        folder = out / row["variant_id"]
        got = pd.read_csv(folder / "assignments.csv", dtype=str, keep_default_na=False)
        assert sorted(got["account_id"]) == sorted(accounts["account_id"])  # each account once
        moved = int(
            ((got["incumbent_rep_id"] != "") & (got["rep_id"] != got["incumbent_rep_id"])).sum()
        )
        assert moved <= row[SHARE] * len(accounts) + 1e-9  # max_moved, measure: accounts
        assert row["disruption.accounts_moved"] == moved
        metrics = json.loads((folder / "metrics.json").read_text())
        assert row["objective"] == pytest.approx(metrics["objective"])
        assert row["gap"] <= base.solver.gap + 1e-9
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["scenario"]["hash"] == row["hash"]
    loose, tight = frame.set_index(SHARE).loc[0.1], frame.set_index(SHARE).loc[0.05]
    # relaxing max_moved never costs: optimum(loose) <= optimum(tight) <= objective(tight)
    assert loose["bound"] <= tight["objective"] + 1e-6


@needs_models
def test_end_to_end_tiny_company_in_processes(
    tiny: Scenario, tiny_swept: tuple[pd.DataFrame, Path]
) -> None:
    from allocator.plan import solve_scenario

    frame, out = tiny_swept
    _check_tiny(frame, out, tiny)
    variant = expand_sweep(tiny, TINY_GRID)[0]
    direct = solve_scenario(variant.scenario)  # the same variant, solved without the sweep
    gap = tiny.solver.gap
    assert frame.loc[0, "objective"] == pytest.approx(direct.metrics()["objective"], rel=2 * gap)
    again = sweep(tiny, TINY_GRID, out=out, workers=2, progress=False)
    assert again["resumed"].all()
    same = [c for c in frame.columns if c != "resumed"]
    pd.testing.assert_frame_equal(frame[same], again[same])


@needs_models
def test_end_to_end_dask_equals_local(
    tiny: Scenario, tiny_swept: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    distributed = pytest.importorskip(
        "distributed", reason="dask is an optional extra: allocator[dask]"
    )
    local, _ = tiny_swept
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,  # worker threads: no second start-up of python, pandas, highspy
            protocol="tcp://",
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = sweep(tiny, TINY_GRID, out=tmp_path, client=client, progress=False)
    _check_tiny(remote, tmp_path, tiny)
    same = [c for c in local.columns if c not in ("seconds", "solve_seconds", "resumed")]
    pd.testing.assert_frame_equal(local[same], remote[same])
