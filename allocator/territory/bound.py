"""A proven lower bound from any row multipliers: the Lagrangian dual function.

Relax every family row (capacity, balance, max_accounts, max_moved, deviation rows, managers)
with multipliers ``pi`` and keep ``assign_once``: each item then takes its cheapest eligible arc
at the reduced cost ``c - sum_j pi_j a_j``, so for every assignment ``x`` and deviations ``d``

    cost(x, d) >= sum_j pi_j rhs_j + sum_i min_{r eligible} (c_ir - sum_j pi_j a_j[i, r])

whenever the signs are right (``pi_j <= 0`` on ``<=`` rows, ``>= 0`` on ``>=`` rows, free on
``==``) and a deviation row's multiplier is within its objective weight (``|pi_j| <= w_j``, so
that ``d+``/``d-`` cannot lower the value). This is weak Lagrangian duality (Fisher 1981, "The
Lagrangian relaxation method for solving integer programming problems", Management Science
27(1)); it holds for *any* such multipliers, so the bound does not depend on how accurately the
LP that produced them was solved (an interior point without crossover, a time-limited simplex,
PDLP). The multipliers are clipped to those signs first. With the exact optimal duals of the LP
over all arcs it equals the LP optimum.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from allocator.territory.core import ArcProblem, RowFamily, reduced_costs
from allocator.territory.pruned import row_min

__all__ = ["dual_bound", "dual_bound_value", "multiplier_range"]

FloatArray = npt.NDArray[np.float64]


def dual_bound_value(problem: ArcProblem, duals: Mapping[str, float]) -> float | None:
    """The bound of :func:`dual_bound` alone, computed in blocks of items (no (items, reps)
    array); None where :func:`dual_bound` is None."""
    clipped = _clip(problem, duals)
    if clipped is None:
        return None
    pi, constant = clipped
    n, total = len(problem.items), constant
    best = row_min(problem, reduced_costs(problem, pi)) if problem.near is not None else None
    if best is not None:  # the sparse path, far pairs skipped (exact: allocator.territory.pruned)
        if not np.isfinite(best).all():
            return None
        u = np.array([pi.get(f"assign_once_{i}", 0.0) for i in range(n)])
        return total + float((u + best).sum())
    for lo in range(0, n, BLOCK):
        block = slice(lo, min(lo + BLOCK, n))
        rc = reduced_costs(problem, pi, rows=block)
        best = np.min(rc, axis=1, where=problem.eligible[block], initial=np.inf)
        if not np.isfinite(best).all():
            return None
        u = np.array([pi.get(f"assign_once_{i}", 0.0) for i in range(block.start, block.stop)])
        total += float((u + best).sum())
    return total


#: Items per block in :func:`dual_bound_value`.
BLOCK = 4096


def multiplier_range(problem: ArcProblem, family: RowFamily) -> tuple[FloatArray, FloatArray]:
    """Per row of ``family``: the least and largest valid multiplier (``<= 0`` on ``<=`` rows,
    ``>= 0`` on ``>=`` rows, free on ``==``; a deviation row's within +- its objective weight),
    the range in which the relaxation bounds every plan (module docstring)."""
    rows = len(np.asarray(family.rhs, float).ravel())
    lo = np.full(rows, 0.0 if family.sense == ">=" else -np.inf)
    hi = np.full(rows, 0.0 if family.sense == "<=" else np.inf)
    if family.deviation is not None:
        w = np.asarray(family.deviation, float) * problem.balance_weight
        lo, hi = np.maximum(lo, -w), np.minimum(hi, w)
    return lo, hi


def _clip(problem: ArcProblem, duals: Mapping[str, float]) -> tuple[dict[str, float], float] | None:
    """The multipliers clipped to valid signs and weights, and ``sum_j pi_j rhs_j``."""
    if problem.balance_cap is not None:
        return None
    clipped = dict(duals)
    constant = 0.0
    for family in problem.families:
        rhs = np.asarray(family.rhs, float)
        names = [family.pulp_name(j) for j in range(len(rhs))]
        pi = np.clip(
            np.array([duals.get(name, 0.0) for name in names]), *multiplier_range(problem, family)
        )
        clipped.update(zip(names, pi.tolist(), strict=True))
        constant += float(pi @ rhs)
    return clipped, constant


def dual_bound(
    problem: ArcProblem, duals: Mapping[str, float]
) -> tuple[float, FloatArray, FloatArray] | None:
    """The Lagrangian bound at ``duals`` (PuLP row name -> d(objective)/d(rhs)).

    Returns ``(bound, reduced, best)``: the bound (objective units); the reduced costs of every
    arc at the clipped multipliers shifted by each item's cheapest eligible one (items x reps,
    >= 0 on eligible arcs), so that any assignment using an arc costs at least ``bound`` plus
    its shifted reduced cost (what :func:`allocator.territory.pricing.augment_arcs` needs); and
    that cheapest reduced cost per item. None when the problem has a ``goal_balance`` cap
    (lexicographic mode), where this relaxation is not implemented, or an item has no
    eligible arc.
    """
    found = _clip(problem, duals)
    if found is None:
        return None
    clipped, constant = found
    reduced = reduced_costs(problem, clipped)
    n, ok = len(problem.items), problem.eligible
    u = np.array([clipped.get(f"assign_once_{i}", 0.0) for i in range(n)])
    best = row_min(problem, reduced) if problem.near is not None else None
    if best is None:  # every pair, block by block
        best = np.concatenate(
            [
                np.min(reduced[lo : lo + 4096], axis=1, where=ok[lo : lo + 4096], initial=np.inf)
                for lo in range(0, n, 4096)
            ]
            or [np.zeros(0)]
        )
    if not np.isfinite(best).all():  # an item with no eligible arc: no finite bound
        return None
    bound = constant + float((u + best).sum())
    meta, base = getattr(reduced, "meta", None), reduced
    reduced -= best[:, None]  # in place; +inf - finite stays inf where masked later
    if meta is not None:  # lazy: the pruned augmentation needs the duals and the shift
        reduced.meta = {**meta, "base": base, "shift": best}
    return bound, reduced, best
