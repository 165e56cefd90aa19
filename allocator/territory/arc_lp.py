"""The territory LP relaxation straight into HiGHS: numpy arrays in, one model reused across
rounds.

Large LPs (``MERGE_FROM`` initial arcs and up) take an equivalent smaller form and a starting
basis (``models/assignment.md``, "The first LP at scale"): the balance band folded into the
deviation row, single rows over every arc (``max_moved``) added only when the optimum breaks
them, and each item's cheapest arc as a dual feasible crash basis. Same optimum, same duals by
row name; an LP stopped at its limit still returns the duals it had.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import highspy
import numpy as np
import numpy.typing as npt

from allocator.io.settings import SolverSettings
from allocator.solver import ArrayColumns, HighsLpSession, SolveReport, Status
from allocator.territory.core import ArcProblem, row_slack, slack_scale
from allocator.territory.pairs import at

__all__ = ["MERGE_FROM", "ArcLp", "merged_bands"]

log = logging.getLogger("allocator")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Divide each family row by max(1, |rhs|) in the HiGHS LP (balance rows hold raw potential).
SCALE_ROWS = True

#: From this many initial arcs on, the LP takes its large form: the balance band folded into
#: the deviation row (:func:`merged_bands`), lazy single rows, a crash basis (:meth:`ArcLp.crash`).
MERGE_FROM = 200_000


class ArcLp:
    """The LP relaxation over a growing arc set, built from numpy arrays into one HiGHS model.

    Rows as :func:`allocator.territory.core.build_model` (same names, for the duals), each family
    row divided by ``max(1, |rhs|)`` (the duals are scaled back); columns: the deviation and
    slack columns first, then the arcs in the order they were added. ``merge`` (None: from
    :data:`MERGE_FROM` arcs on, never for the elastic LP) selects the large form: folded
    bands (``merged``), ``lazy`` single rows (family indices not yet in the model) and the
    crash basis.
    """

    def __init__(
        self,
        problem: ArcProblem,
        arcs: IntArray,
        solver: SolverSettings,
        *,
        elastic: bool,
        merge: bool | None = None,
    ) -> None:
        self.problem, self.elastic = problem, elastic
        if merge is None:
            merge = len(arcs) >= MERGE_FROM
        self.merged = merged_bands(problem, elastic=elastic) if merge else {}
        # single rows over every arc (max_moved: dense) wait until the LP violates them
        self.lazy = [
            k for k, f in enumerate(problem.families) if merge and not elastic and f.axis == "one"
        ]
        skip = {j for pair in self.merged.values() for j in pair} | set(self.lazy)
        names, lower, upper, self.scale, self.offsets = _rows(problem, elastic=elastic, skip=skip)
        self.session = HighsLpSession(lower / self.scale, upper / self.scale, names, solver)
        extra = _extra_columns(
            problem, self.offsets, self.scale, elastic=elastic, merged=self.merged
        )
        self.session.add_columns(extra)
        self.first = len(extra)
        self.order = np.zeros(0, np.int64)
        self.arcs = np.zeros(0, np.int64)
        self.add(arcs)
        if merge and not elastic:
            self.crash()

    def add(self, arcs: IntArray) -> None:
        """Add the columns of ``arcs`` (not yet in the model)."""
        arcs = np.asarray(arcs, np.int64)
        self.session.add_columns(
            _arc_columns(self.problem, self.offsets, self.scale, arcs, elastic=self.elastic)
        )
        self.order = np.concatenate([self.order, arcs])
        self.arcs = np.sort(self.order)

    def crash(self) -> bool:
        """Start the next solve from each item's cheapest arc: that arc basic in its
        ``assign_once`` row, every other row's slack basic, all else at zero.

        The basis is dual feasible (every reduced cost is the arc's cost minus its item's
        cheapest, >= 0; the deviation columns keep their weights), so the dual simplex starts
        in its phase 2 at the bound ``sum_i min_r c[i,r]`` and only has to repair the rep rows,
        instead of first pivoting every ``assign_once`` row's artificial out of a slack basis
        (about one iteration per item). Returns False (no basis set) when an item has no arc.
        """
        n, m = self.problem.shape
        arcs = self.order
        ii = arcs // m
        cost = np.asarray(self.problem.cost[ii, arcs % m], float)
        order = np.lexsort((cost, ii))
        head = order[np.r_[True, ii[order][1:] != ii[order][:-1]]] if len(order) else order
        if len(head) != n:
            return False
        h = self.session.highs
        kind = highspy.HighsBasisStatus
        cols = np.zeros(self.first + len(arcs), np.int8)
        cols[self.first + head] = 1
        rows = np.ones(h.getNumRow(), np.int8)
        rows[:n] = 0
        basis = highspy.HighsBasis()
        status = (kind.kLower, kind.kBasic)
        basis.col_status = [status[k] for k in cols.tolist()]
        basis.row_status = [status[k] for k in rows.tolist()]
        basis.valid = True
        return bool(h.setBasis(basis) == highspy.HighsStatus.kOk)

    def run(self, time_limit: float) -> tuple[SolveReport, FloatArray]:
        """Solve; the report's duals are per original (unscaled) row; values follow ``arcs``.

        A lazy row (:attr:`lazy`) that the optimum violates is added and the LP re-solved
        (warm) until none is: without it the LP is a relaxation, so an optimum that satisfies
        it is optimal with it too; an absent row's dual is 0."""
        ends = time.monotonic() + time_limit
        report, values, row_dual = self.session.run(time_limit)
        while report.status is Status.OPTIMAL and self._activate(values):
            report, values, row_dual = self.session.run(max(0.0, ends - time.monotonic()))
        if report.status in (Status.TIME_LIMIT, Status.ERROR) and not len(row_dual):
            values, row_dual = self._unfinished()
        if len(row_dual):
            pi = row_dual / self.scale
            duals = dict(zip(self.session.row_names, pi.tolist(), strict=True))
            duals.update((self.problem.families[k].pulp_name(0), 0.0) for k in self.lazy)
            report = replace(report, duals=_unfold(self.problem, self.merged, duals))
        x = np.zeros(len(self.arcs))
        if len(values):
            x = values[self.first :][np.argsort(self.order, kind="stable")]
        return report, x

    def _activate(self, values: FloatArray) -> bool:
        """Add the lazy rows that ``values`` (all columns) violate; True when any was."""
        n, m = self.problem.shape
        ii, rr = self.order // m, self.order % m
        x = values[self.first :]
        added = False
        for k in list(self.lazy):
            family = self.problem.families[k]
            coef = at(family.coef, (n, m), ii, rr)
            rhs = float(family.rhs[0])
            if row_slack(family, np.array([coef @ x]))[0] >= -1e-7 * max(1.0, abs(rhs)):
                continue
            self.lazy.remove(k)
            scale = max(1.0, abs(rhs))
            h = self.session.highs
            self.offsets[k] = h.getNumRow()
            self.scale = np.append(self.scale, scale)
            self.session.row_names.append(family.pulp_name(0))
            inf = highspy.kHighsInf
            low = -inf if family.sense == "<=" else rhs / scale
            high = inf if family.sense == ">=" else rhs / scale
            cols = np.flatnonzero(coef).astype(np.int32)
            h.addRow(low, high, len(cols), cols + self.first, coef[cols] / scale)
            log.info("LP: row %s is binding; added", family.pulp_name(0))
            added = True
        return added

    def _unfinished(self) -> tuple[FloatArray, FloatArray]:
        """The column values (clipped to [0, 1]) and row duals where an LP stopped at its time
        limit, when HiGHS has them (the dual simplex keeps a basis: its duals are valid
        Lagrangian multipliers once clipped, :mod:`allocator.territory.bound`); else empty."""
        h = self.session.highs
        solution = h.getSolution()
        if not solution.dual_valid or not solution.value_valid:
            return np.zeros(0), np.zeros(0)
        values = np.clip(np.asarray(solution.col_value, float), 0.0, 1.0)
        return values, np.asarray(solution.row_dual, float)


