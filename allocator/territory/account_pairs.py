"""The account-level (accounts x reps) data of a territory, dense or computed on demand.

Distances, experience, skills, locks and moves of every (account, rep) pair. Up to
:data:`allocator.territory.pairs.SPARSE_FROM` pairs they are numpy arrays (as always); above,
at account level without contiguity, they are :class:`~allocator.territory.pairs.Pairs`
computed from per-account and per-rep vectors (great-circle distance on the fly), so a
250,000 x 2,000 territory holds no (accounts, reps) array (``models/assignment.md``, "The sparse
path").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from allocator.geography.distance import distance_matrix, haversine_km
from allocator.io.settings import AssignmentSettings
from allocator.io.tables import parse_ids
from allocator.territory import pairs
from allocator.territory.pairs import is_lazy, outer

if TYPE_CHECKING:
    from allocator.territory.build import Territory

__all__ = ["distances", "everyone", "experience_ok", "lock_ok", "moves", "skills_ok", "sparse"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def sparse(settings: AssignmentSettings, accounts: int, reps: int) -> bool:
    """Whether the (accounts, reps) arrays are :class:`~allocator.territory.pairs.Pairs`:
    account level, no contiguity, more than ``pairs.SPARSE_FROM`` pairs."""
    plain = settings.level != "region" and settings.constraints.contiguity is None
    return plain and accounts * reps > pairs.SPARSE_FROM


def distances(accounts: pd.DataFrame, reps: pd.DataFrame, *, lazy: bool) -> FloatArray:
    """Great-circle km (accounts, reps) from their ``lat``/``lon`` (degrees); lazy: a
    :class:`~allocator.territory.pairs.Pairs` that keeps its last block (read-only)."""
    lat, lon = accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float)
    rep_lat, rep_lon = reps["lat"].to_numpy(float), reps["lon"].to_numpy(float)
    if not lazy:
        return distance_matrix(lat, lon, rep_lat, rep_lon)
    shape = (len(lat), len(rep_lat))
    return outer(haversine_km, shape, (lat, lon), (rep_lat, rep_lon), memo=True)  # type: ignore[return-value]


def lock_rule(locked: BoolArray, incumbent: IntArray, rep: IntArray) -> BoolArray:
    """Whether a rep may serve an account under its lock (broadcasting arrays)."""
    return ~locked | (rep == incumbent)


def everyone(shape: tuple[int, int], *, lazy: bool) -> BoolArray:
    """All-true (accounts, reps) mask (no rule)."""
    if not lazy:
        return np.ones(shape, bool)
    return outer(np.greater_equal, shape, (np.zeros(shape[0]),), (np.zeros(shape[1]),), bool)  # type: ignore[return-value]


def experience_ok(
    accounts: pd.DataFrame, reps: pd.DataFrame, rule: dict[str, float] | None, *, lazy: bool
) -> BoolArray:
    """Whether each rep's experience (years) meets the account's segment minimum ``rule``."""
    shape = (len(accounts), len(reps))
    if not rule:
        return everyone(shape, lazy=lazy)
    need = accounts["segment"].map(rule).fillna(0.0).to_numpy(float)
    have = reps["experience"].to_numpy(float)
    if lazy:
        return outer(np.less_equal, shape, (need,), (have,), bool)  # type: ignore[return-value]
    return have[None, :] >= need[:, None]


def skills_ok(accounts: pd.DataFrame, reps: pd.DataFrame, *, lazy: bool) -> BoolArray:
    """Whether each rep has all of each account's ``required_skills`` (``;``-separated ids);
    lazy: one row per distinct requirement, looked up per account."""
    rep_skills = [parse_ids(s) for s in reps["skills"]]
    required = [parse_ids(s) for s in accounts["required_skills"]]
    if lazy:
        kinds = {req: k for k, req in enumerate(dict.fromkeys(required))}
        table = np.array([[req <= have for have in rep_skills] for req in kinds], bool)
        group = np.array([kinds[req] for req in required], np.int64)
        shape = (len(accounts), len(reps))
        return outer(_lookup(table), shape, (group,), (np.arange(len(reps)),), bool)  # type: ignore[return-value]
    rows = {req: np.array([req <= have for have in rep_skills], bool) for req in set(required)}
    return np.array([rows[req] for req in required], bool).reshape(len(accounts), len(reps))


def _lookup(table: BoolArray):
    """``table[group, rep]``: rows first then columns for a block (a cheaper gather)."""

    def look(group: IntArray, rep: IntArray) -> BoolArray:
        if group.ndim == 2:  # a block: (rows, 1) x (1, reps)
            return table[group[:, 0]][:, rep[0]]
        return table[group, rep]

    return look


def moves(t: Territory) -> tuple[FloatArray, BoolArray]:
    """Account-level (moved, keep): 1.0 where the rep is not the account's incumbent (when it
    has one), and True at the incumbent's arc."""
    n_acc, m = t.km.shape
    reps = np.arange(m)
    if is_lazy(t.km):
        args = (t.has_incumbent, t.incumbent)
        moved = outer(lambda h, inc, r: (h & (r != inc)).astype(float), t.km.shape, args, (reps,))
        keep = outer(np.equal, t.km.shape, (t.incumbent,), (reps,), bool)
        return moved, keep  # type: ignore[return-value]
    moves = t.has_incumbent[:, None] & (reps[None, :] != t.incumbent[:, None])
    keep = np.zeros((n_acc, m), bool)
    keep[np.flatnonzero(t.incumbent >= 0), t.incumbent[t.incumbent >= 0]] = True
    return moves.astype(float), keep


def lock_ok(
    locked: BoolArray, incumbent: IntArray, shape: tuple[int, int], *, lazy: bool
) -> BoolArray:
    """True where the account is not locked, or the rep is its (locked) incumbent."""
    if not lazy:
        ok = np.ones(shape, bool)
        ok[locked] = False
        rows = np.flatnonzero(locked & (incumbent >= 0))
        ok[rows, incumbent[rows]] = True
        return ok
    return outer(lock_rule, shape, (locked, incumbent), (np.arange(shape[1]),), bool)  # type: ignore[return-value]
