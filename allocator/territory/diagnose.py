"""Why a territory cannot be planned: checks before solving and the elastic re-solve after.

:func:`precheck` looks at the numbers that make a model infeasible for sure (accounts nobody may
serve, broken locks, capacity, experience, account limits, forced moves) and raises
:class:`InfeasibleError` naming them. :func:`elastic_diagnosis` re-solves with a slack on every
soft row and lists the rows that need one, and how much (``models/assignment.md``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from allocator.exceptions import InfeasibleError
from allocator.io.settings import AssignmentSettings, SolverSettings
from allocator.solver import Status, solve
from allocator.solver.trace import traced_as
from allocator.territory.build import Territory
from allocator.territory.core import ArcProblem, Relaxation, build_model, slack_scale
from allocator.territory.least_change import least_changes, render_changes
from allocator.territory.pairs import by_rows

__all__ = ["elastic_diagnosis", "fmt", "precheck"]

FloatArray = npt.NDArray[np.float64]


def fmt(value: float) -> str:
    """A number for a message: thousands separators, at most two decimals (``1,600``, ``12.5``)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _up(value: float) -> str:
    """A least setting for a message, rounded up to 3 decimals so that the value shown works."""
    text = f"{np.ceil(max(value, 0.0) * 1000 - 1e-6) / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _ids(values: Sequence[str], limit: int = 8) -> str:
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def precheck(
    t: Territory,
    settings: AssignmentSettings,
    *,
    problem: ArcProblem | None = None,
    solver: SolverSettings | None = None,
    deadline: float | None = None,
) -> None:
    """Raise :class:`InfeasibleError` when the numbers already show that no assignment exists.

    Each line names the setting and the value it needs at the very least. With ``problem``
    (and at most :data:`MAX_DIAGNOSIS_ARCS` arcs), a capacity or count problem is followed by the
    least values computed exactly (:func:`elastic_diagnosis`).

    Raises
    ------
    InfeasibleError
        With one line per problem found.
    """
    problems = _eligibility_problems(t) + _lock_problems(t)
    if not problems:
        problems = _capacity_problems(t, settings) + _count_problems(t, settings)
        if problems and problem is not None and problem.relax and small(problem):
            solver = solver or SolverSettings()
            problems += elastic_diagnosis(problem, problem.all_arcs, solver, deadline=deadline)
    if problems:
        raise InfeasibleError("the territory cannot be planned:", diagnosis=problems)


def small(problem: ArcProblem) -> bool:
    """Whether the least changes can be computed over every eligible arc."""
    return problem.n_arcs <= MAX_DIAGNOSIS_ARCS


def _eligibility_problems(t: Territory) -> list[str]:
    ids = t.accounts["account_id"].to_numpy(str)
    free = ~t.locked
    out = []
    near = t.near  # the sparse path: per eligibility group, no pass over all pairs
    for mask, rule in [
        (
            ~near.row_any(near.experience) if near else ~by_rows(_any, t.experience_ok),
            "no rep has the experience their segment needs: lower "
            "`assignment.constraints.experience` for their segment or raise a rep's experience",
        ),
        (
            ~near.row_any(near.skills) if near else ~by_rows(_any, t.skills_ok),
            "no rep has all their required skills: give a rep the skill (reps skills column) "
            "or drop it from the accounts' required_skills",
        ),
        (
            ~near.row_any(near.table) if near else ~by_rows(_any, t.experience_ok & t.skills_ok),
            "no rep has both the experience and the skills they need",
        ),
    ]:
        hit = mask & free
        if hit.any():
            out.append(
                f"{int(hit.sum())} account(s) have no eligible rep ({rule}): {_ids(list(ids[hit]))}"
            )
            free &= ~hit
    return out


