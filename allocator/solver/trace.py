"""The solution trace of a run: every incumbent and bound with the seconds since the run began.

A run (``allocator solve``, a benchmark case, ``solve_gap``) opens a trace with
:func:`run_trace`; every stage that finds a solution reports it with :func:`note`: the
heuristic start, each improving MIP solution (HiGHS's ``kCallbackMipImprovingSolution``), a
local-search or large-neighbourhood improvement. Outside a trace :func:`note` does nothing, so
library code may always call it. The points go to ``metrics.json`` and the benchmark CSV, so
time-to-quality can be compared between methods (issue 19).

Objectives are in the model's own sense and units (the number the solver reports); the
trace does not filter: the reader keeps the running best.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = [
    "Trace",
    "TracePoint",
    "current_trace",
    "note",
    "run_trace",
    "solver_source",
    "traced_as",
]


@dataclass(frozen=True)
class TracePoint:
    """One incumbent: seconds since the trace began, objective, bound at that time, source."""

    seconds: float
    objective: float | None
    bound: float | None
    source: str

    def as_dict(self) -> dict[str, float | str | None]:
        """A JSON-able dict (seconds rounded to ms)."""
        return {
            "seconds": round(self.seconds, 3),
            "objective": self.objective,
            "bound": self.bound,
            "source": self.source,
        }


@dataclass
class Trace:
    """The points of one run, in the order they were noted (thread-safe appends)."""

    started: float = field(default_factory=time.perf_counter)
    points: list[TracePoint] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, objective: float | None, bound: float | None = None, source: str = "") -> None:
        """Record a solution found now."""
        point = TracePoint(time.perf_counter() - self.started, objective, bound, source)
        with self._lock:
            self.points.append(point)

    def as_list(self) -> list[dict[str, float | str | None]]:
        """The points as JSON-able dicts."""
        with self._lock:
            return [p.as_dict() for p in self.points]


_TRACE: ContextVar[Trace | None] = ContextVar("allocator_trace", default=None)


@contextmanager
def run_trace(trace: Trace | None = None) -> Iterator[Trace]:
    """Collect the points noted inside the block into ``trace`` (a new one by default).

    Nested blocks reuse the outer trace, so a run's points stay in one list.
    """
    outer = _TRACE.get()
    if outer is not None:
        yield outer
        return
    trace = trace or Trace()
    token = _TRACE.set(trace)
    try:
        yield trace
    finally:
        _TRACE.reset(token)


def current_trace() -> Trace | None:
    """The trace of the current run, or None outside :func:`run_trace`."""
    return _TRACE.get()


#: How solver callbacks label what they note: (source, whether the solver's bound is valid for
#: the run's whole problem), or None when the MIP being solved is not the run's problem at all.
_SOURCE: ContextVar[tuple[str, bool] | None] = ContextVar(
    "allocator_trace_source", default=("", True)
)


@contextmanager
def traced_as(source: str | None, *, bound: bool = True) -> Iterator[None]:
    """Label the solver incumbents noted inside the block.

    ``source`` names them in the trace (``"neighbourhood"``); None keeps them out of the trace
    (a diagnosis or a sub-problem whose objective is not the run's). ``bound=False`` drops the
    solver's bound from the points (a restricted model's bound is not valid for the whole
    problem).
    """
    token = _SOURCE.set(None if source is None else (source, bound))
    try:
        yield
    finally:
        _SOURCE.reset(token)


def solver_source(backend: str) -> tuple[str, bool] | None:
    """(source label, keep the bound) for a solver's incumbents here, or None to skip them.

    The label is ``backend`` unless a :func:`traced_as` block set another one.
    """
    label = _SOURCE.get()
    if label is None:
        return None
    source, bound = label
    return (source or backend), bound


def note(objective: float | None, bound: float | None = None, source: str = "") -> None:
    """Record an incumbent in the current run's trace (nothing outside a trace)."""
    trace = _TRACE.get()
    if trace is not None:
        trace.note(objective, bound, source)