def merged_bands(problem: ArcProblem, *, elastic: bool) -> dict[int, tuple[int, int]]:
    """Deviation families whose balance band can be folded into them: family index ->
    (``balance_lo`` index, ``balance_hi`` index).

    The three rows of a rep and measure share their coefficients ``mu[i]``; with
    ``sum mu x - d+ + d- = f`` the band ``lo <= sum mu x <= hi`` is the same as the column
    bounds ``d+ <= hi - f`` and ``d- <= f - lo`` (``d+``, ``d-`` >= 0, both costed, so at most
    one is positive at an optimum; the set of feasible ``x`` is unchanged either way). The LP
    keeps one row instead of three, with the same optimum; :func:`_unfold` gives back duals of
    the three rows. Not for the elastic LP or with a ``goal_balance`` cap.
    """
    if elastic or problem.balance_cap is not None:
        return {}
    index = {f.key: k for k, f in enumerate(problem.families)}
    out: dict[int, tuple[int, int]] = {}
    for k, dev in enumerate(problem.families):
        measure = dev.key.removeprefix("deviation_")
        lo, hi = index.get(f"balance_lo_{measure}"), index.get(f"balance_hi_{measure}")
        if dev.deviation is None or dev.axis != "rep" or lo is None or hi is None:
            continue
        low, high = problem.families[lo], problem.families[hi]
        if (
            low.coef is dev.coef
            and high.coef is dev.coef
            and (low.axis, low.sense, high.axis, high.sense) == ("rep", ">=", "rep", "<=")
            and bool(np.all(high.rhs >= dev.rhs))
            and bool(np.all(dev.rhs >= low.rhs))
        ):
            out[k] = (lo, hi)
    return out


