"""The serve backend without a browser: recompute, edits, undo, stale and bad requests, save."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from starlette.testclient import TestClient

from allocator.io.files import sha256
from allocator.io.overrides import apply_overrides, read_overrides
from allocator.plan import territory_tables, territory_totals
from allocator.serve import Workspace, create_app, open_source
from allocator.serve.recompute import evaluate, make_context
from allocator.serve.session import ServeError, StaleError, UnknownIdError
from allocator.territory.check import check_assignment


@pytest.fixture
def ws(plan_folder: Path) -> Workspace:
    return Workspace(open_source(plan_folder))


def free_account(ws: Workspace, *, exclude: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """An account that is not locked in the data."""
    return next(a for a in ws.ctx.accounts.index if a not in ws.ctx.data_locked | exclude)


def test_opening_reproduces_the_solved_plan(ws: Workspace, plan_folder: Path) -> None:
    solved = pd.read_csv(plan_folder / "assignments.csv", dtype=str).set_index("account_id")
    assert ws.session.state.owners.sort_index().equals(solved["rep_id"].sort_index())
    ev = ws.evaluation()
    assert ev.violations == ()
    metrics = pd.read_json(plan_folder / "metrics.json", typ="series")
    model = pd.read_csv(plan_folder / "reps.csv", dtype={"rep_id": str}).set_index("rep_id")
    got = ev.reps.set_index("rep_id").reindex(model.index)
    for column in ("accounts", "potential", "workload", "capacity"):  # splits by share, months
        assert got[column].to_numpy(float) == pytest.approx(model[column].to_numpy(float))
    assert math.isclose(ev.objective, float(metrics["objective"]), rel_tol=1e-6)


def test_a_move_recomputes_totals_like_the_plan_module(ws: Workspace) -> None:
    shared = set() if ws.ctx.splits is None else set(ws.ctx.splits["account_id"])
    a = free_account(ws, exclude=shared)
    owner = ws.session.state.owners[a]
    to = next(r for r in ws.ctx.reps.index if r != owner)
    ws.edit({"version": 0, "action": "move", "accounts": [a], "rep": to})
    owners = ws.session.state.owners
    assert owners[a] == to and ws.session.version == 1
    # the plan module's totals, with split accounts credited by share like the model's reps.csv
    splits = ws.ctx.splits
    shared = set() if splits is None else set(splits["account_id"])
    assert a not in shared
    whole = owners[~owners.index.isin(shared)]
    expected = territory_totals(ws.opened.tables, whole).set_index("rep_id")
    if splits is not None:
        acc = ws.ctx.accounts.loc[splits["account_id"]]
        credit = (
            pd.DataFrame(
                {
                    "rep_id": splits["rep_id"].to_numpy(),
                    "accounts": 1,
                    "potential": splits["share"].to_numpy() * acc["potential"].to_numpy(),
                    "workload": splits["share"].to_numpy() * acc["workload"].to_numpy(),
                }
            )
            .groupby("rep_id")
            .sum()
        )
        cols = ["accounts", "potential", "workload"]
        expected[cols] = expected[cols].add(credit.reindex(expected.index, fill_value=0)[cols])
    got = ws.evaluation().reps.set_index("rep_id")
    for column in ("accounts", "potential", "workload"):
        assert got[column].to_numpy() == pytest.approx(expected[column].to_numpy())
    check = check_assignment(  # on the tables the solve checks (capacity, ramp per month)
        territory_tables(ws.opened.scenario, ws.opened.tables),
        ws.opened.scenario.assignment,
        pd.DataFrame({"account_id": owners.index, "rep_id": owners.to_numpy()}),
    )
    assert ws.evaluation().objective == pytest.approx(check.objective)
    assert [v.text for v in ws.evaluation().violations] == list(check.violations)


def test_overload_is_flagged_then_undo_and_redo(ws: Workspace) -> None:
    reps = ws.evaluation().reps.set_index("rep_id")
    target = (reps["capacity"] - reps["load"]).idxmin()
    slack = float(reps.at[target, "capacity"] - reps.at[target, "load"])
    acc = ws.ctx.accounts
    owners = ws.session.state.owners
    heavy = [
        a
        for a in acc.index
        if owners[a] != target and a not in ws.ctx.data_locked and acc.at[a, "workload"] > slack
    ]
    ws.edit({"version": 0, "action": "move", "accounts": heavy[:1], "rep": target})
    kinds = {(v.kind, v.rep) for v in ws.evaluation().violations}
    assert ("capacity", target) in kinds
    ws.undo({"version": 1})
    assert ws.evaluation().violations == () and not ws.session.can_undo
    ws.redo({"version": 2})
    assert ("capacity", target) in {(v.kind, v.rep) for v in ws.evaluation().violations}


def test_locks_of_the_data_and_of_the_planner(ws: Workspace) -> None:
    held = sorted(ws.ctx.data_locked)[0]
    other = next(r for r in ws.ctx.reps.index if r != ws.session.state.owners[held])
    with pytest.raises(ServeError, match="locked in the data"):
        ws.edit({"version": 0, "action": "move", "accounts": [held], "rep": other})
    ws.edit({"version": 0, "action": "unlock", "accounts": [held]})
    ws.edit({"version": 1, "action": "move", "accounts": [held], "rep": other})
    assert held in ws.session.locked()  # moved by hand: pinned at its new rep
    assert not any(v.family == "locked" for v in ws.evaluation().violations)


def test_unknown_ids_and_stale_versions_are_refused(ws: Workspace) -> None:
    a = free_account(ws)
    with pytest.raises(UnknownIdError, match="unknown account id"):
        ws.edit({"version": 0, "action": "move", "accounts": ["NOPE"], "rep": "R001"})
    with pytest.raises(UnknownIdError, match="unknown rep"):
        ws.edit({"version": 0, "action": "move", "accounts": [a], "rep": "NOBODY"})
    ws.edit({"version": 0, "action": "lock", "accounts": [a]})
    with pytest.raises(StaleError, match="version 0"):
        ws.edit({"version": 0, "action": "unlock", "accounts": [a]})


def test_http_errors_are_clear_json_never_a_trace(ws: Workspace) -> None:
    client = TestClient(create_app(ws), raise_server_exceptions=False)
    assert client.get("/").status_code == 200
    assert client.get("/static/plotly.min.js").status_code == 200
    bad = client.post("/api/edit", json={"version": 0, "action": "move", "accounts": ["X9"]})
    assert bad.status_code == 404 and "unknown account id(s): X9" in bad.json()["error"]
    assert bad.json()["state"]["version"] == 0
    stale = client.post("/api/undo", json={"version": 7})
    assert stale.status_code == 409 and "version 7" in stale.json()["error"]
    junk = client.post("/api/edit", content=b"{not json")
    assert junk.status_code == 400 and "not JSON" in junk.json()["error"]
    nowhere = client.get("/api/nothing")
    assert nowhere.status_code == 404 and "no such page" in nowhere.json()["error"]
    ws.opened = None  # type: ignore[assignment]  # a bug, on purpose
    crash = client.post("/api/save", json={"version": 0, "folder": "/tmp/x"})
    assert crash.status_code == 500 and "Traceback" not in crash.text
    assert "internal error" in crash.json()["error"]


def test_stale_reoptimisation_cannot_be_accepted(ws: Workspace) -> None:
    a, b = free_account(ws), sorted(ws.ctx.accounts.index)[-1]
    ws.edit({"version": 0, "action": "lock", "accounts": [a]})
    ws.reoptimise({"version": 1})
    assert ws.job is not None
    ws.job.wait(60)
    assert ws.job.state == "done", ws.job.error
    ws.edit({"version": 1, "action": "lock", "accounts": [b]})
    with pytest.raises(StaleError, match="re-optimise again"):
        ws.settle({"version": 2}, accept=True)


def test_save_never_writes_into_the_opened_folder(ws: Workspace, plan_folder: Path) -> None:
    before = {p.name: sha256(p) for p in plan_folder.iterdir()}
    for folder in (plan_folder, plan_folder / "inside"):
        with pytest.raises(Exception, match="never writes there"):
            ws.save({"version": 0, "folder": str(folder)})
    occupied = plan_folder.parent / "occupied"
    occupied.mkdir(exist_ok=True)
    (occupied / "mine.txt").write_text("a user's file")
    with pytest.raises(Exception, match="not empty"):
        ws.save({"version": 0, "folder": str(occupied)})
    assert (occupied / "mine.txt").read_text() == "a user's file"
    assert {p.name: sha256(p) for p in plan_folder.iterdir()} == before


def test_overrides_file_errors_name_the_row(tmp_path: Path, ws: Workspace) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text("account_id,rep_id,locked\nA0001,R001,maybe\nA0001,R002,true\n")
    with pytest.raises(Exception, match=r"row 2: locked: expected true or false.*") as info:
        read_overrides(path)
    assert "row 3: account A0001 is listed twice" in str(info.value)
    path.write_text("account_id,rep_id,locked\nA0001,R999,true\n")
    with pytest.raises(Exception, match="row 2: rep_id 'R999' is not an active rep"):
        apply_overrides(ws.opened.tables, read_overrides(path), source=str(path))


def test_evaluation_is_pure(ws: Workspace) -> None:
    owners = ws.session.state.owners.copy()
    first = evaluate(ws.ctx, owners)
    again = evaluate(ws.ctx, owners)
    assert first.reps.equals(again.reps) and first.objective == again.objective
    assert ws.session.state.owners.equals(owners)


def test_a_scenario_is_solved_in_memory_and_compared(
    company: Path, plan_folder: Path, tmp_path: Path
) -> None:
    before = sorted(p.name for p in company.parent.iterdir())
    ws = Workspace(open_source(company))
    assert ws.opened.plan is not None and ws.opened.folder is None
    assert sorted(p.name for p in company.parent.iterdir()) == before  # nothing written
    a = free_account(ws)
    to = next(r for r in ws.ctx.reps.index if r != ws.session.state.owners[a])
    ws.edit({"version": 0, "action": "move", "accounts": [a], "rep": to})
    side = ws.compare({"other": str(plan_folder)})
    assert side["names"][0] == "this plan"
    changed = {row["account_id"] for row in side["owners"]}
    assert a in changed and side["owners_total"] == len(changed)
    assert {t.get("meta") for t in side["map"]["data"]} >= {"accounts", "region", "reps"}


def test_split_accounts_are_credited_by_share_like_the_checker(ws: Workspace) -> None:
    owners = ws.session.state.owners
    shared = set() if ws.ctx.splits is None else set(ws.ctx.splits["account_id"])
    a = free_account(ws, exclude=shared)
    holder = owners[a]
    other = next(r for r in ws.ctx.reps.index if r != holder)
    splits = pd.DataFrame({"account_id": [a, a], "rep_id": [holder, other], "share": [0.7, 0.3]})
    if ws.ctx.tables.account_splits is not None:
        splits = pd.concat([ws.ctx.tables.account_splits, splits], ignore_index=True)
    tables = ws.ctx.tables.replace(account_splits=splits)
    ctx = make_context(tables, ws.ctx.settings, owners, ws.opened.rep_quota)
    ev = evaluate(ctx, owners)
    before = ws.evaluation().reps.set_index("rep_id")
    got = ev.reps.set_index("rep_id")
    potential = float(ws.ctx.accounts.loc[a, "potential"])
    assert got.loc[holder, "potential"] == pytest.approx(
        before.loc[holder, "potential"] - 0.3 * potential
    )
    assert got.loc[other, "potential"] == pytest.approx(
        before.loc[other, "potential"] + 0.3 * potential
    )
    assert got["potential"].sum() == pytest.approx(before["potential"].sum())
    check = check_assignment(
        tables,
        ws.opened.scenario.assignment,
        pd.DataFrame({"account_id": owners.index, "rep_id": owners.to_numpy()}),
    )
    assert ev.objective == pytest.approx(check.objective)
    assert [v.text for v in ev.violations] == list(check.violations)
