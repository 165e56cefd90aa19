"""An elite set of GAP assignments and path relinking between them.

When the search around its best assignment stalls, a walk from somewhere else helps; the
"somewhere" that works for the GAP lies *between* good assignments: Yagiura, Ibaraki & Glover
(2006), "A path relinking approach with ejection chains for the generalized assignment
problem", European J. Operational Research 169(2):548-569, keep a small set of good, distinct
assignments (the elite) and start each new walk from a point on the path between two of
them: the jobs where they agree stay, a share of the jobs where they differ take the guiding
assignment's agent. Such a point may overload agents; the penalised tabu walk
(:mod:`allocator.territory.gap_tabu`) repairs it on its way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["Elite"]

IntArray = npt.NDArray[np.int64]

#: Assignments kept in the elite set.
SIZE = 8
#: Share of the differing jobs that take the guiding assignment's agent, (low, high).
STEP = (0.3, 0.7)


@dataclass
class Elite:
    """The best distinct assignments seen (at most :data:`SIZE`), each with its cost."""

    members: list[tuple[float, IntArray]] = field(default_factory=list)

    def add(self, value: float, assign: IntArray) -> None:
        """Keep a copy of ``assign`` (jobs,) of cost ``value`` when it is new and good enough."""
        if any(np.array_equal(assign, other) for _, other in self.members):
            return
        self.members.append((value, assign.copy()))
        self.members.sort(key=lambda member: member[0])
        del self.members[SIZE:]

    def relink(self, base: IntArray, rng: np.random.Generator) -> IntArray | None:
        """A point between ``base`` and a random other member: None when there is no other.

        A random share in :data:`STEP` of the jobs where the two differ takes the other
        member's agent; the answer (jobs,) may overload agents.
        """
        others = [a for _, a in self.members if not np.array_equal(a, base)]
        if not others:
            return None
        guide = others[int(rng.integers(len(others)))]
        differ = np.flatnonzero(guide != base)
        take = rng.random(len(differ)) < rng.uniform(*STEP)
        point = base.copy()
        point[differ[take]] = guide[differ[take]]
        return point
