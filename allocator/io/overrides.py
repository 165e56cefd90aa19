"""A planner's edits replayed: ``assignment.overrides`` names an ``overrides.csv``.

``allocator serve`` writes ``overrides.csv`` next to every plan it saves: one row per account
the planner moved, locked or unlocked, with columns ``account_id``, ``rep_id``, ``locked``
(true/false), ``who`` and ``why`` (the comment typed in the page). A scenario that names the
file under ``assignment.overrides`` replays the edits on its tables before the solve:

- ``locked: true``: the account is held by ``rep_id`` (its incumbent becomes that rep and it is
  locked, so the territory model keeps it there);
- ``locked: false``: ``rep_id`` becomes its incumbent but the account is free (a lock of the
  data is lifted): continuity and the disruption weight favour the rep, nothing forces it.

Because the incumbent changes, a replayed account does not count as moved in the new plan's
disruption and ``max_moved_share`` (the override is the planner's decision, not the model's).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from allocator.exceptions import InputError
from allocator.io.tables import Tables

__all__ = ["OVERRIDE_COLUMNS", "apply_overrides", "read_overrides"]

OVERRIDE_COLUMNS = ["account_id", "rep_id", "locked", "who", "why"]
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def read_overrides(path: str | Path) -> pd.DataFrame:
    """Read and check the overrides file: account_id, rep_id, locked (bool), who, why.

    Raises
    ------
    InputError
        The file is missing or unreadable, lacks a column, repeats an account or holds a
        ``locked`` value that is not true/false; messages name the file and the row.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise InputError([f"{path}: overrides file not found (assignment.overrides)"]) from None
    except (OSError, ValueError) as exc:
        raise InputError([f"{path}: cannot read the overrides ({exc})"]) from None
    missing = [c for c in ("account_id", "rep_id") if c not in frame.columns]
    if missing:
        raise InputError(
            [f"{path}: missing column(s) {', '.join(missing)}; expected {OVERRIDE_COLUMNS}"]
        )
    for column, default in (("locked", "true"), ("who", ""), ("why", "")):
        if column not in frame.columns:
            frame[column] = default
    frame = frame[OVERRIDE_COLUMNS].copy()
    for c in ("account_id", "rep_id"):
        frame[c] = frame[c].str.strip()
    problems = []
    flags = frame["locked"].str.strip().str.lower()
    for i in frame.index[~flags.isin(_TRUE | _FALSE)]:
        problems.append(
            f"{path}: row {i + 2}: locked: expected true or false, got {frame.at[i, 'locked']!r}"
        )
    for i in frame.index[(frame["account_id"] == "") | (frame["rep_id"] == "")]:
        problems.append(f"{path}: row {i + 2}: account_id and rep_id must both be given")
    for i in frame.index[frame["account_id"].duplicated() & (frame["account_id"] != "")]:
        problems.append(
            f"{path}: row {i + 2}: account {frame.at[i, 'account_id']!s} is listed twice"
        )
    if problems:
        raise InputError(problems)
    return frame.assign(locked=flags.isin(_TRUE))


def apply_overrides(
    tables: Tables, overrides: pd.DataFrame, *, source: str = "overrides"
) -> Tables:
    """``tables`` with each override's rep as its account's incumbent and its lock set.

    Raises
    ------
    InputError
        An override names an account or a rep that the tables do not have, or a rep that is
        not active; the message names ``source`` and the row.
    """
    accounts = tables.accounts
    known_accounts = set(accounts["account_id"])
    active_reps = set(tables.active_reps["rep_id"])
    problems = []
    for i, (a, r) in enumerate(zip(overrides["account_id"], overrides["rep_id"], strict=True)):
        if a not in known_accounts:
            problems.append(f"{source}: row {i + 2}: unknown account_id {a!r}")
        if r not in active_reps:
            problems.append(f"{source}: row {i + 2}: rep_id {r!r} is not an active rep")
    if problems:
        raise InputError(problems)
    rep = overrides.set_index("account_id")["rep_id"]
    lock = overrides.set_index("account_id")["locked"].astype(bool)
    hit = accounts["account_id"].isin(rep.index)
    ids = accounts.loc[hit, "account_id"]
    changed = accounts.copy()
    changed.loc[hit, "incumbent_rep_id"] = ids.map(rep).to_numpy()
    changed.loc[hit, "locked"] = ids.map(lock).to_numpy(bool)
    return tables.replace(accounts=changed, sources={**tables.sources, "overrides": source})
