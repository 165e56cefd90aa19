"""Passes over all pairs that evaluate only the pairs that can matter, exactly (issue 19).

On the sparse path every pass over all (account, rep) pairs (the nearest arcs, the reduced
costs, entering arcs and Lagrangian minimum of each pricing round, the augmentation) used to
compute every great-circle distance: N x M work. Here each account's reduced cost is bounded
below by ``slope[i] x km[i, r] + floor[i]`` (every rep-dependent factor replaced by its least
value over the reps of the account's eligibility group; exact for the incumbent, which is
always evaluated), so only the reps within ``(threshold - floor) / slope`` km can have a
reduced cost at or below a threshold. A k-d tree of each group's reps on the unit sphere
(:mod:`allocator.territory.nearby`) fetches them, and the reduced costs are computed there by
the same function as the full pass (:func:`allocator.territory.reduced.reduced_costs`), so the
answers are the same arcs, minima and bounds (``models/assignment.md``, "The sparse path").
Every function returns None when it cannot prove that (no :class:`~allocator.territory.nearby.Near`,
a term it does not know, a non-positive slope for most accounts); the caller then runs the
full pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from allocator.territory.nearby import Near, chord_above

if TYPE_CHECKING:
    from allocator.territory.core import ArcProblem

__all__ = ["TooManyPairs", "augment", "entering", "row_argmin", "row_min", "scan"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Pairs gathered at once when evaluating (bounds temporaries to about 100 MB).
GATHER = 1 << 21

#: Accounts per k-d tree ball query.
BALL = 8192

#: Nearest reps per account whose reduced costs give the first threshold of :func:`row_min`.
FIRST = 4


def _near(problem: ArcProblem) -> tuple[Near, dict[str, Any]] | None:
    near = problem.near
    if near is None:
        return None
    forms = near.forms_for(problem)
    return None if forms is None else (near, forms)


def _meta(reduced: Any) -> dict[str, Any] | None:
    """The duals a lazy reduced-cost array was made from (set by ``reduced_costs``)."""
    meta = getattr(reduced, "meta", None)
    return meta if isinstance(meta, dict) and meta.get("with_cost") is not None else None


def _bounds(
    problem: ArcProblem, near: Near, forms: dict[str, Any], duals: Mapping[str, float], cost: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(slope, floor, size)``: ``c̄[i, r] >= slope[i] km[i, r] + floor[i]`` for every rep of
    account i's group other than its incumbent; ``size`` the magnitude of the terms (for the
    rounding tolerance)."""
    n, m = near.shape
    cols: dict[str, dict[int, list]] = {"dist": {}, "const": {}, "moved": {}}

    def add(form: Any, rho: FloatArray) -> None:
        rep = rho if form.rep is None else rho * form.rep
        for kind, found in cols.items():
            vec = getattr(form, kind)
            if vec is not None:
                found.setdefault(id(vec), [vec, np.zeros(m)])[1] += rep

    if cost:
        for form in forms["terms"]:
            add(form, np.ones(m))
    for family, form in zip(problem.families, forms["families"], strict=True):
        pi = np.array([duals.get(family.pulp_name(j), 0.0) for j in range(len(family.rhs))])
        add(form, -pi if family.axis == "rep" else np.full(m, -pi[0]))
    u = np.array([duals.get(f"assign_once_{i}", 0.0) for i in range(n)])
    slope, floor, size = np.zeros(n), -u, np.abs(u)
    for kind, found in cols.items():
        for vec, rho in found.values():
            lo = np.array([rho[row].min() if row.any() else 0.0 for row in near.table])
            hi = np.array([rho[row].max() if row.any() else 0.0 for row in near.table])
            part = np.minimum(vec * lo[near.group], vec * hi[near.group])
            if kind == "dist":
                slope += part
                continue
            floor += part if kind == "const" else np.where(near.has_incumbent, part, 0.0)
            size += np.abs(vec) * np.maximum(np.abs(lo), np.abs(hi))[near.group]
    return slope, floor, size


