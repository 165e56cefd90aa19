"""Staff changes: the table of reps who leave, join or change capacity, and applying it.

A ``changes`` table (CSV, Excel, Parquet, or a YAML list) has one row per rep: ``rep_id``,
``change`` (``leave``, ``join`` or ``capacity``) and, for a join, the new rep's fields (``name``,
``lat``, ``lon``, ``region_id``, ``experience``, ``capacity``, optional ``skills``, ``ramp``,
``team``); for a capacity change the new ``capacity`` (and optionally ``ramp``).
:func:`load_changes` and :func:`check_changes` read and check one against the reps it changes;
:func:`apply_changes` gives the tables after it, with the plan's owners as incumbents. Solving
the territory again is :mod:`allocator.track.rebalance`.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from allocator.exceptions import InputError
from allocator.io.rows import RowProblems, read_rows
from allocator.io.tables import (
    COLUMNS,
    OPTIONAL_DEFAULTS,
    RANGES,
    Tables,
    blank_cells,
    convert_cells,
    parse_ids,
    typed_cells,
)

__all__ = ["apply_changes", "check_changes", "load_changes"]

CHANGES = ("leave", "join", "capacity")
#: kind of every column a changes row may hold (the reps table's columns, plus ``team``)
FIELDS: dict[str, str] = {
    **COLUMNS["reps"],
    **{c: kind for c, (kind, _) in OPTIONAL_DEFAULTS["reps"].items() if c != "active"},
    "team": "str",
}
JOIN_REQUIRED = ("name", "lat", "lon", "region_id", "experience", "capacity")


# ---------------------------------------------------------------- the changes table


def load_changes(path: str | Path, tables: Tables) -> pd.DataFrame:
    """Read and check a changes file: a table, or a YAML list of mappings (or ``changes:``).

    Raises
    ------
    InputError
        The file is unreadable, or rows break the rules (see :func:`check_changes`).
    """
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        frame, rows = _read_yaml(path)
    else:
        frame, rows = read_rows(path)
    return check_changes(frame, tables, where=str(path), rows=rows)


def _read_yaml(path: Path) -> tuple[pd.DataFrame, list[str]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError([f"{path}: cannot read it as YAML ({exc})"]) from None
    if isinstance(raw, dict) and set(raw) == {"changes"}:
        raw = raw["changes"]
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise InputError([f"{path}: expected a list of changes (mappings with rep_id and change)"])
    frame = pd.DataFrame([{str(k): v for k, v in item.items()} for item in raw], dtype=object)
    return frame, [f"item {i + 1}" for i in range(len(raw))]


def check_changes(
    frame: pd.DataFrame,
    tables: Tables,
    *,
    where: str = "changes table",
    rows: list[str] | None = None,
) -> pd.DataFrame:
    """Check a changes table against the reps it changes.

    Rules: ``rep_id`` and ``change`` are given, ``change`` is leave, join or capacity, a rep is
    changed once; leave and capacity name an active rep; join names a new id and gives the
    required rep fields (typed and in range, region and skills known); capacity gives a
    capacity > 0; at least one rep stays active.

    Returns
    -------
    pandas.DataFrame
        rep_id, change and the typed rep fields (NaN or '' when not given).

    Raises
    ------
    InputError
        One line per problem: ``<where>: row <n>: column '<col>': <value>: expected ...``.
    """
    rows = rows or [f"index {label}" for label in frame.index]
    frame = frame.reset_index(drop=True)
    problems = _column_problems(frame, where, tables)
    if problems:
        raise InputError(problems)
    out = pd.DataFrame(index=frame.index)
    found = RowProblems(frame, where, rows)
    for column in ("rep_id", "change", *(c for c in FIELDS if c in frame and c != "rep_id")):
        kind = "str" if column == "change" else FIELDS[column]
        values, wrong = convert_cells(frame[column], kind)
        found.cells(wrong, column, {"float": "a number", "id": "an id"}.get(kind, "text"))
        out[column] = values
    out["change"] = out["change"].astype(str).str.lower()
    found.cells(out["rep_id"] == "", "rep_id", "an id (the cell is empty)")
    found.cells(~out["change"].isin(CHANGES), "change", f"one of {', '.join(CHANGES)}")
    found.problems += _row_problems(out, tables, where, rows, found.cells)
    found.raise_if_any()
    staying = set(tables.active_reps["rep_id"]) - set(out.loc[out["change"] == "leave", "rep_id"])
    if not staying and not (out["change"] == "join").any():
        raise InputError([f"{where}: every active rep leaves and nobody joins"])
    return out


def _column_problems(frame: pd.DataFrame, where: str, tables: Tables) -> list[str]:
    allowed = [*FIELDS, "change", *(c for c in tables.reps.columns if c not in FIELDS)]
    problems = [
        f"{where}: missing required column '{c}'" for c in ("rep_id", "change") if c not in frame
    ]
    for column in frame.columns:
        if column not in allowed:
            close = difflib.get_close_matches(str(column), allowed, n=1, cutoff=0.8)
            hint = (
                f", did you mean '{close[0]}'?"
                if close
                else f" (expected some of {', '.join(allowed)})"
            )
            problems.append(f"{where}: column '{column}': unknown column{hint}")
    return problems


def _row_problems(
    out: pd.DataFrame, tables: Tables, where: str, rows: list[str], bad: Any
) -> list[str]:
    """Problems of rows against the reps (``bad`` records cell problems, the rest is returned)."""
    active = set(tables.active_reps["rep_id"])
    change, rep = out["change"], out["rep_id"]
    named = rep.where(rep != "")
    first = dict(zip(named[~named.duplicated()], np.array(rows)[~named.duplicated()], strict=True))
    for pos in np.flatnonzero((named.duplicated() & named.notna()).to_numpy()):
        bad(
            np.arange(len(out)) == pos, "rep_id", f"a rep changed once (first on {first[rep[pos]]})"
        )
    existing = change.isin(["leave", "capacity"]) & (rep != "")
    bad(existing & ~rep.isin(active), "rep_id", "an active rep")
    joins = change == "join"
    bad(joins & rep.isin(tables.reps["rep_id"]), "rep_id", "a new rep id (it is already a rep)")
    missing = []
    for column, kind in [(c, "join") for c in JOIN_REQUIRED] + [("capacity", "capacity")]:
        needed = joins if kind == "join" else change == "capacity"
        if column not in out:
            if needed.any():
                missing.append(f"{where}: missing column '{column}' (a '{kind}' row needs it)")
            continue
        bad(needed & blank_cells(out[column]), column, f"a value for a '{kind}' row (it is empty)")
    for column, rule in RANGES["reps"].items():
        if column in out:
            bad(rule.bad(out[column].astype(float)), column, rule.describe())
    if tables.regions is not None and "region_id" in out:
        known = out["region_id"].isin(set(tables.regions["region_id"]))
        bad(joins & (out["region_id"] != "") & ~known, "region_id", "a region of the regions table")
    if tables.products is not None and "skills" in out:
        products = set(tables.products["product_id"])
        unknown = out["skills"].map(lambda s: bool(parse_ids(s) - products))
        bad(unknown, "skills", f"product ids separated by ';' ({', '.join(sorted(products))})")
    return missing


# ---------------------------------------------------------------- applying them


def apply_changes(
    tables: Tables, owners: pd.Series, changes: pd.DataFrame, *, new_hire_ramp: float = 0.5
) -> Tables:
    """The tables after ``changes``, with the plan's owners as incumbents.

    Departing reps become inactive and their accounts lose their incumbent (and lock); joining
    reps are added (``ramp`` defaults to ``new_hire_ramp``); a capacity change sets ``capacity``
    (and ``ramp`` when given). Commitments of departing reps are dropped.
    """
    reps = tables.reps.copy()
    left = set(changes.loc[changes["change"] == "leave", "rep_id"])
    reps.loc[reps["rep_id"].isin(left), "active"] = False
    changed = changes[changes["change"] == "capacity"].set_index("rep_id")
    for column in ("capacity", "ramp"):
        if column in changed:
            new = reps["rep_id"].map(changed[column].dropna()).astype(float)
            reps[column] = new.fillna(reps[column])
    reps = pd.concat([reps, _joiners(changes, reps, new_hire_ramp)], ignore_index=True)
    accounts = tables.accounts.copy()
    incumbent = accounts["account_id"].map(owners).fillna(accounts["incumbent_rep_id"])
    incumbent = incumbent.astype(str).where(~incumbent.isin(left), "")
    accounts["incumbent_rep_id"] = incumbent
    accounts["locked"] = accounts["locked"] & (incumbent != "")
    commitments = tables.commitments
    if commitments is not None:
        commitments = commitments[~commitments["rep_id"].isin(left)].reset_index(drop=True)
    return tables.replace(reps=reps, accounts=accounts, commitments=commitments)


def _joiners(changes: pd.DataFrame, reps: pd.DataFrame, new_hire_ramp: float) -> pd.DataFrame:
    joins = changes[changes["change"] == "join"].reset_index(drop=True)
    out = pd.DataFrame(index=joins.index)
    for column in reps.columns:
        kind, default = (
            FIELDS.get(column, "str"),
            OPTIONAL_DEFAULTS["reps"].get(column, ("", ""))[1],
        )
        if column == "ramp":
            default = new_hire_ramp
        values = joins[column] if column in joins else pd.Series(np.nan, index=joins.index)
        filled = values.where(~blank_cells(values.replace("", np.nan)), default)
        out[column] = typed_cells(filled, kind) if column != "active" else True
    return out.astype(reps.dtypes.to_dict())