def _unfold(
    problem: ArcProblem, merged: dict[int, tuple[int, int]], duals: dict[str, float]
) -> dict[str, float]:
    """Duals of the folded rows: the deviation row's dual ``y`` splits into ``eta`` (``y``
    clipped to the deviation weight ``w``) and the rest, which goes to the band row that is
    tight (``y - eta > 0``: ``balance_lo``; ``< 0``: ``balance_hi``). Arcs see the same
    ``mu (y)`` either way, and the dual objective is the folded LP's: these are optimal duals
    of the unfolded LP."""
    families = problem.families
    for k, (lo, hi) in merged.items():
        dev = families[k]
        size = len(dev.rhs)
        y = np.array([duals[dev.pulp_name(j)] for j in range(size)])
        assert dev.deviation is not None
        w = np.asarray(dev.deviation, float) * problem.balance_weight
        eta = np.clip(y, -w, w)
        rest = y - eta
        for family, pi in ((dev, eta), (families[lo], np.maximum(rest, 0.0))):
            duals.update((family.pulp_name(j), float(pi[j])) for j in range(size))
        high = np.minimum(rest, 0.0)
        duals.update((families[hi].pulp_name(j), float(high[j])) for j in range(size))
    return duals


def _rows(
    problem: ArcProblem, *, elastic: bool, skip: set[int] | None = None
) -> tuple[list[str], FloatArray, FloatArray, FloatArray, list[int]]:
    """Row names, lower and upper bounds, scale divisors and each family's first row (-1 for
    the families in ``skip``: a band folded into its deviation row, a lazy row)."""
    n = len(problem.items)
    names = [f"assign_once_{i}" for i in range(n)]
    lower, upper, scale, offsets = [np.ones(n)], [np.ones(n)], [np.ones(n)], []
    for k, family in enumerate(problem.families):
        if k in (skip or set()):
            offsets.append(-1)
            continue
        offsets.append(len(names))
        rhs = np.asarray(family.rhs, float)
        names += [family.pulp_name(j) for j in range(len(rhs))]
        lower.append(rhs if family.sense != "<=" else np.full(len(rhs), -np.inf))
        upper.append(rhs if family.sense != ">=" else np.full(len(rhs), np.inf))
        scale.append(np.maximum(1.0, np.abs(rhs)) if SCALE_ROWS else np.ones(len(rhs)))
    if problem.balance_cap is not None and not elastic:
        names.append("goal_balance")
        lower.append(np.array([-np.inf]))
        upper.append(np.array([float(problem.balance_cap)]))
        scale.append(np.ones(1))
    cat = np.concatenate
    return names, cat(lower), cat(upper), cat(scale), offsets


