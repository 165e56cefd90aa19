"""What a solver run produced, the same for every backend: status, objective, bound, gap."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["SolveReport", "Status", "relative_gap"]

log = logging.getLogger("allocator")


class Status(StrEnum):
    """Outcome of a solve, the same for every backend."""

    OPTIMAL = "optimal"  # proven optimal within the configured gap
    FEASIBLE = "feasible"  # a solution, stopped by a limit other than time
    TIME_LIMIT = "time_limit"  # stopped at the time limit (see ``has_solution``)
    TIME_LIMIT_INFEASIBLE = "time_limit_infeasible"  # out of time; best plan breaks a hard rule
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"


@dataclass(frozen=True)
class SolveReport:
    """What a solver run produced: status, objective, bound, gap, seconds, duals."""

    status: Status
    solver: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    has_solution: bool
    duals: Mapping[str, float] = field(default_factory=dict)
    message: str = ""

    @property
    def is_ok(self) -> bool:
        """True when there is a solution to read (optimal, or feasible within limits)."""
        return self.has_solution and self.status in (
            Status.OPTIMAL,
            Status.FEASIBLE,
            Status.TIME_LIMIT,
        )

    def summary(self) -> str:
        obj = "-" if self.objective is None else f"{self.objective:,.4f}"
        gap = "-" if self.gap is None else f"{100 * self.gap:.3f}%"
        return (
            f"{self.status.value} ({self.solver}): objective {obj}, gap {gap}, {self.seconds:.2f} s"
        )


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Relative gap |obj - bound| / max(1, |obj|), None when either is unknown."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(1.0, abs(objective))
