"""The least change of a setting that makes an infeasible territory possible, computed by a MIP.

Each :class:`~allocator.territory.core.Relaxation` of an :class:`ArcProblem` says how a scenario
setting (``assignment.constraints.balance.tolerance``, ``...capacity.tolerance``,
``...max_accounts.limit``, ``...continuity.max_moved_share``) moves the limits of its rows.
For one setting ``s`` now at ``v`` the MIP

    min t   s.t.   every row of the model, the rows of s moved outwards by per_unit * t,  t >= 0

has the optimum ``t*``: ``v + t*`` is the least value of ``s`` that admits a plan with every other
setting unchanged (``models/assignment.md``, "Infeasibility"). When no setting suffices alone,
all move together (``min sum t_s / scale_s``). The values come from the solver, never from a
rule of thumb; a solve that ran out of time says so and gives the value it found as sufficient,
not as least.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pulp

from allocator.io.settings import SolverSettings
from allocator.solver import SolveReport, Status, solve
from allocator.solver.deadline import time_left
from allocator.territory.core import (
    ArcModel,
    ArcProblem,
    activities,
    build_model,
    read_assignment,
)

__all__ = ["Change", "least_changes", "render_changes"]

log = logging.getLogger("allocator")

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Change:
    """The least value of one setting (``needed``; None when no value of it alone works).

    ``proven`` is False when the solve stopped at its time limit (then ``needed`` suffices but
    may not be least) or found nothing in time (``needed`` None, ``timed_out``). ``alternatives``
    are per-rep data changes that would work as well (capacity of a rep, in its unit).
    """

    setting: str
    value: float
    needed: float | None
    upper: float | None
    proven: bool
    timed_out: bool = False
    alternatives: tuple[str, ...] = ()
    why: str = "time ran out before it was proven least"


def _settings(problem: ArcProblem) -> list[str]:
    return sorted({r.setting for r in problem.relax.values()})


def _relaxed(problem: ArcProblem, arcs: IntArray, chosen: list[str]) -> tuple[ArcModel, dict]:
    """The hard model with one variable per chosen setting moving its rows' limits."""
    model = build_model(problem, arcs, integer=True)
    t = {s: model.prob.add_variable(f"relax_{k}", 0) for k, s in enumerate(chosen)}
    scale: dict[str, float] = {}
    for name, (family, j) in model.rows.items():
        relax = None if family is None else problem.relax.get(family.key)
        if family is None or relax is None or relax.setting not in t:
            continue
        coef = float(relax.per_unit[j])
        scale[relax.setting] = max(1.0, abs(relax.value)) if relax.integer else 1.0
        if coef:
            sign = -1.0 if family.sense == "<=" else 1.0
            model.prob.constraints[name].addInPlace(t[relax.setting] * (sign * coef))
    model.prob.setObjective(pulp.lpSum(v * (1.0 / scale.get(s, 1.0)) for s, v in t.items()))
    return model, t


def _change(
    problem: ArcProblem, model: ArcModel, t: dict, setting: str, report: SolveReport
) -> Change:
    first = next(r for r in problem.relax.values() if r.setting == setting)
    if not report.has_solution:
        return Change(
            setting,
            first.value,
            None,
            first.upper,
            proven=report.status is Status.INFEASIBLE,
            timed_out=report.status is Status.TIME_LIMIT,
        )
    needed = first.value + max(0.0, t[setting].varValue or 0.0)
    needed = math.ceil(needed - 1e-6) if first.integer else needed
    alternatives = _capacity_alternatives(problem, model) if "capacity" in setting else ()
    proven = report.status is Status.OPTIMAL
    return Change(setting, first.value, needed, first.upper, proven, False, alternatives)