def _any(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    return mask.any(axis=1)


def _lock_problems(t: Territory) -> list[str]:
    ids = t.accounts["account_id"].to_numpy(str)
    missing = t.locked & (t.incumbent < 0)
    rows = np.flatnonzero(t.locked & (t.incumbent >= 0))
    ok = t.experience_ok & t.skills_ok
    bad = np.zeros(len(ids), bool)
    bad[rows] = ~ok[rows, t.incumbent[rows]]
    out = []
    if missing.any():
        out.append(
            f"locked account(s) whose incumbent is not an active rep: {_ids(list(ids[missing]))}"
        )
    if bad.any():
        out.append(
            "locked account(s) whose incumbent is not eligible (experience/skills): "
            f"{_ids(list(ids[bad]))}"
        )
    if t.by_region:
        out += _region_problems(t)
    return out


def _region_problems(t: Territory) -> list[str]:
    """Level region: one rep must be eligible for all of a region's accounts and hold its locks."""
    out = []
    for g, item in enumerate(t.items):
        mine = t.item_of == g
        owners = set(t.incumbent[t.locked & mine].tolist())
        if len(owners) > 1:
            out.append(
                f"region {item}: its locked accounts have {len(owners)} different incumbents"
            )
        elif not t.eligible[mine].all(axis=0).any():
            out.append(f"region {item}: no rep is eligible for all of its accounts")
    return out


def _min_load(t: Territory) -> FloatArray:
    if t.near is not None and (t.near.visits >= 0).all():  # load grows with km: the nearest
        return t.near.nearest_min(t.load)
    return by_rows(lambda ok, load: np.where(ok, load, np.inf).min(axis=1), t.eligible, t.load)


def _capacity_problems(t: Territory, settings: AssignmentSettings) -> list[str]:
    rule = settings.constraints.capacity
    if rule is None:
        return []
    capacity = t.reps["capacity"].to_numpy(float)
    limit = (1 + rule.tolerance) * capacity
    need = _min_load(t)
    out = []
    key = "`assignment.constraints.capacity.tolerance`"
    if need.sum() > limit.sum() * (1 + 1e-9):
        out.append(
            f"capacity: the accounts need at least {fmt(need.sum())} hours (each at its cheapest "
            f"eligible rep) but all reps together have {fmt(limit.sum())} hours: {key} >= "
            f"{_up(need.sum() / capacity.sum() - 1)} at the very least (now {rule.tolerance:g}), "
            f"or {fmt(need.sum() - limit.sum())} more hours of capacity"
        )
    experience = t.reps["experience"].to_numpy(float)
    needs = settings.constraints.experience or {}
    for level in sorted({v for v in needs.values() if v > 0}):
        segs = [s for s, v in needs.items() if v >= level]
        mine = t.accounts["segment"].isin(segs).to_numpy(bool)
        have = limit[experience >= level].sum()
        if need[mine].sum() > have * (1 + 1e-9):
            out.append(
                f"experience: the accounts of segment(s) {', '.join(segs)} need "
                f"{fmt(need[mine].sum())} hours but the reps with experience >= {fmt(level)} "
                f"have {fmt(have)} hours: lower `assignment.constraints.experience` of "
                f"{', '.join(segs)}, or give reps with that experience "
                f"{fmt(need[mine].sum() - have)} more hours"
            )
    room = _row_max(t, limit)
    ids = t.accounts["account_id"].to_numpy(str)
    big = need > room * (1 + 1e-9)
    if big.any():
        best = _row_max(t, capacity)
        least = float(np.max(need[big] / np.where(best[big] > 0, best[big], np.inf))) - 1
        out.append(
            f"capacity: no eligible rep has room for account(s) {_ids(list(ids[big]))}: "
            f"{key} >= {_up(least)} at the very least (now {rule.tolerance:g})"
        )
    return out


def _row_max(t: Territory, values: FloatArray) -> FloatArray:
    """Per account: ``max(where(eligible, values, 0))`` over the reps."""
    if t.near is not None:
        return t.near.row_max(values)
    return by_rows(lambda ok: np.where(ok, values[None, :], 0.0).max(axis=1), t.eligible)


def _count_problems(t: Territory, settings: AssignmentSettings) -> list[str]:
    cons = settings.constraints
    out = []
    n_acc, m = t.km.shape
    if cons.max_accounts is not None and n_acc > cons.max_accounts.limit * m:
        out.append(
            f"max_accounts: {fmt(n_acc)} accounts but {m} reps x {cons.max_accounts.limit} "
            f"allow {fmt(cons.max_accounts.limit * m)}: `assignment.constraints.max_accounts."
            f"limit` >= {-(-n_acc // m)} at the very least (now {cons.max_accounts.limit})"
        )
    rule = cons.continuity
    if rule is not None and rule.max_moved_share is not None:
        rows = np.arange(n_acc)
        stay_ok = np.zeros(n_acc, bool)
        have = t.incumbent >= 0
        stay_ok[have] = t.eligible[rows[have], t.incumbent[have]]
        forced = t.has_incumbent & ~stay_ok
        weight = (
            t.accounts["potential"].to_numpy(float)
            if rule.measure == "potential"
            else np.ones(n_acc)
        )
        allowed = rule.max_moved_share * weight.sum()
        if weight[forced].sum() > allowed * (1 + 1e-9) + 1e-9:
            out.append(
                f"max_moved: {int(forced.sum())} account(s) must move (incumbent inactive or "
                f"ineligible), {fmt(weight[forced].sum())} {rule.measure}, above the "
                f"{fmt(allowed)} allowed: `assignment.constraints.continuity.max_moved_share` >= "
                f"{_up(weight[forced].sum() / weight.sum())} at the very least "
                f"(now {rule.max_moved_share:g})"
            )
    return out


#: Seconds the diagnosis of a proven-infeasible model may use when the run's budget is spent.
DIAGNOSIS_FLOOR = 5.0

#: Up to this many eligible arcs the least changes are computed over all of them (proven least);
#: above, over the candidate arcs of the solve (the values work, a smaller one may too).
MAX_DIAGNOSIS_ARCS = 100_000


def relaxations(settings: AssignmentSettings, t: Territory, problem: ArcProblem) -> dict:
    """Family key -> the scenario setting that moves its limits (:class:`Relaxation`).

    Capacity: a unit of tolerance adds the rep's capacity; balance: a unit of tolerance moves
    both limits by the fair share (half the distance between them over the tolerance);
    max_accounts: one account per unit; max_moved: the whole (potential or accounts) per unit.
    """
    cons, out = settings.constraints, {}
    key = "assignment.constraints"
    for family in problem.families:
        if family.doc == "capacity" and cons.capacity is not None:
            capacity = t.reps["capacity"].to_numpy(float)
            out[family.key] = Relaxation(
                f"{key}.capacity.tolerance", cons.capacity.tolerance, capacity
            )
        elif family.doc in ("balance_lo", "balance_hi") and cons.balance is not None:
            tol = cons.balance.tolerance
            pair = family.key.replace("_lo_", "_hi_") if "_lo_" in family.key else family.key
            hi = next(f for f in problem.families if f.key == pair)
            lo = next(f for f in problem.families if f.key == pair.replace("_hi_", "_lo_"))
            fair = (hi.rhs - lo.rhs) / (2 * tol)
            out[family.key] = Relaxation(f"{key}.balance.tolerance", tol, fair, upper=1.0)
        elif family.doc == "max_accounts" and cons.max_accounts is not None:
            limit = float(cons.max_accounts.limit)
            ones = np.ones(len(family.rhs))
            out[family.key] = Relaxation(f"{key}.max_accounts.limit", limit, ones, integer=True)
        elif family.doc == "max_moved" and cons.continuity is not None:
            share = cons.continuity.max_moved_share or 0.0
            if share > 0:
                whole = family.rhs / share
                setting = f"{key}.continuity.max_moved_share"
                out[family.key] = Relaxation(setting, share, whole, upper=1.0)
    return out


@traced_as(None)  # its MIPs are elastic re-solves, not the run's problem
def elastic_diagnosis(
    problem: ArcProblem,
    arcs: npt.NDArray[np.int64],
    solver: SolverSettings,
    *,
    deadline: float | None,
) -> list[str]:
    """The diagnosis of a proven-infeasible model, in the scenario's keys where it has them.

    With ``problem.relax`` (the territory model): for each setting, the least value that makes a
    plan possible (:mod:`allocator.territory.least_change`). Without it (the GAP benchmark):
    the rows that need slack in the elastic re-solve and how much more or less they need.
    The diagnosis may use :data:`DIAGNOSIS_FLOOR` seconds past a spent ``deadline``.
    """
    floor = time.monotonic() + DIAGNOSIS_FLOOR
    deadline = floor if deadline is None else max(deadline, floor)
    if problem.relax:
        every = small(problem)
        chosen = problem.all_arcs if every else arcs
        singles, joint = least_changes(problem, chosen, solver, deadline=deadline, every=every)
        return render_changes(singles, joint, contiguity=problem.contiguity is not None)
    return _row_slacks(problem, arcs, solver, deadline)


def _row_slacks(
    problem: ArcProblem, arcs: npt.NDArray[np.int64], solver: SolverSettings, deadline: float
) -> list[str]:
    model = build_model(problem, arcs, integer=True, elastic=True)
    report = solve(model.prob, solver, deadline=deadline)
    if not report.has_solution:
        if report.status is Status.TIME_LIMIT:
            return ["time ran out before the elastic re-solve found how far the rows are apart"]
        return [
            "no assignment exists even with every soft row relaxed: the conflict lies in "
            "eligibility or locks"
        ]
    out = []
    for name, var in model.slack.items():
        family, j = model.rows[name]
        value = var.varValue or 0.0
        if family is None or value <= 1e-7:
            continue
        rhs = float(family.rhs[j])
        amount = value * slack_scale(rhs)
        way = "more" if family.sense == "<=" else "less"
        out.append(
            f"{family.doc_name(j)} needs a limit {fmt(amount)} {family.unit} {way} "
            f"(limit {fmt(rhs)})"
        )
    if not out:
        return ["no soft row needs slack: the conflict lies in eligibility, locks or contiguity"]
    return out
