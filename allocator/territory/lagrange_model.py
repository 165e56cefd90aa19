"""The candidate model of the Lagrangian dual (:mod:`allocator.territory.lagrange`).

Every family row of an :class:`~allocator.territory.core.ArcProblem` as one vector
(:class:`Rows`: names, right-hand sides, the valid range of each multiplier, a scale), the
candidate arcs as 1-D vectors with a sparse (arcs, rows) coefficient matrix (:class:`Arcs`),
and the dual function over the candidates only (:func:`inner`: an over-estimate of the dual
function over all pairs, since each item's minimum is taken over fewer arcs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from allocator.territory import pruned
from allocator.territory.bound import multiplier_range
from allocator.territory.core import ArcProblem
from allocator.territory.pairs import at

__all__ = [
    "Arcs",
    "Rows",
    "activity",
    "arc_vectors",
    "gather",
    "indexed",
    "inner",
    "merged",
    "prepare",
    "problem_rows",
    "shared_columns",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Rows:
    """Every family row in one vector: PuLP names, rhs, the valid interval of its multiplier
    (signs, deviation weights), its scale (set by ``_prepare``); ``start`` per family."""

    names: tuple[str, ...]
    rhs: FloatArray
    lo: FloatArray
    hi: FloatArray
    scale: FloatArray
    start: IntArray


def problem_rows(problem: ArcProblem) -> Rows:
    names: list[str] = []
    rhs, lo, hi, start = [np.zeros(0)], [np.zeros(0)], [np.zeros(0)], [0]
    for family in problem.families:
        b = np.asarray(family.rhs, float).ravel()
        low, high = multiplier_range(problem, family)
        names += [family.pulp_name(j) for j in range(len(b))]
        rhs.append(b), lo.append(low), hi.append(high), start.append(start[-1] + len(b))
    b, cat = np.concatenate(rhs), np.concatenate
    return Rows(tuple(names), b, cat(lo), cat(hi), np.ones(len(b)), np.array(start))


@dataclass(frozen=True)
class Arcs:
    """Candidates as 1-D vectors: flat ids (sorted), items, cost, (arcs, columns)
    coefficients, each item's first position; ``column`` (one per row): the matrix column
    that holds the row's coefficients. Rows of families that share their coefficients
    (``balance_lo``, ``balance_hi`` and ``deviation`` of a measure: one ``mu``) share a
    column, so a step multiplies about half the nonzeros (:func:`shared_columns`)."""

    arcs: IntArray
    items: IntArray
    cost: FloatArray
    matrix: sp.csr_matrix
    starts: IntArray
    column: IntArray


def gather(values: object, shape: tuple[int, int], ii: IntArray, rr: IntArray) -> FloatArray:
    """``values`` (broadcastable to ``shape``, or lazy pairs) at the pairs ``(ii, rr)``, as
    floats, a block of pairs at a time (no temporary over all of them)."""
    step, part = pruned.GATHER, [np.zeros(0)]
    part += [at(values, shape, ii[k : k + step], rr[k : k + step]) for k in range(0, len(ii), step)]
    return np.concatenate(part).astype(float)


def shared_columns(problem: ArcProblem, rows: Rows) -> tuple[IntArray, list[int]]:
    """The matrix column of every row (:class:`Arcs`) and the families that own columns: a
    family whose coefficients are the same object, on the same axis, as an earlier one's
    (the balance band and deviation rows of a measure) uses that family's columns."""
    column = np.zeros(len(rows.rhs), np.int64)
    owners: list[int] = []
    first: dict[tuple[int, str], int] = {}  # (id of coef, axis) -> first column
    for f, family in enumerate(problem.families):
        size = int(rows.start[f + 1] - rows.start[f])
        key = (id(family.coef), family.axis)
        if key not in first:
            first[key] = int(sum(int(rows.start[g + 1] - rows.start[g]) for g in owners))
            owners.append(f)
        column[rows.start[f] : rows.start[f + 1]] = first[key] + np.arange(size)
    return column, owners


