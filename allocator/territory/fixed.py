"""The problem over some items with every other item fixed (the repair's MIP windows).

:func:`fix_items` turns an :class:`~allocator.territory.core.ArcProblem` and a complete
assignment into the problem over the ``free`` items only: each row's right-hand side less the
fixed items' activity in it (a rep's ``capacity`` less the workload of the accounts it keeps,
``max_moved`` less the moves already made, a deviation row's target less the potential kept).
A plan of the free items meets a row of the sub-problem exactly when, with the fixed items
added back, it meets the row of the whole problem. The (items, reps) data stays lazy on the
sparse path: a view that maps the sub-problem's items to the whole problem's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from allocator.territory.core import ArcProblem
from allocator.territory.pairs import Pairs, at

__all__ = ["fix_items", "to_part", "to_whole"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _on_items(values: Any, items: IntArray, n: int) -> Any:
    """``values`` (broadcastable to (n, reps), or lazy) on the rows ``items`` only."""
    if isinstance(values, Pairs):
        fn = values.fn

        def part(rows: Any, cols: Any, outer: bool) -> Any:
            return fn(items[rows], cols, outer)

        return Pairs((len(items), values.shape[1]), part, values.dtype)
    a = np.asarray(values)
    return a[items] if a.ndim == 2 and a.shape[0] == n and n > 1 else values


def fix_items(problem: ArcProblem, free: BoolArray, assign: IntArray) -> ArcProblem:
    """The problem over the items where ``free`` (n,), the others fixed at ``assign`` (rep per
    item, n): rows per rep and single rows keep their names, right-hand sides less the fixed
    items' activity; the objective terms are the problem's. Arc ids of the result are
    ``position * reps + rep``, position in ``np.flatnonzero(free)`` (:func:`to_part` and
    :func:`to_whole` map arc ids there and back).

    Raises
    ------
    ValueError
        A row family per item (its rows would need renumbering), or contiguity.
    """
    n, m = problem.shape
    if problem.contiguity is not None or any(f.axis == "item" for f in problem.families):
        raise ValueError(f"{problem.name}: rows that fixing items cannot keep")
    items = np.flatnonzero(free)
    kept = np.flatnonzero(~free)
    views: dict[int, Any] = {}  # one view per array: the balance band folds by identity

    def view(values: Any) -> Any:
        return views.setdefault(id(values), _on_items(values, items, n))

    families = []
    for family in problem.families:
        coef = np.asarray(at(family.coef, (n, m), kept, assign[kept]), float)
        if family.axis == "rep":
            done = np.bincount(assign[kept], weights=coef, minlength=m)
        else:
            done = np.array([coef.sum()])
        rhs = np.asarray(family.rhs, float) - done
        families.append(replace(family, coef=view(family.coef), rhs=rhs))
    return replace(
        problem,
        items=tuple(problem.items[i] for i in items.tolist()),
        eligible=view(problem.eligible),
        terms={k: view(v) for k, v in problem.terms.items()},
        families=tuple(families),
        rank=view(problem.rank),
        keep=view(problem.keep),
        near=None,
        relax={},
    )


def to_part(arcs: IntArray, free: BoolArray, m: int) -> IntArray:
    """Arc ids of the whole problem (of free items only) as ids of :func:`fix_items`'s problem."""
    position = np.cumsum(free) - 1
    return (position[arcs // m] * m + arcs % m).astype(np.int64)


def to_whole(arcs: IntArray, free: BoolArray, m: int) -> IntArray:
    """Arc ids of :func:`fix_items`'s problem as ids of the whole problem."""
    items = np.flatnonzero(free)
    return (items[arcs // m] * m + arcs % m).astype(np.int64)
