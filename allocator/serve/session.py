"""The plan under edit: owners, locks, who changed what and why, with undo and redo.

A :class:`Session` holds a list of frozen :class:`State` values and a cursor. Every change
(a move, a lock, an unlock, an accepted re-optimisation) appends a new state and bumps
:attr:`Session.version`; undo and redo move the cursor. A request names the version its page
showed: a request made on an older version is refused (:class:`StaleError`) rather than
applied to a plan the planner has not seen.

Locks: an account *locked in the data* (``accounts.locked`` with an incumbent) cannot be moved
until the planner unlocks it. An account the planner moves is pinned to its new rep (the
re-optimiser keeps it there); the planner may unlock it again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import pandas as pd

from allocator.exceptions import AllocatorError

__all__ = ["Note", "ServeError", "Session", "StaleError", "State", "UnknownIdError"]


class ServeError(AllocatorError, ValueError):
    """A request the server cannot honour; the message is shown in the page (HTTP 400)."""

    status = 400


class UnknownIdError(ServeError):
    """A request names an account or a rep the plan does not have (HTTP 404)."""

    status = 404


class StaleError(ServeError):
    """A request made on a version of the plan that is no longer current (HTTP 409)."""

    status = 409


@dataclass(frozen=True)
class Note:
    """Who made the last edit of an account and why (the comment box), for overrides.csv."""

    who: str = ""
    why: str = ""


@dataclass(frozen=True)
class State:
    """One version of the plan under edit.

    ``owners``: account_id -> rep_id for every active account. ``pinned``: accounts the planner
    moved or locked (kept where they are by a re-optimisation). ``unlocked``: accounts locked in
    the data whose lock the planner lifted. ``notes``: the last note per edited account.
    ``label`` says what made this state (shown in the undo history).
    """

    owners: pd.Series
    pinned: frozenset[str] = frozenset()
    unlocked: frozenset[str] = frozenset()
    notes: Mapping[str, Note] = field(default_factory=dict)
    label: str = "opened"


class Session:
    """States of one plan under edit; thread-safe (the server handles requests concurrently)."""

    def __init__(
        self, owners: pd.Series, *, reps: Iterable[str], data_locked: Iterable[str] = ()
    ) -> None:
        self._states = [State(owners.astype(str).copy())]
        self._cursor = 0
        self.version = 0
        self.reps = frozenset(reps)
        self.data_locked = frozenset(data_locked)
        self._lock = threading.RLock()

    # ------------------------------------------------------------ reading

    @property
    def state(self) -> State:
        return self._states[self._cursor]

    @property
    def base(self) -> State:
        """The plan as it was opened."""
        return self._states[0]

    @property
    def can_undo(self) -> bool:
        return self._cursor > 0

    @property
    def can_redo(self) -> bool:
        return self._cursor < len(self._states) - 1

    def history(self) -> list[str]:
        """Labels of the states up to the current one, oldest first."""
        return [s.label for s in self._states[: self._cursor + 1]]

    def locked(self, state: State | None = None) -> frozenset[str]:
        """Accounts locked now: pinned by the planner, or locked in the data and not lifted."""
        state = state or self.state
        return state.pinned | (self.data_locked - state.unlocked)

    def edited(self, state: State | None = None) -> pd.Index:
        """Accounts whose owner, pin or lock differs from the opened plan."""
        state = state or self.state
        moved = state.owners.index[state.owners != self.base.owners]
        touched = set(moved) | set(state.pinned) | set(state.unlocked)
        return pd.Index(sorted(touched), name="account_id")

    # ------------------------------------------------------------ changing

    def check_version(self, version: int | None) -> None:
        """Raise :class:`StaleError` when ``version`` is not the current one."""
        if version is not None and int(version) != self.version:
            raise StaleError(
                f"this page showed version {version} of the plan but it is now at version "
                f"{self.version} (an edit, an undo or an accepted re-optimisation happened "
                "since); the page has been refreshed: check the plan and make the edit again"
            )

    def move(self, accounts: list[str], rep: str, note: Note, *, version: int | None) -> State:
        """Give ``accounts`` to ``rep`` and pin them there.

        Raises
        ------
        UnknownIdError
            An account or the rep is not in the plan.
        ServeError
            An account is locked in the data (unlock it first), or nothing to move.
        StaleError
            ``version`` is not the current version.
        """
        with self._lock:
            self.check_version(version)
            ids = self._known(accounts)
            if rep not in self.reps:
                raise UnknownIdError(f"unknown rep '{rep}': not an active rep of this plan")
            held = sorted(set(ids) & (self.data_locked - self.state.unlocked))
            if held:
                raise ServeError(
                    f"{_listed(held)} locked in the data (they stay with their incumbent): "
                    "unlock them first"
                )
            owners = self.state.owners.copy()
            owners.loc[ids] = rep
            label = f"gave {_count(ids)} to {rep}"
            return self._push(owners, self.state.pinned | set(ids), None, ids, note, label)

    def lock(self, accounts: list[str], note: Note, *, version: int | None) -> State:
        """Pin ``accounts`` to their current reps (or restore a lock of the data)."""
        with self._lock:
            self.check_version(version)
            ids = self._known(accounts)
            from_data = set(ids) & self.data_locked
            pinned = self.state.pinned | (set(ids) - from_data)
            unlocked = self.state.unlocked - from_data
            label = f"locked {_count(ids)}"
            return self._push(self.state.owners, pinned, unlocked, ids, note, label)

    def unlock(self, accounts: list[str], note: Note, *, version: int | None) -> State:
        """Free ``accounts``: drop the planner's pin, lift a lock of the data."""
        with self._lock:
            self.check_version(version)
            ids = self._known(accounts)
            pinned = self.state.pinned - set(ids)
            unlocked = self.state.unlocked | (set(ids) & self.data_locked)
            label = f"unlocked {_count(ids)}"
            return self._push(self.state.owners, pinned, unlocked, ids, note, label)

    def adopt(self, owners: pd.Series, label: str, *, version: int | None) -> State:
        """Take a whole new set of owners (an accepted re-optimisation); pins stay."""
        with self._lock:
            self.check_version(version)
            if not owners.index.equals(self.state.owners.index):
                owners = owners.reindex(self.state.owners.index)
            if owners.isna().any():
                raise ServeError("the re-optimised plan does not cover every account")
            changed = list(owners.index[owners != self.state.owners])
            note = Note(why="accepted re-optimisation around the edits")
            return self._push(owners.astype(str), None, None, changed, note, label)

    def undo(self, *, version: int | None) -> State:
        with self._lock:
            self.check_version(version)
            if not self.can_undo:
                raise ServeError("nothing to undo")
            self._cursor -= 1
            self.version += 1
            return self.state

    def redo(self, *, version: int | None) -> State:
        with self._lock:
            self.check_version(version)
            if not self.can_redo:
                raise ServeError("nothing to redo")
            self._cursor += 1
            self.version += 1
            return self.state

    # ------------------------------------------------------------ helpers

    def _known(self, accounts: list[str]) -> list[str]:
        ids = list(dict.fromkeys(str(a) for a in accounts))
        if not ids:
            raise ServeError("select at least one account first (click, lasso or a region)")
        unknown = [a for a in ids if a not in self.state.owners.index]
        if unknown:
            raise UnknownIdError(f"unknown account id(s): {_listed(unknown)}: not in this plan")
        return ids

    def _push(
        self,
        owners: pd.Series,
        pinned: Iterable[str] | None,
        unlocked: Iterable[str] | None,
        touched: Iterable[str],
        note: Note,
        label: str,
    ) -> State:
        notes = dict(self.state.notes)
        if note.who or note.why:
            notes.update(dict.fromkeys(touched, note))
        new = replace(
            self.state,
            owners=owners,
            pinned=frozenset(self.state.pinned if pinned is None else pinned),
            unlocked=frozenset(self.state.unlocked if unlocked is None else unlocked),
            notes=notes,
            label=label,
        )
        del self._states[self._cursor + 1 :]
        self._states.append(new)
        self._cursor += 1
        self.version += 1
        return new


def _count(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else f"{len(ids)} accounts"


def _listed(ids: list[str], shown: int = 5) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more