def arc_vectors(
    problem: ArcProblem, rows: Rows, arcs: IntArray
) -> tuple[FloatArray, sp.csr_matrix]:
    """Cost and (arcs, columns) coefficient matrix of ``arcs`` (flat ids; columns as
    :func:`shared_columns`)."""
    m = len(problem.reps)
    ii, rr = arcs // m, arcs % m
    column, owners = shared_columns(problem, rows)
    who, col, val = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for f in owners:
        family = problem.families[f]
        a = gather(family.coef, problem.shape, ii, rr)
        row = {"rep": rr, "item": ii, "one": np.zeros_like(ii)}[family.axis] + rows.start[f]
        nz = np.flatnonzero(a)
        who.append(nz), col.append(column[row[nz]]), val.append(a[nz])
    cat = np.concatenate
    shape = (len(arcs), int(column.max(initial=-1)) + 1)
    matrix = sp.csr_matrix((cat(val), (cat(who), cat(col))), shape=shape)
    return gather(problem.cost, problem.shape, ii, rr), matrix


def indexed(
    problem: ArcProblem, column: IntArray, arcs: IntArray, cost: FloatArray, matrix: sp.csr_matrix
) -> Arcs:
    """The vectors of ``arcs`` (any order) sorted by flat id, with each item's segment;
    ``column`` is each row's matrix column (:func:`shared_columns`).

    Raises
    ------
    ValueError
        When an item has no candidate arc (its minimum over the candidates is undefined).
    """
    order = np.argsort(arcs, kind="stable")
    arcs = arcs[order]
    items = arcs // len(problem.reps)
    counts = np.bincount(items, minlength=len(problem.items))
    if (counts == 0).any():
        raise ValueError(f"{problem.name}: item {int(np.argmin(counts))} has no candidate arc")
    starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
    return Arcs(arcs, items, cost[order], matrix[order], starts, column)


def merged(problem: ArcProblem, rows: Rows, data: Arcs, new: IntArray) -> Arcs:
    """``data`` with the arcs ``new`` (outside it) added."""
    if not len(new):
        return data
    cost, matrix = arc_vectors(problem, rows, new)
    arcs = np.concatenate([data.arcs, new])
    both = sp.vstack([data.matrix, matrix]).tocsr()
    return indexed(problem, data.column, arcs, np.concatenate([data.cost, cost]), both)


def inner(data: Arcs, rows: Rows, pi: FloatArray) -> tuple[float, IntArray]:
    """L over the candidates only at ``pi`` and each item's minimising candidate (position)."""
    per_column = np.bincount(data.column, weights=pi, minlength=data.matrix.shape[1])
    rc = data.cost - data.matrix @ per_column
    best = np.minimum.reduceat(rc, data.starts)
    hit = np.flatnonzero(rc <= best[data.items])
    first = hit[np.r_[True, data.items[hit][1:] != data.items[hit][:-1]]]
    return float(pi @ rows.rhs + best.sum()), first


def activity(data: Arcs, chosen: IntArray) -> FloatArray:
    """Row activities ``A x`` of the assignment that takes the arcs at ``chosen`` (positions):
    the chosen arcs' nonzeros summed per column, then spread to the rows sharing it."""
    m = data.matrix
    lo, hi = m.indptr[chosen], m.indptr[np.asarray(chosen) + 1]
    size = hi - lo
    pos = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size) + np.repeat(lo, size)
    per_column = np.bincount(m.indices[pos], weights=m.data[pos], minlength=m.shape[1])
    return per_column[data.column]


def prepare(problem: ArcProblem, arcs: IntArray) -> tuple[Rows, Arcs]:
    """The rows and the candidates' vectors; ValueError on an ineligible candidate."""
    m = len(problem.reps)
    ok = gather(problem.eligible, problem.shape, arcs // m, arcs % m)
    if len(arcs) and not ok.all():
        bad = int(arcs[np.argmin(ok)])
        raise ValueError(f"{problem.name}: candidate arc {bad} (item {bad // m}) is not eligible")
    rows = problem_rows(problem)
    column = shared_columns(problem, rows)[0]
    data = indexed(problem, column, arcs, *arc_vectors(problem, rows, arcs))
    size = np.asarray(abs(data.matrix).sum(axis=0)).ravel()[data.column]  # mean |a_j|
    count = np.diff(data.matrix.tocsc().indptr)[data.column]
    return replace(rows, scale=np.where(count > 0, size / np.maximum(count, 1), 1.0)), data
