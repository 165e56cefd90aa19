"""Nearest eligible reps per account and nearest eligible accounts per rep by k-d tree.

The first candidate arcs (``models/assignment.md``, "Candidate arcs and pricing", step 1) are
each account's ``k`` eligible reps of smallest rank ``visits x km`` and each rep's ``k``
eligible accounts of smallest rank. On the sparse path these used to be passes over all
pairs; here k-d trees of the unit-sphere points (:mod:`allocator.territory.nearby`) fetch a few
more than ``k`` by chord, the rank is computed exactly there, and the answer is accepted only
when the ``k``-th rank is below a lower bound of every rank not fetched (``visits x`` the
great-circle km of the farthest chord fetched); otherwise more are fetched, or the row is
evaluated in full. The result is what :func:`allocator.territory.pricing.smallest` gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from allocator.geography.distance import EARTH_RADIUS_KM
from allocator.territory.nearby import Near, km_below
from allocator.territory.pruned import GATHER, _gather, _near

if TYPE_CHECKING:
    from allocator.territory.core import ArcProblem

__all__ = ["incumbent_arcs", "largest_cost", "nearest_items", "nearest_reps"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Triplets = tuple[IntArray, IntArray, FloatArray]


def nearest_reps(problem: ArcProblem, k: int) -> Triplets | None:
    """Each account's ``k`` eligible reps of smallest rank (``visits x km``) as
    :func:`allocator.territory.pricing.smallest` gives them (row, rep, value; by row, value,
    rep), omitting missing (inf) entries; None when it cannot prune."""
    found = _near(problem)
    if found is None:
        return None
    near = found[0]
    m = near.shape[1]
    rank = problem.rank
    out_i, out_r, out_v, again = [], [], [], []
    for g in range(len(near.table)):
        tree, reps = near.tree(g)
        items = near.free_items(g)
        if tree is None or not len(items):
            continue
        positive = near.visits[items] > 0
        again.append(items[~positive])
        items = items[positive]
        kq = min(k + 4, len(reps))
        dist, idx = tree.query(near.xyz[items], k=kq)
        dist, idx = np.asarray(dist).reshape(len(items), kq), np.asarray(idx).reshape(-1, kq)
        ii, rr = np.repeat(items, kq), reps[idx.ravel()]
        value = _gather(rank, ii, rr).reshape(len(items), kq)
        order = np.lexsort((rr.reshape(-1, kq), value), axis=1)[:, :k]
        chosen = np.take_along_axis(value, order, axis=1)
        if kq < len(reps):
            beyond = near.visits[items] * km_below(dist[:, -1])
            ok = chosen[:, -1] < beyond
            again.append(items[~ok])
            items, order, chosen = items[ok], order[ok], chosen[ok]
            idx = idx[ok]
        out_i.append(np.repeat(items, order.shape[1]))
        out_r.append(reps[np.take_along_axis(idx, order, axis=1)].ravel())
        out_v.append(chosen.ravel())
    li, lr = near.locked_pairs()
    out_i.append(li)
    out_r.append(lr)
    out_v.append(_gather(rank, li, lr))
    rest = np.sort(np.concatenate(again)) if again else np.zeros(0, np.int64)
    for lo in range(0, len(rest), 2048):
        rows = rest[lo : lo + 2048]
        v = np.where(problem.eligible[rows], rank[rows], np.inf)
        order = np.argsort(v, axis=1, kind="stable")[:, : min(k, m)]
        val = np.take_along_axis(v, order, axis=1)
        ok = np.isfinite(val)
        out_i.append(np.repeat(rows, order.shape[1])[ok.ravel()])
        out_r.append(order.ravel()[ok.ravel()])
        out_v.append(val.ravel()[ok.ravel()])
    ii, rr, vv = (np.concatenate(a) for a in (out_i, out_r, out_v))
    order = np.lexsort((rr, vv, ii))
    return ii[order].astype(np.int64), rr[order].astype(np.int64), vv[order]


def incumbent_arcs(problem: ArcProblem) -> IntArray | None:
    """Flat ids of the eligible incumbent arcs (``keep & eligible``); None off the sparse path."""
    found = _near(problem)
    if found is None or found[0].form(problem.keep) is None:
        return None
    return found[0].incumbent_arcs()


#: Distinct visit counts up to which each has its own class (else classes of ratio 1.25).
CLASSES = 16


def _visit_classes(visits: FloatArray, free: npt.NDArray[np.bool_]) -> IntArray:
    """Class per account (-1: locked, or no positive visits): one per distinct visit count
    when there are few, else geometric bins, so that ``visits >= min of its class``."""
    out = np.full(len(visits), -1, np.int64)
    use = free & (visits > 0) & np.isfinite(visits)
    values, inverse = np.unique(visits[use], return_inverse=True)
    if len(values) <= CLASSES:
        out[use] = inverse
    else:
        out[use] = np.floor(np.log(visits[use]) / np.log(1.25)).astype(np.int64)
        out[use] -= out[use].min()
    return out


def _combos(near: Near) -> list[tuple[int, IntArray, float, object]]:
    """(group, accounts, least visits, k-d tree) per eligibility group and visit class."""
    key = ("items",)
    if key not in near.trees:
        classes = _visit_classes(near.visits, ~near.locked)
        found = []
        for g in range(len(near.table)):
            for c in np.unique(classes[(near.group == g) & (classes >= 0)]).tolist():
                items = np.flatnonzero((near.group == g) & (classes == c))
                tree = cKDTree(near.xyz[items])
                found.append((g, items, float(near.visits[items].min()), tree))
        near.trees[key] = found  # type: ignore[assignment]
    return near.trees[key]  # type: ignore[return-value]


def nearest_items(problem: ArcProblem, k: int) -> Triplets | None:
    """Each rep's ``k`` eligible accounts of smallest rank, as ``smallest(rank.T, eligible.T,
    k)`` gives them (rep, account, value; by rep, value, account), omitting missing (inf)
    entries; None when it cannot prune."""
    found = _near(problem)
    if found is None:
        return None
    near = found[0]
    m = near.shape[1]
    zero = np.flatnonzero(~near.locked & ~(near.visits > 0))
    if len(zero) * m > GATHER:
        return None
    combos = _combos(near)
    li, lr = near.locked_pairs()
    pending, kq = np.arange(m), k
    out_r, out_i, out_v = [], [], []
    while len(pending):
        reps, items, bound = _fetch(near, combos, pending, kq)
        mine = np.isin(lr, pending)
        zr = np.tile(pending, len(zero))
        zi = np.repeat(zero, len(pending))
        ok = near.table[near.group[zi], zr]
        reps = np.concatenate([reps, lr[mine], zr[ok]])
        items = np.concatenate([items, li[mine], zi[ok]])
        value = _gather(problem.rank, items, reps)
        order = np.lexsort((items, value, reps))
        reps, items, value = reps[order], items[order], value[order]
        position = np.arange(len(reps)) - np.searchsorted(reps, reps, side="left")
        take = position < k
        kth = np.full(m, np.inf)
        kth[reps[position == k - 1]] = value[position == k - 1]
        done = (kth < bound) | np.isinf(bound)
        keep = take & done[reps]
        out_r.append(reps[keep])
        out_i.append(items[keep])
        out_v.append(value[keep])
        pending = pending[~done[pending]]
        kq *= 4
    r, i, v = (np.concatenate(a) for a in (out_r, out_i, out_v))
    order = np.lexsort((i, v, r))
    return r[order].astype(np.int64), i[order].astype(np.int64), v[order]


def _fetch(
    near: Near, combos: list, pending: IntArray, kq: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """The ``kq`` nearest accounts of each combo for every pending rep that may serve it, and
    per rep a lower bound of the rank of every account not fetched (inf: all fetched)."""
    bound = np.full(near.shape[1], np.inf)
    reps_out, items_out = [], []
    for g, items, least, tree in combos:
        reps = pending[near.table[g, pending]]
        if not len(reps):
            continue
        kk = min(kq, len(items))
        dist, idx = tree.query(near.rep_xyz[reps], k=kk)
        dist, idx = np.asarray(dist).reshape(len(reps), kk), np.asarray(idx).reshape(-1, kk)
        reps_out.append(np.repeat(reps, kk))
        items_out.append(items[idx.ravel()])
        if kk < len(items):
            bound[reps] = np.minimum(bound[reps], least * km_below(dist[:, -1]))
    cat = np.concatenate
    empty = np.zeros(0, np.int64)
    return (cat(reps_out) if reps_out else empty), (cat(items_out) if items_out else empty), bound


def largest_cost(problem: ArcProblem, k: int = 4) -> float | None:
    """max |cost| over the eligible arcs (:attr:`ArcProblem.largest_cost`) from each account's
    ``k`` farthest eligible reps (the nearest to its antipode), when every cost term is
    ``dist[i] km + moved[i] [moved]`` with ``dist, moved >= 0``: accounts whose farther reps
    could still exceed the largest value found are evaluated in full. None: not that shape."""
    found = _near(problem)
    if found is None:
        return None
    near, forms = found
    terms = forms["terms"]
    if any(f.rep is not None or f.const is not None for f in terms):
        return None
    n, _ = near.shape
    dist, moved = np.zeros(n), np.zeros(n)
    for f in terms:
        dist = dist + (0.0 if f.dist is None else f.dist)
        moved = moved + (0.0 if f.moved is None else f.moved)
    if (dist < 0).any() or (moved < 0).any():
        return None
    cost = problem.cost
    top, upper, ii_all, rr_all = 0.0, np.zeros(n), [], []
    for items, reps, chord in near.nearest(k, farthest=True):
        kk = reps.shape[1]
        ii_all.append(np.repeat(items, kk))
        rr_all.append(reps.ravel())
        if kk < len(near.reps_of(near.group[items[0]])):
            far = np.pi * EARTH_RADIUS_KM - km_below(chord[:, -1])
            upper[items] = dist[items] * far * (1 + 1e-9) + moved[items] * near.has_incumbent[items]
    li, lr = near.locked_pairs()
    ii = np.concatenate([*ii_all, li])
    rr = np.concatenate([*rr_all, lr])
    if len(ii):
        top = max(top, float(np.abs(_gather(cost, ii, rr)).max()))
    rest = np.flatnonzero(upper > top)
    for lo in range(0, len(rest), 2048):
        rows = rest[lo : lo + 2048]
        block = np.abs(cost[rows]).max(where=problem.eligible[rows], initial=0.0)
        top = max(top, float(block))
    return top
