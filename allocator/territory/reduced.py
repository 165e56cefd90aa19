"""Reduced costs of the arcs at given row duals, dense or block by block (``models/assignment.md``).

:func:`reduced_costs` is ``c - u_i - sum over rows of dual x coefficient`` for every arc; on the
sparse path (:mod:`allocator.territory.pairs`) it returns a lazy (items, reps) array whose
blocks are computed when asked for, so no (items, reps) array is ever stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from allocator.territory.pairs import Pairs, at, rows_of

if TYPE_CHECKING:
    from allocator.territory.core import ArcProblem

__all__ = ["reduced_costs"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def reduced_costs(
    problem: ArcProblem,
    duals: Mapping[str, float],
    *,
    cost: FloatArray | None = None,
    rows: slice | None = None,
) -> FloatArray:
    """Reduced cost of every arc: ``c - sum over rows of dual x coefficient``, (items, reps).

    ``duals`` are d(objective)/d(rhs) by PuLP row name (the solver layer's convention);
    ``rows`` restricts the answer to a block of items (its rows only).
    """
    n = len(problem.items)
    if rows is None and problem.lazy:  # the sparse path: computed when a block is asked for
        lazy = Pairs(problem.shape, lambda r, c, o: _reduced_part(problem, duals, cost, r, c, o))
        plain = cost is None or (np.ndim(cost) == 2 and np.shape(cost) == (1, 1) and not cost.any())
        # what the pruned passes (allocator.territory.pruned) need to bound it
        lazy.meta = {"duals": duals, "with_cost": cost is None} if plain else None  # type: ignore[attr-defined]
        return lazy  # type: ignore[return-value]
    rows = slice(0, n) if rows is None else rows
    rc = np.array(rows_of(problem.cost if cost is None else cost, problem.shape, rows), float)
    ids = range(n)[rows] if isinstance(rows, slice) else rows.tolist()
    u = np.array([duals.get(f"assign_once_{i}", 0.0) for i in ids])
    rc -= u[:, None]
    n = len(rc)
    for family in problem.families:
        pi = np.array([duals.get(family.pulp_name(j), 0.0) for j in range(len(family.rhs))])
        if not pi.any():
            continue
        weights = {"rep": pi[None, :], "item": pi[:, None], "one": pi[0]}[family.axis]
        coef = rows_of(family.coef, problem.shape, rows)
        weights = weights[rows] if family.axis == "item" else weights
        for lo in range(0, n, 4096):  # in blocks: no (items, reps) temporary
            w = weights[lo : lo + 4096] if family.axis == "item" else weights
            rc[lo : lo + 4096] -= w * coef[lo : lo + 4096]
    return rc


def _reduced_part(
    problem: ArcProblem,
    duals: Mapping[str, float],
    cost: FloatArray | None,
    rows: slice | IntArray,
    cols: IntArray | None,
    outer: bool,
) -> FloatArray:
    """Reduced costs of a row block (``outer``) or at the pairs ``(rows, cols)``."""
    if outer:
        block = reduced_costs(problem, duals, cost=cost, rows=rows)
        return block if cols is None else block[:, cols]
    assert cols is not None and not isinstance(rows, slice)
    rc = np.asarray(at(problem.cost if cost is None else cost, problem.shape, rows, cols), float)
    ids, back = np.unique(rows, return_inverse=True)  # one look-up per item, not per pair
    rc = rc - np.array([duals.get(f"assign_once_{i}", 0.0) for i in ids.tolist()])[back]
    for family in problem.families:
        pi = np.array([duals.get(family.pulp_name(j), 0.0) for j in range(len(family.rhs))])
        index = {"rep": cols, "item": rows, "one": np.zeros_like(rows)}[family.axis]
        rc = rc - pi[index] * at(family.coef, problem.shape, rows, cols)
    return rc
