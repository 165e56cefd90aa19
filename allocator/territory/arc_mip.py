"""The arc MIP straight into HiGHS from numpy arrays: no PuLP object per arc at scale.

The rows and columns are those of :class:`allocator.territory.arc_lp.ArcLp` (the program of
:func:`allocator.territory.core.build_model` without contiguity, each family row divided by
``max(1, |rhs|)``), with the arc columns binary. At 1,000,000 arcs PuLP needs about a
kilobyte and several microseconds per variable and per row term before HiGHS sees the model;
these arrays need about 40 bytes per arc. Small models (fewer than :data:`ARRAYS_FROM` arcs),
other solvers and contiguity cuts keep the PuLP path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace

import highspy
import numpy as np
import numpy.typing as npt

from allocator.io.settings import SolverSettings
from allocator.solver import HighsLpSession, SolveReport, Status
from allocator.solver.deadline import OVERRUNS, call_limit, current_deadline
from allocator.solver.highs import read_report, trace_incumbents
from allocator.solver.report import spent_report
from allocator.territory.arc_lp import _arc_columns, _extra_columns, _rows
from allocator.territory.core import ArcProblem, activities, row_slack, slack_scale

__all__ = [
    "ARRAYS_FROM",
    "PRESOLVE_UP_TO",
    "elastic_mip",
    "presolve_up_to",
    "solve_arc_mip",
    "use_arrays",
]

log = logging.getLogger("allocator")

IntArray = npt.NDArray[np.int64]

#: From this many arcs on, a MIP without contiguity goes to HiGHS from arrays, not PuLP.
ARRAYS_FROM = 50_000

#: Within :func:`presolve_up_to` blocks (the ascent's plan at 250,000 x 2,000), larger MIPs run
#: without HiGHS's presolve. Presolve does not check the clock everywhere: there a
#: neighbourhood MIP stayed in ``HPresolve::strengthenInequalities`` more than ten minutes past
#: its limit (HiGHS 1.16; the single row over every arc, ``max_moved``, is the kind of dense
#: row that rule works on), where ``solver.time_limit`` must bound the whole run. Elsewhere
#: presolve stays on: at 100,000 x 1,000 the final MIP has 650,000 arcs and needs it.
PRESOLVE_UP_TO = 400_000

_UP_TO: ContextVar[int | None] = ContextVar("presolve_up_to", default=None)


@contextmanager
def presolve_up_to(arcs: int) -> Iterator[None]:
    """Within the block, MIPs from arrays over ``arcs`` arcs run without HiGHS's presolve."""
    token = _UP_TO.set(arcs)
    try:
        yield
    finally:
        _UP_TO.reset(token)


def use_arrays(problem: ArcProblem, arcs: IntArray, solver: SolverSettings, cuts: object) -> bool:
    """Whether the MIP over ``arcs`` is built from arrays (``problem.mip_arrays``, HiGHS, no
    contiguity, at least :data:`ARRAYS_FROM` arcs)."""
    return (
        problem.mip_arrays
        and solver.name == "highs"
        and problem.contiguity is None
        and not cuts
        and len(arcs) >= ARRAYS_FROM
    )


def solve_arc_mip(
    problem: ArcProblem,
    arcs: IntArray,
    solver: SolverSettings,
    *,
    start: IntArray | None = None,
    time_limit: float | None = None,
    deadline: float | None = None,
) -> tuple[SolveReport, IntArray | None]:
    """Solve the binary program over ``arcs`` (sorted flat arc ids) in HiGHS.

    ``start`` (a rep per item, its arcs among ``arcs``) is passed as a feasible solution.
    The call gets ``time_limit`` capped by what ``deadline`` (None: the run's) leaves, as
    :func:`allocator.solver.solve` does. Returns the report (objective in the
    model's units, HiGHS's MIP dual bound) and the rep per item (-1 where none), or None
    without a solution.
    """
    deadline = current_deadline() if deadline is None else deadline
    if deadline is None and time_limit is None:
        time_limit = solver.time_limit
    limit = call_limit(deadline, cap=time_limit)
    if limit <= 0:
        return spent_report(solver.name), None
    began = time.monotonic()
    h, first = _build(problem, arcs, solver, limit, None)
    up_to = _UP_TO.get()
    if up_to is not None and len(arcs) > up_to:
        h.setOptionValue("presolve", "off")
    if start is not None:
        h.setSolution(_start(problem, arcs, start, first))
    trace_incumbents(h)
    h.run()
    report, assign = _read(h, problem, arcs, first)
    seconds = time.monotonic() - began
    report = replace(
        report, seconds=seconds, time_limit=limit, overrun=OVERRUNS.record(limit, seconds)
    )
    log.info("arc MIP from arrays (%d arcs): %s", len(arcs), report.summary())
    return report, assign