def _gather(values: Any, ii: IntArray, rr: IntArray) -> FloatArray:
    parts = [values[ii[k : k + GATHER], rr[k : k + GATHER]] for k in range(0, len(ii), GATHER)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _ball(tree: Any, points: FloatArray, chord: FloatArray) -> tuple[IntArray, IntArray]:
    """(query position, tree index) of every tree point within ``chord`` of each point."""
    found = tree.query_ball_point(points, chord, return_sorted=False)
    lens = np.fromiter(map(len, found), np.int64, len(found))
    flat = np.fromiter(chain.from_iterable(found), np.int64, int(lens.sum()))
    return np.repeat(np.arange(len(points)), lens), flat


def _cat(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _dedupe(items: IntArray, reps: IntArray, m: int) -> tuple[IntArray, IntArray, IntArray]:
    """Sorted unique flat ids of the pairs and where each first occurs."""
    flat, first = np.unique(items * m + reps, return_index=True)
    return flat // m, flat % m, first


class TooManyPairs(Exception):
    """A :func:`scan` would gather more pairs than its ``limit`` (memory: 24 bytes a pair)."""


def scan(
    problem: ArcProblem, reduced: Any, threshold: FloatArray, *, limit: int | None = None
) -> tuple[IntArray, IntArray, FloatArray] | None:
    """``(items, reps, c̄)`` of a superset of the eligible pairs with ``c̄[i, r] <= threshold[i]``
    (``reduced``: the lazy reduced costs of :func:`allocator.territory.reduced.reduced_costs`);
    an incumbent pair may come twice. None when the bound cannot prune (the caller evaluates
    every pair). Raises :class:`TooManyPairs` as soon as more than ``limit`` pairs (None: no
    limit) are gathered: far-off multipliers can select hundreds of millions of pairs."""
    found, meta = _near(problem), _meta(reduced)
    if found is None or meta is None:
        return None
    near, forms = found
    n, m = near.shape
    slope, floor, size = _bounds(problem, near, forms, meta["duals"], meta["with_cost"])
    tol = 1e-9 * (np.abs(threshold) + size + np.abs(threshold - floor)) + 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        km = np.where(slope > 0, (threshold - floor + tol) / slope * (1 + 1e-9), np.inf)
    km = np.where(np.isneginf(threshold), -1.0, np.nan_to_num(km, nan=np.inf))
    chord = chord_above(km)
    full = chord > 2.0
    if np.count_nonzero(full) > n // 2:
        return None
    ii, rr, most = [], [], np.inf if limit is None else limit
    for g in range(len(near.table)):
        tree, reps = near.tree(g)
        if tree is None:
            continue
        items = near.free_items(g)
        whole = items[full[items]]
        ii.append(np.repeat(whole, len(reps)))
        rr.append(np.tile(reps, len(whole)))
        some = items[~full[items] & (km[items] >= 0)]
        for lo in range(0, len(some), BALL):
            if sum(map(len, ii)) > most:
                raise TooManyPairs(f"more than {limit:,} pairs")
            chunk = some[lo : lo + BALL]
            at, idx = _ball(tree, near.xyz[chunk], chord[chunk])
            ii.append(chunk[at])
            rr.append(reps[idx])
    if sum(map(len, ii)) > most:
        raise TooManyPairs(f"more than {limit:,} pairs")
    inc_i, inc_r = near.incumbent_pairs()
    items, reps = _cat([*ii, inc_i]), _cat([*rr, inc_r])
    log.debug("pruned scan: %d pairs of %d (%d full rows)", len(items), n * m, full.sum())
    return items, reps, _gather(reduced, items, reps)


def row_min(problem: ArcProblem, reduced: Any) -> FloatArray | None:
    """Each account's least reduced cost over its eligible reps (inf: none), as
    ``min(reduced, where=eligible)`` row by row; None when it cannot prune."""
    found = _row_scan(problem, reduced)
    if found is None:
        return None
    best = np.full(len(problem.items), np.inf)
    np.minimum.at(best, found[0], found[2])
    return best


def row_argmin(problem: ArcProblem, reduced: Any) -> IntArray | None:
    """Each account's eligible rep of least reduced cost (ties: the lower rep; 0 when none),
    as ``argmin(where(eligible, reduced, inf))`` row by row; None when it cannot prune."""
    found = _row_scan(problem, reduced)
    if found is None:
        return None
    items, reps, value = found
    order = np.lexsort((reps, value, items))
    first = order[np.r_[True, items[order][1:] != items[order][:-1]]] if len(order) else order
    out = np.zeros(len(problem.items), np.int64)
    out[items[first]] = reps[first]
    return out


def _row_scan(problem: ArcProblem, reduced: Any) -> tuple[IntArray, IntArray, FloatArray] | None:
    """Every eligible pair whose reduced cost is at most the least over each account's
    :data:`FIRST` nearest reps and incumbent (a superset of each account's minimisers)."""
    found = _near(problem)
    if found is None or _meta(reduced) is None:
        return None
    near = found[0]
    n = near.shape[0]
    ii, rr = [], []
    for items, reps, _ in near.nearest(FIRST):
        ii.append(np.repeat(items, reps.shape[1]))
        rr.append(reps.ravel())
    inc_i, inc_r = near.incumbent_pairs()
    items, reps = _cat([*ii, inc_i]), _cat([*rr, inc_r])
    upper = np.full(n, -np.inf)  # no eligible rep: nothing to fetch
    first = _gather(reduced, items, reps)
    upper[items] = np.inf
    np.minimum.at(upper, items, first)
    return scan(problem, reduced, upper)


def _outside(items: IntArray, reps: IntArray, m: int, arcs: IntArray) -> npt.NDArray[np.bool_]:
    flat = items * m + reps
    pos = np.minimum(np.searchsorted(arcs, flat), max(len(arcs) - 1, 0))
    return ~(arcs[pos] == flat) if len(arcs) else np.ones(len(flat), bool)


def entering(
    problem: ArcProblem, arcs: IntArray, reduced: Any, eps: float, per_item: int
) -> IntArray | None:
    """Up to ``per_item`` eligible arcs per account outside ``arcs`` (sorted flat ids) with
    ``c̄ < -eps``, the most negative first (ties: lower rep), as the full pass picks them."""
    n = len(problem.items)
    scanned = scan(problem, reduced, np.full(n, -eps))
    if scanned is None:
        return None
    m = len(problem.reps)
    items, reps, value = scanned
    keep = (value < -eps) & _outside(items, reps, m, arcs)
    items, reps, first = _dedupe(items[keep], reps[keep], m)
    value = value[keep][first]
    order = np.lexsort((reps, value, items))
    items, reps = items[order], reps[order]
    start = np.searchsorted(items, items, side="left")
    take = np.arange(len(items)) - start < per_item
    return np.sort(items[take] * m + reps[take]).astype(np.int64)


def augment(problem: ArcProblem, arcs: IntArray, reduced: Any, threshold: float) -> IntArray | None:
    """Eligible arcs outside ``arcs`` whose (shifted) reduced cost is below ``threshold``."""
    meta = _meta(reduced)
    if meta is None:
        return None
    base = meta.get("base", reduced)
    shift = meta.get("shift")
    n = len(problem.items)
    shift = np.zeros(n) if shift is None else np.asarray(shift, float)
    scanned = scan(problem, base, threshold + shift)
    if scanned is None:
        return None
    items, reps, value = scanned
    m = len(problem.reps)
    keep = (value - shift[items] < threshold) & _outside(items, reps, m, arcs)
    return np.unique(items[keep] * m + reps[keep]).astype(np.int64)