def _capacity_alternatives(problem: ArcProblem, model: ArcModel) -> tuple[str, ...]:
    """Per rep over its capacity in the plan found: the capacity that would hold it."""
    n, m = problem.shape
    assign = read_assignment(model, n, m)
    if (assign < 0).any():
        return ()
    out = []
    for family in problem.families:
        relax = problem.relax.get(family.key)
        if relax is None or "capacity" not in relax.setting:
            continue
        over = activities(problem, family, assign) - family.rhs
        factor = 1.0 + relax.value  # the limit is (1 + tolerance) x capacity
        for j in np.flatnonzero(over > 1e-6 * np.maximum(1.0, np.abs(family.rhs))):
            now = float(relax.per_unit[j])
            out.append(
                f"capacity of {family.labels[j]} >= {_num(now + over[j] / factor)} "
                f"{family.unit} (now {_num(now)})"
            )
    return tuple(out)


def least_changes(
    problem: ArcProblem,
    arcs: IntArray,
    solver: SolverSettings,
    *,
    deadline: float | None,
    every: bool = True,
) -> tuple[list[Change], Change | None]:
    """The least value of each setting alone, and (when none suffices alone) of all together.

    Returns the single-setting changes and the joint one (None when a single one works). Each
    solve gets an equal share of the time left before ``deadline``. ``every`` says ``arcs`` are
    all the eligible arcs; over fewer, a value found works but is not proven least.
    """
    names = _settings(problem)
    singles: list[Change] = []
    for k, setting in enumerate(names):
        model, t = _relaxed(problem, arcs, [setting])
        limit = time_left(deadline) / (len(names) - k + 1)
        report = solve(model.prob, solver, time_limit=max(limit, 0.5), deadline=deadline)
        change = _change(problem, model, t, setting, report)
        if not every and change.proven:
            why = "computed over the candidate arcs: a smaller value may work too"
            change = replace(change, proven=False, why=why)
        singles.append(change)
    if any(c.needed is not None for c in singles) or len(names) < 2:
        return singles, None
    model, t = _relaxed(problem, arcs, names)
    report = solve(model.prob, solver, time_limit=max(time_left(deadline), 0.5), deadline=deadline)
    if not report.has_solution:
        return singles, Change(
            " + ".join(names),
            0.0,
            None,
            None,
            report.status is Status.INFEASIBLE,
            timed_out=report.status is Status.TIME_LIMIT,
        )
    together = [_change(problem, model, t, s, report) for s in names]
    joint = "; ".join(_value(c) for c in together if c.needed is not None and c.needed > c.value)
    proven = all(c.proven for c in together)
    return singles, Change("together", 0.0, 0.0, None, proven, alternatives=(joint,))


def _num(value: float) -> str:
    """``1,212``, ``0.137``: thousands separators, three significant decimals at most."""
    if abs(value) >= 100:
        return f"{math.ceil(value - 1e-9):,}"
    text = f"{math.ceil(value * 1000 - 1e-6) / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _value(change: Change) -> str:
    assert change.needed is not None
    return f"`{change.setting}` >= {_num(change.needed)} (now {_num(change.value)})"


def render_changes(singles: list[Change], joint: Change | None, *, contiguity: bool) -> list[str]:
    """The diagnosis lines: each setting that works alone with its least value, then the rest."""
    note = " (contiguity not counted: it may need more)" if contiguity else ""
    out = []
    for c in singles:
        if c.needed is not None and c.upper is not None and c.needed > c.upper + 1e-9:
            out.append(
                f"{_value(c)} would be needed, above its largest value {_num(c.upper)}: "
                "this rule cannot be met by its setting; drop it or change the data"
            )
        elif c.needed is not None:
            least = (
                "is the least value that makes a plan possible"
                if c.proven
                else f"makes a plan possible ({c.why})"
            )
            alt = f"; or {', '.join(c.alternatives[:5])}" if c.alternatives else ""
            out.append(f"{_value(c)} {least}{note}{alt}")
        elif c.timed_out:
            out.append(f"`{c.setting}`: time ran out before its least value was found")
        else:
            out.append(f"`{c.setting}` alone cannot make a plan possible, whatever its value")
    if joint is not None and joint.needed is not None:
        out.append(f"together: {joint.alternatives[0]}{note} make a plan possible")
    elif joint is not None and joint.timed_out:
        out.append("time ran out before the settings together were tried")
    elif joint is not None:
        out.append(
            "no value of these settings, even all together, makes a plan possible: the "
            "conflict lies in eligibility (experience, skills), locks or contiguity"
        )
    return out
