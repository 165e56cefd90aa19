"""The progress line of a sweep on stderr: variants done, running and failed, and time left.

On a terminal the line is rewritten in place (carriage return); elsewhere (a log file, CI) one
line is written per finished variant. No dependency: a sweep finishes a few variants a minute,
so a line rewriter is all it takes.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["FAILED", "Progress", "format_seconds"]

#: Weight of the per-variant budget in the pace, in finished variants.
PRIOR_VARIANTS = 2

#: Statuses that count as failed.
FAILED = ("infeasible", "time_limit_infeasible", "error")


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Counts finished variants and shows them; ``update(None)`` only refreshes the line.

    Parameters
    ----------
    total
        Variants in the sweep, resumed ones included.
    slots
        Variants that run at once (workers); "running" is ``min(slots, not yet finished)``.
    resumed
        Variants taken from an earlier run: done, and left out of the time estimate.
    stream
        Where to write (standard error when None).
    enabled
        False writes nothing.
    budget
        Seconds a variant may take (its ``solver.time_limit``); steadies the estimate.
    """

    def __init__(
        self,
        total: int,
        *,
        slots: int = 1,
        resumed: int = 0,
        stream: TextIO | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        budget: float | None = None,
    ) -> None:
        self.total, self.slots, self.resumed = total, max(1, slots), resumed
        self.budget = budget
        self.done, self.failed = resumed, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.clock = clock
        self.start = clock()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_draw = float("-inf")

    @property
    def running(self) -> int:
        return min(self.slots, self.total - self.done)

    def seconds_left(self) -> float | None:
        """Time left at the pace of the variants solved in this run.

        With a per-variant ``budget`` the pace starts at the budget (a variant never takes much
        longer: its ``solver.time_limit`` bounds its whole run) and moves towards the measured
        pace as variants finish, weighted as :data:`PRIOR_VARIANTS` finished variants: one
        quick first variant does not make the estimate collapse, nor a slow one jump. Without
        a budget: the measured pace (None before the first variant).
        """
        solved = self.done - self.resumed
        left = self.total - self.done
        if solved <= 0 and self.budget is None:
            return None
        if solved <= 0:
            assert self.budget is not None
            return math.ceil(left / self.slots) * self.budget
        pace = (self.clock() - self.start) * min(self.slots, self.total - self.resumed) / solved
        if self.budget is not None:
            pace = (solved * pace + PRIOR_VARIANTS * self.budget) / (solved + PRIOR_VARIANTS)
        return pace * left / min(self.slots, self.total - self.resumed)

    def line(self) -> str:
        resumed = f" ({self.resumed} resumed)" if self.resumed else ""
        left = self.seconds_left()
        eta = "time left unknown" if left is None else f"about {format_seconds(left)} left"
        if self.done == self.total:
            eta = f"took {format_seconds(self.clock() - self.start)}"
        return (
            f"sweep: {self.done}/{self.total} done{resumed}, {self.running} running, "
            f"{self.failed} failed, {eta}"
        )

    def update(self, row: dict[str, Any] | None = None, *, variant_id: str = "") -> None:
        """Count a finished variant (``row``), or only refresh the line when ``row`` is None."""
        if row is not None:
            self.done += 1
            self.failed += row.get("status") in FAILED
        if not self.enabled:
            return
        if self._tty:
            now = self.clock()
            if row is not None or now - self._last_draw >= 1.0:
                self._last_draw = now
                self.stream.write(f"\r{self.line()}\x1b[K")
                self.stream.flush()
        elif row is not None:
            self.stream.write(f"{self.line()} [{variant_id}: {row.get('status')}]\n")
            self.stream.flush()

    def close(self) -> None:
        """End the line (terminal) and write the final count."""
        if not self.enabled:
            return
        self.stream.write(f"\r{self.line()}\x1b[K\n" if self._tty else f"{self.line()}\n")
        self.stream.flush()
