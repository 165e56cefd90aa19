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
from allocator.solver import solve
from allocator.territory.build import Territory
from allocator.territory.core import ArcProblem, build_model, slack_scale

__all__ = ["elastic_diagnosis", "fmt", "precheck"]

FloatArray = npt.NDArray[np.float64]


def fmt(value: float) -> str:
    """A number for a message: thousands separators, at most two decimals (``1,600``, ``12.5``)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _ids(values: Sequence[str], limit: int = 8) -> str:
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def precheck(t: Territory, settings: AssignmentSettings) -> None:
    """Raise :class:`InfeasibleError` when the numbers already show that no assignment exists.

    Raises
    ------
    InfeasibleError
        With one line per problem found.
    """
    problems = _eligibility_problems(t) + _lock_problems(t)
    if not problems:
        problems = _capacity_problems(t, settings) + _count_problems(t, settings)
    if problems:
        raise InfeasibleError("the territory cannot be planned:", diagnosis=problems)


def _eligibility_problems(t: Territory) -> list[str]:
    ids = t.accounts["account_id"].to_numpy(str)
    free = ~t.locked
    out = []
    for mask, rule in [
        (~t.experience_ok.any(axis=1), "experience: no rep has the experience their segment needs"),
        (~t.skills_ok.any(axis=1), "skills: no rep has all their required skills"),
        (~(t.experience_ok & t.skills_ok).any(axis=1), "experience and skills: no rep has both"),
    ]:
        hit = mask & free
        if hit.any():
            out.append(
                f"{int(hit.sum())} account(s) have no eligible rep ({rule}): {_ids(list(ids[hit]))}"
            )
            free &= ~hit
    return out


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
    return np.where(t.eligible, t.load, np.inf).min(axis=1)


def _capacity_problems(t: Territory, settings: AssignmentSettings) -> list[str]:
    rule = settings.constraints.capacity
    if rule is None:
        return []
    limit = (1 + rule.tolerance) * t.reps["capacity"].to_numpy(float)
    need = _min_load(t)
    out = []
    if need.sum() > limit.sum() * (1 + 1e-9):
        out.append(
            f"capacity: the accounts need at least {fmt(need.sum())} hours (each at its cheapest "
            f"eligible rep) but all reps together have {fmt(limit.sum())} hours"
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
                f"have {fmt(have)} hours"
            )
    room = np.where(t.eligible, limit[None, :], 0.0).max(axis=1)
    ids = t.accounts["account_id"].to_numpy(str)
    big = need > room * (1 + 1e-9)
    if big.any():
        out.append(f"capacity: no eligible rep has room for account(s) {_ids(list(ids[big]))}")
    return out


def _count_problems(t: Territory, settings: AssignmentSettings) -> list[str]:
    cons = settings.constraints
    out = []
    n_acc, m = t.km.shape
    if cons.max_accounts is not None and n_acc > cons.max_accounts.limit * m:
        out.append(
            f"max_accounts: {fmt(n_acc)} accounts but {m} reps x {cons.max_accounts.limit} "
            f"allow {fmt(cons.max_accounts.limit * m)}"
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
                f"{fmt(allowed)} allowed"
            )
    return out


def elastic_diagnosis(
    problem: ArcProblem, arcs: npt.NDArray[np.int64], solver: SolverSettings, *, deadline: float
) -> list[str]:
    """Minimise the relative slack of the soft rows; one line per row that needs slack."""
    model = build_model(problem, arcs, integer=True, elastic=True)
    budget = max(deadline - time.perf_counter(), 10.0)
    report = solve(model.prob, solver, time_limit=budget)
    if not report.has_solution:
        return ["no assignment exists even with every soft constraint relaxed (eligibility, locks)"]
    out = []
    for name, var in model.slack.items():
        family, j = model.rows[name]
        value = var.varValue or 0.0
        if family is None or value <= 1e-7:
            continue
        rhs = float(family.rhs[j])
        amount = value * slack_scale(rhs)
        sign = "-" if family.sense == ">=" else "+"
        out.append(
            f"{family.doc_name(j)} needs {sign}{fmt(amount)} {family.unit} (limit {fmt(rhs)})"
        )
    if not out:
        if problem.contiguity is not None:
            return [
                "every capacity, balance and count limit can be met, but not with connected "
                "territories (contiguity)"
            ]
        return ["no soft constraint needs slack: the conflict lies in eligibility or locks"]
    return out
