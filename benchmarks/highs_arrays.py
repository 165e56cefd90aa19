"""The dense arc model handed to HiGHS straight from numpy arrays (no PuLP objects at all).

Columns: every eligible arc, then ``d+``/``d-`` of each deviation row. Rows: ``assign_once``
per item, then every row family. The matrix is assembled in CSC form with numpy and passed in
one ``passModel`` call; this is the floor of model-building cost for the all-pairs model.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from allocator.solver.highs import use_threads
from allocator.territory.core import ArcProblem
from benchmarks.naive import DenseRun

__all__ = ["build_arrays", "solve_arrays"]

INF = highspy.kHighsInf


def _family_rows(problem: ArcProblem, ii: np.ndarray, rr: np.ndarray, first: int):
    """(row index, column index, value) triplets and (lower, upper) of every family row."""
    n, m = problem.shape
    rows, cols, vals, lower, upper = [], [], [], [], []
    dev_cost: list[float] = []
    row = first
    extra = len(ii)
    for family in problem.families:
        coef = np.broadcast_to(family.coef, (n, m))[ii, rr]
        index = {"rep": rr, "item": ii, "one": np.zeros_like(ii)}[family.axis]
        keep = coef != 0
        rows.append(row + index[keep])
        cols.append(np.flatnonzero(keep))
        vals.append(coef[keep])
        rhs = family.rhs.astype(float)
        lower.append(np.where(family.sense == "<=", -INF, rhs))
        upper.append(np.where(family.sense == ">=", INF, rhs))
        if family.deviation is not None:
            k = len(rhs)
            rows += [row + np.arange(k), row + np.arange(k)]
            cols += [extra + 2 * np.arange(k), extra + 2 * np.arange(k) + 1]
            vals += [-np.ones(k), np.ones(k)]
            weight = family.deviation * problem.balance_weight
            dev_cost += np.repeat(weight, 2).tolist()
            extra += 2 * k
        row += len(rhs)
    cat = np.concatenate
    return cat(rows), cat(cols), cat(vals), cat(lower), cat(upper), np.array(dev_cost), row


def build_arrays(problem: ArcProblem) -> tuple[highspy.HighsModel, np.ndarray]:
    """The dense MIP as a ``HighsModel`` and the flat arc id of each x column."""
    n, m = problem.shape
    arcs = problem.all_arcs
    ii, rr = arcs // m, arcs % m
    k = len(arcs)
    frows, fcols, fvals, flo, fup, dev_cost, n_rows = _family_rows(problem, ii, rr, n)
    rows = np.concatenate([ii, frows])
    cols = np.concatenate([np.arange(k), fcols])
    vals = np.concatenate([np.ones(k), fvals])
    n_cols = k + len(dev_cost)
    order = np.lexsort((rows, cols))
    rows, cols, vals = rows[order], cols[order], vals[order]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = np.concatenate([problem.cost[ii, rr], dev_cost])
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.concatenate([np.ones(k), np.full(len(dev_cost), INF)])
    lp.row_lower_ = np.concatenate([np.ones(n), flo])
    lp.row_upper_ = np.concatenate([np.ones(n), fup])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(cols, np.arange(n_cols + 1)).astype(np.int32)
    lp.a_matrix_.index_ = rows.astype(np.int32)
    lp.a_matrix_.value_ = vals
    lp.integrality_ = [highspy.HighsVarType.kInteger] * k + [highspy.HighsVarType.kContinuous] * (
        n_cols - k
    )
    model = highspy.HighsModel()
    model.lp_ = lp
    return model, arcs


def solve_arrays(problem: ArcProblem, *, time_limit: float, gap: float, threads: int) -> DenseRun:
    """Build the dense model from numpy and solve it with highspy in what is left of
    ``time_limit`` (building counts); every improving MIP solution goes to the trace."""
    began = time.perf_counter()
    model, arcs = build_arrays(problem)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    left = max(time_limit - (time.perf_counter() - began), 1.0)
    h.setOptionValue("time_limit", float(left))
    h.setOptionValue("mip_rel_gap", float(gap))
    # resets HiGHS's process-wide thread pool when an earlier solve used another thread count
    # (else this solve fails with status 'Not Set'; seen when tests ran after other solves)
    use_threads(h, int(threads))
    h.passModel(model)
    trace: list[tuple[float, float]] = []
    h.cbMipImprovingSolution.subscribe(
        lambda e: trace.append((time.perf_counter() - began, e.data_out.objective_function_value))
    )
    # HiGHS can overrun its time_limit by many seconds (a long cut or LP phase under load):
    # stop it at the same wall time as the other methods
    ends = began + time_limit

    def stop(e: highspy.HighsCallbackEvent) -> None:
        if time.perf_counter() > ends:
            e.interrupt()

    h.cbMipInterrupt.subscribe(stop)
    h.cbSimplexInterrupt.subscribe(stop)
    built = time.perf_counter()
    h.run()
    solved = time.perf_counter()
    info = h.getInfo()
    n, m = problem.shape
    assign = np.full(n, -1, np.int64)
    has = info.primal_solution_status == 2
    if has:
        values = np.asarray(h.getSolution().col_value)[: len(arcs)]
        pick = arcs[values > 0.5]
        assign[pick // m] = pick % m
    bound = info.mip_dual_bound if np.isfinite(info.mip_dual_bound) else None
    return DenseRun(
        assign=assign,
        objective=float(info.objective_function_value) if has else None,
        bound=bound,
        status=h.modelStatusToString(h.getModelStatus()),
        build_seconds=built - began,
        solve_seconds=solved - built,
        variables=len(arcs),
        trace=tuple(trace),
    )