def _columns(
    cost: FloatArray,
    rows: IntArray,
    cols: IntArray,
    vals: FloatArray,
    upper: FloatArray | None = None,
) -> ArrayColumns:
    """Columns 0..len(cost)-1 from (row, column, value) triplets (upper bounds: inf)."""
    order = np.lexsort((rows, cols))
    starts = np.searchsorted(cols[order], np.arange(len(cost) + 1))
    lower = np.zeros(len(cost))
    upper = np.full(len(cost), np.inf) if upper is None else upper
    return ArrayColumns(cost, lower, upper, starts, rows[order], vals[order])


def _arc_columns(
    problem: ArcProblem,
    offsets: list[int],
    scale: FloatArray,
    arcs: IntArray,
    *,
    elastic: bool,
) -> ArrayColumns:
    n, m = problem.shape
    ii, rr = arcs // m, arcs % m
    k = np.arange(len(arcs))
    rows, cols, vals = [ii], [k], [np.ones(len(arcs))]
    for family, first in zip(problem.families, offsets, strict=True):
        if first < 0:  # folded into its deviation row
            continue
        coef = at(family.coef, (n, m), ii, rr)
        index = {"rep": rr, "item": ii, "one": np.zeros_like(ii)}[family.axis] + first
        keep = coef != 0
        rows.append(index[keep])
        cols.append(k[keep])
        vals.append(coef[keep] / scale[index[keep]])
    cost = np.zeros(len(arcs)) if elastic else np.asarray(problem.cost[ii, rr], float)
    cat = np.concatenate
    return _columns(cost, cat(rows), cat(cols), cat(vals))


def _extra_columns(
    problem: ArcProblem,
    offsets: list[int],
    scale: FloatArray,
    *,
    elastic: bool,
    merged: dict[int, tuple[int, int]] | None = None,
    penalty: float | None = None,
) -> ArrayColumns:
    """``d+``/``d-`` of every deviation row (bounded by the band when it is folded in), then
    the slack of every soft row when elastic. Elastic columns cost 0 (deviations) and 1 per
    unit of slack (phase 1), or with ``penalty`` their true weights and ``penalty`` per unit of
    slack (the repair's elastic MIP)."""
    goal = len(scale) - 1  # the goal_balance row, when there is one
    with_goal = problem.balance_cap is not None and not elastic
    merged = merged or {}
    upper: list[FloatArray] = []
    cost: list[FloatArray] = []
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    count = 0
    for k, (family, first) in enumerate(zip(problem.families, offsets, strict=True)):
        if first < 0:
            continue
        j = first + np.arange(len(family.rhs))
        col = count + np.arange(len(j))
        if family.deviation is not None:
            weight = np.asarray(family.deviation, float)
            for sign in (-1.0, 1.0):
                upper.append(_band(problem, k, merged, sign))
                zero = elastic and penalty is None
                cost.append(np.zeros(len(j)) if zero else weight * problem.balance_weight)
                rows += [j, np.full(len(j), goal)] if with_goal else [j]
                cols += [col, col] if with_goal else [col]
                vals += [sign / scale[j], weight] if with_goal else [sign / scale[j]]
                count, col = count + len(j), col + len(j)
        if elastic and family.soft:
            sign = -1.0 if family.sense == "<=" else 1.0
            unit = slack_scale(family.rhs)
            upper.append(np.full(len(j), np.inf))
            cost.append(np.full(len(j), 1.0 if penalty is None else penalty))
            rows.append(j)
            cols.append(col)
            vals.append(sign * unit / scale[j])
            count += len(j)
    if not cost:
        return _columns(np.zeros(0), *(np.zeros(0, np.int64),) * 2, np.zeros(0))
    cat = np.concatenate
    return _columns(cat(cost), cat(rows), cat(cols), cat(vals), cat(upper))


def _band(
    problem: ArcProblem, k: int, merged: dict[int, tuple[int, int]], sign: float
) -> FloatArray:
    """Upper bounds of ``d+`` (``sign`` -1: ``hi - f``) or ``d-`` (+1: ``f - lo``) of the
    deviation family ``k``; inf unless its band is folded in."""
    dev = problem.families[k]
    if k not in merged:
        return np.full(len(dev.rhs), np.inf)
    lo, hi = merged[k]
    other = problem.families[hi if sign < 0 else lo].rhs
    return np.abs(np.asarray(other, float) - np.asarray(dev.rhs, float))
