"""(items, reps) arrays computed on demand: the sparse path of large territories (issue 19).

At 250,000 accounts x 2,000 reps one float (items, reps) array is 4 GB, and the territory model
used a dozen of them (distances, loads, objective terms, eligibility). Above
:data:`SPARSE_FROM` pairs :func:`allocator.territory.build.build_territory` makes them
:class:`Pairs` instead: values computed from per-account and per-rep vectors (great-circle
distance on the fly) whenever a block of rows or a list of (item, rep) pairs is asked for, and
never stored whole. The solver then keeps only candidate arcs as 1-D vectors; everything over
all pairs (initial arcs, reduced costs, the Lagrangian bound, the augmentation) runs row block
by row block (``models/assignment.md``, "The sparse path").

The helpers :func:`at`, :func:`rows_of`, :func:`by_rows`, :func:`nonzero_arcs` and
:func:`count` take dense arrays (broadcastable to (items, reps)) and :class:`Pairs` alike, so
the core's functions have one code path for both.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "SPARSE_FROM",
    "Pairs",
    "at",
    "block_rows",
    "by_rows",
    "count",
    "is_lazy",
    "nonzero_arcs",
    "outer",
    "rows_of",
    "without",
]

IntArray = npt.NDArray[np.int64]

#: Account-level problems with more (accounts x reps) pairs than this use :class:`Pairs`.
SPARSE_FROM = 10_000_000

#: Entries per row block over all pairs (about 32 MB of float64).
BLOCK_ENTRIES = 1 << 22

Rows = slice | IntArray
Fn = Callable[[Rows, IntArray | None, bool], np.ndarray]


def block_rows(m: int) -> int:
    """Rows per block for ``m`` reps (at least one)."""
    return max(1, BLOCK_ENTRIES // max(m, 1))


class Pairs:
    """An (items, reps) array that is never stored: ``fn`` computes the values asked for.

    ``fn(rows, cols, outer)``: with ``outer`` the (len(rows), len(cols)) block (``cols`` None:
    every rep); else the values at the pairs ``(rows[k], cols[k])``. ``rows`` is a slice or an
    int array. Indexing (``p[lo:hi]``, ``p[i]``, ``p[rows]``, ``p[ii, rr]``), ``.T`` and
    arithmetic/comparison/logic with scalars, arrays broadcastable to ``shape`` and other
    :class:`Pairs` are supported and stay lazy; numpy ufuncs defer to them.
    """

    __array_ufunc__ = None
    ndim = 2

    def __init__(self, shape: tuple[int, int], fn: Fn, dtype: Any = np.float64) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.fn = fn
        self.dtype = np.dtype(dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            a, b = key
            if np.ndim(a) == 0 and isinstance(a, (int, np.integer)):
                return self[int(a)][b]
            if isinstance(a, slice) or (isinstance(b, slice) and b == slice(None)):
                return self[a][:, b]
            ii, rr = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64))
            return self.fn(ii.ravel(), rr.ravel(), False).reshape(ii.shape)
        if isinstance(key, (int, np.integer)):
            i = int(key) % self.shape[0]
            return self.fn(slice(i, i + 1), None, True)[0]
        if isinstance(key, slice):
            lo, hi, step = key.indices(self.shape[0])
            rows: Rows = slice(lo, hi) if step == 1 else np.arange(lo, hi, step)
            return self.fn(rows, None, True)
        return self.fn(np.asarray(key, np.int64), None, True)

    @property
    def T(self) -> Pairs:
        """The (reps, items) transpose (blocks of reps; each block computes all items)."""
        n, m = self.shape

        def fn(rows: Rows, cols: IntArray | None, outer: bool) -> np.ndarray:
            reps = np.arange(m)[rows] if isinstance(rows, slice) else rows
            if outer:
                items: Rows = slice(0, n) if cols is None else cols
                return self.fn(items, reps, True).T
            assert cols is not None
            return self.fn(cols, reps, False)

        return Pairs((m, n), fn, self.dtype)

    def astype(self, dtype: Any) -> Pairs:
        return Pairs(self.shape, lambda r, c, o: self.fn(r, c, o).astype(dtype), dtype)

    def _op(self, other: Any, op: Callable, swap: bool = False) -> Pairs:
        def fn(rows: Rows, cols: IntArray | None, outer: bool) -> np.ndarray:
            a, b = self.fn(rows, cols, outer), _part(other, rows, cols, outer)
            return op(b, a) if swap else op(a, b)

        sample = op(np.ones(1, self.dtype), np.ones(1, getattr(other, "dtype", type(other))))
        return Pairs(self.shape, fn, sample.dtype)

    def __add__(self, o: Any) -> Pairs:
        return self._op(o, operator.add)

    def __radd__(self, o: Any) -> Pairs:
        return self._op(o, operator.add, swap=True)

    def __sub__(self, o: Any) -> Pairs:
        return self._op(o, operator.sub)

    def __rsub__(self, o: Any) -> Pairs:
        return self._op(o, operator.sub, swap=True)

    def __mul__(self, o: Any) -> Pairs:
        return self._op(o, operator.mul)

    def __rmul__(self, o: Any) -> Pairs:
        return self._op(o, operator.mul, swap=True)

    def __truediv__(self, o: Any) -> Pairs:
        return self._op(o, operator.truediv)

    def __and__(self, o: Any) -> Pairs:
        return self._op(o, operator.and_)

    def __rand__(self, o: Any) -> Pairs:
        return self._op(o, operator.and_, swap=True)

    def __or__(self, o: Any) -> Pairs:
        return self._op(o, operator.or_)

    def __gt__(self, o: Any) -> Pairs:  # type: ignore[override]
        return self._op(o, operator.gt)

    def __lt__(self, o: Any) -> Pairs:  # type: ignore[override]
        return self._op(o, operator.lt)

    def __le__(self, o: Any) -> Pairs:  # type: ignore[override]
        return self._op(o, operator.le)

    def __invert__(self) -> Pairs:
        return Pairs(self.shape, lambda r, c, o: ~self.fn(r, c, o), self.dtype)


def _part(value: Any, rows: Rows, cols: IntArray | None, outer: bool) -> Any:
    """``value`` (scalar, array broadcastable to (items, reps), or :class:`Pairs`) at the
    requested rows/columns, shaped to broadcast against the block."""
    if isinstance(value, Pairs):
        return value.fn(rows, cols, outer)
    if np.ndim(value) == 0:
        return value
    a = np.asarray(value)
    a = a.reshape((1,) * (2 - a.ndim) + a.shape)
    if outer:
        part = a[rows] if a.shape[0] > 1 else a
        return part if cols is None or a.shape[1] == 1 else part[:, cols]
    assert cols is not None
    return a[rows if a.shape[0] > 1 else 0, cols if a.shape[1] > 1 else 0]


def outer(
    func: Callable[..., np.ndarray],
    shape: tuple[int, int],
    item_args: Sequence[np.ndarray],
    rep_args: Sequence[np.ndarray],
    dtype: Any = np.float64,
    *,
    memo: bool = False,
) -> Pairs:
    """Pairs ``func(*item_args[i], *rep_args[r])`` (``func`` broadcasts like numpy).

    ``memo`` keeps the last row-slice block (read-only), for values such as the distance that
    several terms of one block need."""
    last: dict[tuple[int, int], np.ndarray] = {}

    def fn(rows: Rows, cols: IntArray | None, outer: bool) -> np.ndarray:
        key = (rows.start, rows.stop) if isinstance(rows, slice) and cols is None else None
        if memo and outer and key is not None and key in last:
            return last[key]
        values = compute(rows, cols, outer)
        if memo and outer and key is not None:
            values.flags.writeable = False
            last.clear()
            last[key] = values
        return values

    def compute(rows: Rows, cols: IntArray | None, outer: bool) -> np.ndarray:
        picked = slice(None) if cols is None else cols
        if outer:
            left = [np.asarray(a)[rows][:, None] for a in item_args]
            right = [np.asarray(a)[picked][None, :] for a in rep_args]
        else:
            left = [np.asarray(a)[rows] for a in item_args]
            right = [np.asarray(a)[picked] for a in rep_args]
        return np.asarray(func(*left, *right), dtype)

    return Pairs(shape, fn, dtype)


def is_lazy(values: Any) -> bool:
    """Whether ``values`` is a :class:`Pairs` (the sparse path)."""
    return isinstance(values, Pairs)


def at(values: Any, shape: tuple[int, int], ii: IntArray, rr: IntArray) -> np.ndarray:
    """``values`` (broadcastable to ``shape``, or :class:`Pairs`) at the pairs ``(ii, rr)``."""
    if isinstance(values, Pairs):
        return values[ii, rr]
    return np.broadcast_to(values, shape)[ii, rr]


def rows_of(values: Any, shape: tuple[int, int], rows: Rows) -> np.ndarray:
    """The (len(rows), reps) block of ``values`` (broadcastable to ``shape``, or Pairs)."""
    if isinstance(values, Pairs):
        return values[rows]
    return np.broadcast_to(values, shape)[rows]


def by_rows(func: Callable[..., np.ndarray], *arrays: Any, block: int | None = None) -> np.ndarray:
    """``func`` applied to row blocks of ``arrays`` (all (items, reps)), results concatenated:
    a row-wise reduction without any (items, reps) temporary."""
    n, m = arrays[0].shape
    size = block or block_rows(m)
    parts = [func(*(a[lo : lo + size] for a in arrays)) for lo in range(0, n, size)]
    return np.concatenate(parts) if parts else func(*(a[0:0] for a in arrays))


def nonzero_arcs(mask: Any, *, limit: int | None = None) -> IntArray:
    """Flat ids ``item * reps + rep`` where the (items, reps) ``mask`` is true (sorted).

    For :class:`Pairs` with ``limit``: stops after the first block that brings the count over
    ``limit`` (so more than ``limit`` ids means "too many", not all of them)."""
    if not isinstance(mask, Pairs):
        return np.flatnonzero(np.asarray(mask).ravel()).astype(np.int64)
    n, m = mask.shape
    size = block_rows(m)
    parts, found = [], 0
    for lo in range(0, n, size):
        parts.append(np.flatnonzero(mask[lo : lo + size]) + lo * m)
        found += len(parts[-1])
        if limit is not None and found > limit:
            break
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def count(mask: Any) -> int:
    """Number of true entries of an (items, reps) mask."""
    if not isinstance(mask, Pairs):
        return int(np.count_nonzero(mask))
    size = block_rows(mask.shape[1])
    return sum(int(np.count_nonzero(mask[lo : lo + size])) for lo in range(0, len(mask), size))


def without(mask: Any, arcs: IntArray) -> Any:
    """``mask`` with the (sorted) flat ``arcs`` set to False: a copy, or lazy for Pairs."""
    m = mask.shape[1]
    if not isinstance(mask, Pairs):
        out = np.array(mask, bool, copy=True)
        out.ravel()[arcs] = False  # a view: the copy is contiguous
        return out

    def fn(rows: Rows, cols: IntArray | None, outer: bool) -> np.ndarray:
        values = np.array(mask.fn(rows, cols, outer), bool, copy=True)
        if not outer:
            assert not isinstance(rows, slice) and cols is not None
            return values & ~np.isin(rows * m + cols, arcs)
        assert isinstance(rows, slice) and cols is None, "row slices only"
        inside = arcs[np.searchsorted(arcs, rows.start * m) : np.searchsorted(arcs, rows.stop * m)]
        values[inside // m - rows.start, inside % m] = False
        return values

    return Pairs(mask.shape, fn, bool)