def elastic_mip(
    problem: ArcProblem,
    arcs: IntArray,
    start: IntArray,
    solver: SolverSettings,
    penalty: float,
    time_limit: float,
) -> IntArray | None:
    """The binary program over ``arcs`` (sorted flat ids) in its true costs with a slack on
    every soft row at ``penalty`` per unit (its right-hand side): the *elastic* MIP of
    :mod:`allocator.territory.repair`. ``start`` (rep per item, its arcs among ``arcs``) is
    feasible for it and is its warm start, so HiGHS's answer is never worse; it stops at
    ``solver.gap`` or after ``time_limit`` s. The rep per item, or None without one."""
    began = time.monotonic()
    h, first = _build(problem, arcs, solver, max(time_limit, 0.1), penalty)
    h.setSolution(_start(problem, arcs, start, first, elastic=True))
    h.run()
    OVERRUNS.record(time_limit, time.monotonic() - began)
    if h.getInfo().primal_solution_status != 2:  # kSolutionStatusFeasible
        return None
    x = np.asarray(h.getSolution().col_value, float)[first:]
    return _assignment(arcs, x, problem.shape)


def _build(
    problem: ArcProblem,
    arcs: IntArray,
    solver: SolverSettings,
    limit: float,
    penalty: float | None,
) -> tuple[highspy.Highs, int]:
    """The binary program over ``arcs`` in HiGHS (hard rows; with ``penalty``, elastic) and
    the index of its first arc column."""
    elastic = penalty is not None
    names, lower, upper, scale, offsets = _rows(problem, elastic=elastic)
    session = HighsLpSession(lower / scale, upper / scale, names, solver)
    extra = _extra_columns(problem, offsets, scale, elastic=elastic, penalty=penalty)
    session.add_columns(extra)
    cols = _arc_columns(problem, offsets, scale, arcs, elastic=False)
    session.add_columns(replace(cols, upper=np.ones(len(arcs))))
    h = session.highs
    first = len(extra)
    index = np.arange(first, first + len(arcs), dtype=np.int32)
    h.changeColsIntegrality(len(index), index, np.ones(len(index), np.uint8))
    h.setOptionValue("mip_rel_gap", float(solver.gap))
    h.setOptionValue("time_limit", float(limit))
    return h, first


def _start(
    problem: ArcProblem, arcs: IntArray, start: IntArray, first: int, *, elastic: bool = False
) -> highspy.HighsSolution:
    """Every column's value at ``start``: its arcs at 1, each deviation row's ``d+``/``d-``
    and, ``elastic``, each soft row's slack (its excess, in units of its right-hand side)."""
    m = len(problem.reps)
    values = np.zeros(first + len(arcs))
    chosen = np.arange(len(start)) * m + start
    values[first + np.searchsorted(arcs, chosen)] = 1.0
    k = 0
    for family in problem.families:
        size = len(family.rhs)
        if family.deviation is not None:
            gap = activities(problem, family, start) - family.rhs
            values[k : k + size] = np.maximum(gap, 0.0)  # d+ (coefficient -1 in the row)
            values[k + size : k + 2 * size] = np.maximum(-gap, 0.0)  # d-
            k += 2 * size
        if elastic and family.soft:
            over = -row_slack(family, activities(problem, family, start))
            unit = slack_scale(family.rhs)
            values[k : k + size] = np.maximum(over, 0.0) / unit
            k += size
    sol = highspy.HighsSolution()
    sol.col_value = values.tolist()
    sol.value_valid = True
    return sol


def _read(
    h: highspy.Highs, problem: ArcProblem, arcs: IntArray, first: int
) -> tuple[SolveReport, IntArray | None]:
    report = read_report(h, is_mip=True)
    assign = None
    if report.has_solution:
        x = np.asarray(h.getSolution().col_value, float)[first:]
        assign = _assignment(arcs, x, problem.shape)
    if report.status is Status.INFEASIBLE:
        report = replace(report, objective=None, bound=None, gap=None)
    return report, assign


def _assignment(arcs: IntArray, x: npt.NDArray[np.float64], shape: tuple[int, int]) -> IntArray:
    """Rep per item: the arc with the largest value (as :func:`core.read_assignment`)."""
    n, m = shape
    ii, rr = arcs // m, arcs % m
    order = np.lexsort((-x, ii))
    first = order[np.r_[True, ii[order][1:] != ii[order][:-1]]] if len(order) else order
    assign = np.full(n, -1, np.int64)
    assign[ii[first]] = rr[first]
    return assign
