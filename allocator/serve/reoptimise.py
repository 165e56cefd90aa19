"""Re-optimise around the planner's edits, in the background, and show the result as a diff.

:func:`pinned_tables` turns the session's locks into the input contract the territory model
already honours: a pinned account gets its current rep as incumbent and ``locked: true``; a
lock of the data the planner lifted becomes ``locked: false``. :class:`Reoptimisation` runs
:func:`~allocator.territory.assignment.solve_assignment` on them in a worker thread (one solver
thread), records the ``allocator`` log lines as progress, and keeps the proposed owners until
the planner accepts or discards them. The solution passes the independent checker inside
``solve_assignment`` like any solve.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from allocator.exceptions import AllocatorError, InfeasibleError
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.io.tables import Tables
from allocator.territory.assignment import solve_assignment

__all__ = ["Reoptimisation", "diff_owners", "pinned_tables"]

log = logging.getLogger("allocator")


def pinned_tables(
    tables: Tables, owners: pd.Series, pinned: frozenset[str], unlocked: frozenset[str]
) -> Tables:
    """``tables`` whose accounts in ``pinned`` are locked to ``owners`` and ``unlocked`` freed."""
    accounts = tables.accounts
    ids = accounts["account_id"]
    pin = ids.isin(pinned).to_numpy()
    free = ids.isin(unlocked).to_numpy() & ~pin
    changed = accounts.copy()
    changed.loc[pin, "incumbent_rep_id"] = ids[pin].map(owners).to_numpy()
    changed.loc[pin, "locked"] = True
    changed.loc[free, "locked"] = False
    return tables.replace(accounts=changed)


def diff_owners(before: pd.Series, after: pd.Series, potential: pd.Series) -> pd.DataFrame:
    """Accounts whose owner differs: account_id, from_rep, to_rep, potential (largest first)."""
    after = after.reindex(before.index)
    moved = before.index[before != after]
    frame = pd.DataFrame(
        {
            "account_id": moved,
            "from_rep": before[moved].to_numpy(),
            "to_rep": after[moved].to_numpy(),
            "potential": potential.reindex(moved).to_numpy(float),
        }
    )
    return frame.sort_values(
        ["potential", "account_id"], ascending=[False, True], ignore_index=True
    )


class _Progress(logging.Handler):
    def __init__(self, sink: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.sink(record.getMessage().splitlines()[0][:200])


@dataclass
class Reoptimisation:
    """One background re-solve; read :attr:`state` (running, done, failed) and :attr:`lines`.

    ``version`` is the session version it started from: accepting it later than that is stale.
    """

    version: int
    time_limit: float
    started: float = field(default_factory=time.monotonic)
    state: str = "running"
    lines: list[str] = field(default_factory=list)
    owners: pd.Series | None = None
    error: str = ""
    seconds: float = 0.0
    _thread: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        tables: Tables,
        settings: AssignmentSettings,
        solver: SolverSettings,
        *,
        version: int,
    ) -> Reoptimisation:
        """Start solving in a daemon thread and return at once."""
        solver = solver.model_copy(update={"threads": 1})
        job = cls(version=version, time_limit=solver.time_limit)
        job._thread = threading.Thread(
            target=job._run, args=(tables, settings, solver), name="reoptimise", daemon=True
        )
        job._thread.start()
        return job

    @property
    def elapsed(self) -> float:
        return self.seconds if self.state != "running" else time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, tables: Tables, settings: AssignmentSettings, solver: SolverSettings) -> None:
        handler = _Progress(self.lines.append)
        log.addHandler(handler)
        previous = log.level
        if log.getEffectiveLevel() > logging.INFO:
            log.setLevel(logging.INFO)
        self.lines.append("building the territory model with the edited accounts locked")
        try:
            result = solve_assignment(tables, settings, solver)
            self.owners = result.assignments.set_index("account_id")["rep_id"].astype(str)
            self.lines.append(result.report.summary())
            self.state = "done"
        except InfeasibleError as exc:
            diagnosis = "; ".join(getattr(exc, "diagnosis", ()) or ())
            self.error = f"no plan keeps these edits: {exc}" + (
                f" ({diagnosis})" if diagnosis else ""
            )
            self.state = "failed"
        except AllocatorError as exc:
            self.error = f"the re-optimisation failed: {exc}"
            self.state = "failed"
        except Exception as exc:  # a bug: say so in the page, keep the server up
            log.exception("re-optimisation crashed")
            self.error = f"internal error in the re-optimisation ({type(exc).__name__}: {exc})"
            self.state = "failed"
        finally:
            self.seconds = time.monotonic() - self.started
            log.removeHandler(handler)
            log.setLevel(previous)
