"""An elite set of GAP assignments and path relinking between them.

When the search around its best assignment stalls, a walk from somewhere else helps; the
"somewhere" that works for the GAP lies *between* good assignments: Yagiura, Ibaraki & Glover
(2006), "A path relinking approach with ejection chains for the generalized assignment
problem", European J. Operational Research 169(2):548-569, keep a small set of good, distinct
assignments (the elite) and start each new walk from a point on the path between two of
them: the jobs where they agree stay, a share of the jobs where they differ take the guiding
assignment's agent. Such a point may overload agents; the penalised tabu walk
(:mod:`allocator.territory.gap_tabu`) repairs it on its way.

:func:`crossover` combines two members exactly instead: the jobs where they agree stay, and
the others are re-solved as a sub-GAP in the room left (HiGHS from arrays), as in Rothberg
(2007), "An evolutionary algorithm for polishing mixed integer programming solutions",
INFORMS J. Computing 19(4):534-541.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from allocator.territory.gap_local import GapArrays, complete

__all__ = ["Elite", "crossover"]

IntArray = npt.NDArray[np.int64]

#: Assignments kept in the elite set.
SIZE = 12
#: Share of the differing jobs that take the guiding assignment's agent, (low, high).
STEP = (0.3, 0.7)


@dataclass
class Elite:
    """The best distinct assignments seen (at most :data:`SIZE`), each with its cost."""

    members: list[tuple[float, IntArray]] = field(default_factory=list)

    def add(self, value: float, assign: IntArray) -> bool:
        """Keep a copy of ``assign`` (jobs,) of cost ``value`` when it is new and good enough;
        whether it was kept."""
        if any(np.array_equal(assign, other) for _, other in self.members):
            return False
        kept = assign.copy()
        self.members.append((value, kept))
        self.members.sort(key=lambda member: member[0])
        del self.members[SIZE:]
        return any(other is kept for _, other in self.members)

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


def crossover(
    arrays: GapArrays, elite: Elite, rng: np.random.Generator, limit: float
) -> IntArray | None:
    """Two random members' agreement kept and the rest re-solved exactly within ``limit``
    seconds: an assignment (jobs,), feasible, or None (fewer than two members, or nothing
    found in time). Not cut off: the answer may cost more than both parents."""
    if len(elite.members) < 2:
        return None
    first, second = rng.choice(len(elite.members), 2, replace=False)
    base, other = elite.members[first][1], elite.members[second][1]
    partial = np.where(base == other, base, -1)
    return complete(
        arrays.cost,
        arrays.weight,
        arrays.capacity,
        partial,
        limit=limit,
        seed=int(rng.integers(2**31)),
    )
