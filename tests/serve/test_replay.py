"""A saved ``overrides.csv`` replays through ``allocator solve`` (``assignment.overrides``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from allocator.cli import main
from allocator.serve import Workspace, open_source
from allocator.serve.recompute import evaluate


def harmless_moves(ws: Workspace, n: int) -> dict[str, str]:
    """``n`` moves (account -> another rep) that break no hard rule, checked by the checker."""
    owners = ws.session.state.owners
    out: dict[str, str] = {}
    for account in ws.ctx.accounts.index:
        if account in ws.ctx.data_locked:
            continue
        for rep in ws.ctx.reps.index:
            trial = owners.copy()
            trial.loc[[*out, account]] = [*out.values(), rep]
            if rep != owners[account] and not evaluate(ws.ctx, trial).violations:
                out[account] = rep
                break
        if len(out) == n:
            return out
    raise AssertionError("no harmless moves in this company")


def test_saved_overrides_replay_through_solve(
    plan_folder: Path, company: Path, tmp_path: Path
) -> None:
    ws = Workspace(open_source(plan_folder))
    moved = harmless_moves(ws, 2)
    free = [a for a in ws.ctx.accounts.index if a not in ws.ctx.data_locked and a not in moved]
    free = [*moved, *free[:2]]
    version = 0
    for account, rep in moved.items():
        ws.edit({"version": version, "action": "move", "accounts": [account], "rep": rep,
                 "who": "Ana", "why": "met them, 2027 plan"})  # fmt: skip
        version += 1
    ws.edit({"version": version, "action": "lock", "accounts": free[2:4]})
    saved = tmp_path / "edited"
    ws.save({"version": version + 1, "folder": str(saved)})
    overrides = pd.read_csv(saved / "overrides.csv", dtype=str, keep_default_na=False)
    assert list(overrides.columns) == ["account_id", "rep_id", "locked", "who", "why"]
    assert set(overrides["account_id"]) == set(free[:4])
    assert overrides.set_index("account_id").loc[free[0], "why"] == "met them, 2027 plan"

    replay = tmp_path / "replay.yaml"
    replay.write_text(
        yaml.safe_dump(
            {
                "extends": str(company),
                "name": "replay",
                "assignment": {"overrides": str(saved / "overrides.csv")},
            }
        )
    )
    out = tmp_path / "replayed"
    assert main(["-q", "solve", str(replay), "--out", str(out), "--threads", "1"]) == 0
    solved = pd.read_csv(out / "assignments.csv", dtype=str).set_index("account_id")["rep_id"]
    locked = overrides[overrides["locked"] == "true"].set_index("account_id")["rep_id"]
    assert len(locked) == 4
    assert solved[locked.index].to_dict() == locked.to_dict()
    for account, rep in moved.items():
        assert solved[account] == rep
