"""The run's time budget: one absolute deadline that every solver call draws from.

``solver.time_limit`` bounds a whole run (pricing, cut rounds, the MIP, polish, target and quotas),
not each solver call. The run's entry point turns it into a ``deadline``: an absolute
:func:`time.monotonic` value (``None`` = no limit), passed down to every stage. Each solver call
gets :func:`call_limit`: what is left, minus a safety margin for the solver's overrun.

HiGHS checks its ``time_limit`` between units of work, so a call may run past it (presolve, a
root cut round, the final clean-up). :data:`OVERRUNS` records each call's overrun (seconds run
beyond the limit it was given); the margin is the largest overrun seen in this process (at least
:data:`MIN_MARGIN`, at most :data:`MAX_MARGIN_SHARE` of what is left), so a solver that overran
once gets proportionally less time the next time, and the run's overrun stays bounded by one
call's overrun beyond its margin.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "MAX_MARGIN_SHARE",
    "MIN_MARGIN",
    "OVERRUNS",
    "Overruns",
    "call_limit",
    "current_deadline",
    "deadline_after",
    "expired",
    "resolve_deadline",
    "run_deadline",
    "time_left",
]

#: Smallest safety margin (seconds) kept back from each solver call.
MIN_MARGIN = 0.25

#: Largest share of the time left that the margin may take.
MAX_MARGIN_SHARE = 0.2


def deadline_after(seconds: float | None) -> float | None:
    """The deadline ``seconds`` from now (``time.monotonic()`` based), None for no limit."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return time.monotonic() + max(seconds, 0.0)


_RUN: ContextVar[float | None] = ContextVar("allocator_run_deadline", default=None)


@contextmanager
def run_deadline(deadline: float | None) -> Iterator[float | None]:
    """Make ``deadline`` the run's deadline inside the block (it nests; the earlier one wins).

    Stages that are not handed a ``deadline`` explicitly (the target and quota LPs, the expense
    LP) take this one, so one ``solver.time_limit`` bounds the whole run.
    """
    outer = _RUN.get()
    if outer is not None and (deadline is None or outer < deadline):
        deadline = outer
    token = _RUN.set(deadline)
    try:
        yield deadline
    finally:
        _RUN.reset(token)


def current_deadline() -> float | None:
    """The deadline of the run in progress (:func:`run_deadline`), None outside a run."""
    return _RUN.get()


def resolve_deadline(deadline: float | None, seconds: float) -> float:
    """``deadline`` when given, else the run's, else ``seconds`` from now."""
    if deadline is not None:
        return deadline
    run = _RUN.get()
    return run if run is not None else time.monotonic() + seconds


def time_left(deadline: float | None) -> float:
    """Seconds until ``deadline`` (never negative); infinity without a deadline."""
    if deadline is None:
        return math.inf
    return max(0.0, deadline - time.monotonic())


def expired(deadline: float | None) -> bool:
    """True when the deadline has passed."""
    return deadline is not None and time.monotonic() >= deadline


@dataclass
class Overruns:
    """Overruns of solver calls past their time limit, in seconds (thread-safe)."""

    calls: int = 0
    overran: int = 0
    worst: float = 0.0
    total: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def record(self, limit: float, seconds: float) -> float:
        """Record one call that was given ``limit`` s and ran ``seconds``; return its overrun."""
        over = max(0.0, seconds - limit)
        with self._lock:
            self.calls += 1
            if over > 0:
                self.overran += 1
                self.total += over
                self.worst = max(self.worst, over)
        return over

    def margin(self, left: float) -> float:
        """The safety margin for a call when ``left`` seconds remain."""
        wanted = max(MIN_MARGIN, self.worst)
        return min(wanted, MAX_MARGIN_SHARE * left)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {
                "calls": self.calls,
                "overran": self.overran,
                "worst_s": round(self.worst, 3),
                "total_s": round(self.total, 3),
            }


#: The overruns seen in this process.
OVERRUNS = Overruns()


def call_limit(deadline: float | None, cap: float | None = None) -> float:
    """The time limit of one solver call: what is left minus the margin, at most ``cap``.

    Infinity when there is neither a deadline nor a cap; 0 when the deadline has passed.
    """
    left = time_left(deadline)
    limit = left - OVERRUNS.margin(left) if math.isfinite(left) else left
    if cap is not None:
        limit = min(limit, cap)
    return max(0.0, limit)
