"""The answer of the territory model as tables: accounts, reps, constraints, with reasons.

:class:`AssignmentResult` is the frozen value
:func:`allocator.territory.assignment.solve_assignment`
returns. :func:`make_result` builds it from the solved arc problem; the ``reason`` of each
account is derived from the solution (which rule kept or moved it), not guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from allocator.io.settings import AssignmentSettings, BalanceSettings
from allocator.solver import SolveReport
from allocator.territory.build import Territory, fair_shares
from allocator.territory.contiguity import territories
from allocator.territory.core import (
    ArcProblem,
    RowFamily,
    activities,
    objective_terms,
    reduced_costs,
    row_slack,
    tolerance,
)
from allocator.territory.pairs import at, by_rows
from allocator.territory.pruned import row_argmin
from allocator.territory.solve_arcs import ArcSolution
from allocator.territory.splits import split_rows

__all__ = ["ASSIGNMENT_COLUMNS", "REP_COLUMNS", "AssignmentResult", "make_result"]

IntArray = npt.NDArray[np.int64]

ASSIGNMENT_COLUMNS = [
    "account_id",
    "rep_id",
    "incumbent_rep_id",
    "moved",
    "travel_km",
    "workload",
    "potential",
    "reason",
]
REP_COLUMNS = [
    "rep_id",
    "accounts",
    "potential",
    "workload",
    "capacity",
    "utilization",
    "travel_km",
    "fair_share",
    "load",
]


@dataclass(frozen=True)
class AssignmentResult:
    """A solved territory: one row per active account and per active rep, and how it was solved.

    ``terms`` are the weighted objective terms (travel, balance, disruption, penalty); they sum to
    the objective. ``constraints`` lists every row of ``models/assignment.md`` except the
    per-account ``assign_once`` and ``serves`` rows, with its slack at the solution.
    ``pruning_exact`` is true when arc pruning is proven not to have cost optimality.
    """

    assignments: pd.DataFrame
    reps: pd.DataFrame
    report: SolveReport
    terms: Mapping[str, float]
    constraints: pd.DataFrame
    arcs: int
    priced_arcs: int
    rounds: int
    lp_bound: float | None = None
    pruning_exact: bool = True

    @property
    def objective(self) -> float | None:
        return self.report.objective

    def is_feasible(self) -> bool:
        """True when the solver returned a solution (optimal, or feasible within limits)."""
        return self.report.is_ok

    def summary(self) -> str:
        moved = int(self.assignments["moved"].sum())
        terms = ", ".join(f"{k} {v:,.2f}" for k, v in self.terms.items() if v)
        binding = self.constraints.loc[self.constraints["binding"], "name"].tolist()
        lines = [
            f"assignment: {self.report.summary()}",
            f"  {len(self.assignments)} accounts to {len(self.reps)} reps, {moved} moved; "
            f"objective terms: {terms or 'none'}",
            f"  {self.arcs} arcs ({self.priced_arcs} priced in, pruning "
            f"{'exact' if self.pruning_exact else 'not proven exact'}), {self.rounds} MIP round(s)",
        ]
        if binding:
            shown = ", ".join(binding[:6]) + (", ..." if len(binding) > 6 else "")
            lines.append(f"  binding: {shown}")
        return "\n".join(lines)


def make_result(
    t: Territory, problem: ArcProblem, settings: AssignmentSettings, solution: ArcSolution
) -> AssignmentResult:
    """Tables of a solved territory (``solution.assign`` is a rep per item)."""
    owner = solution.assign[t.item_of]
    slacks = {
        f.key: row_slack(f, activities(problem, f, solution.assign)) for f in problem.families
    }
    reasons = _reasons(t, problem, settings, solution.assign, slacks)
    terms = objective_terms(problem, solution.assign)
    terms.setdefault("balance", 0.0)
    terms["penalty"] = 0.0
    order = ["travel", "balance", "disruption", "penalty"]
    return AssignmentResult(
        assignments=_assignment_table(t, owner, reasons),
        reps=_rep_table(t, settings, owner),
        report=solution.report,
        terms={k: terms.get(k, 0.0) for k in order if k in terms},
        constraints=_constraint_table(problem, solution, slacks),
        arcs=solution.arcs,
        priced_arcs=solution.priced,
        rounds=solution.rounds,
        lp_bound=solution.lp_bound,
        pruning_exact=solution.exact,
    )


def _assignment_table(t: Territory, owner: IntArray, reasons: list[str]) -> pd.DataFrame:
    acc = t.accounts
    rep_ids = t.reps["rep_id"].to_numpy(str)[owner]
    rows = np.arange(len(acc))
    table = pd.DataFrame(
        {
            "account_id": acc["account_id"].to_numpy(str),
            "rep_id": rep_ids,
            "incumbent_rep_id": acc["incumbent_rep_id"].to_numpy(str),
            "moved": t.has_incumbent & (rep_ids != acc["incumbent_rep_id"].to_numpy(str)),
            "travel_km": acc["visits"].to_numpy(float) * t.km[rows, owner],
            "workload": acc["workload"].to_numpy(float),
            "potential": acc["potential"].to_numpy(float),
            "reason": reasons,
        }
    )
    if t.splits is not None:
        table = pd.concat([table, split_rows(t.splits)], ignore_index=True)
    return table.sort_values("account_id", kind="stable").reset_index(drop=True)


def _rep_table(t: Territory, settings: AssignmentSettings, owner: IntArray) -> pd.DataFrame:
    m = len(t.reps)
    rows = np.arange(len(t.accounts))
    acc = t.accounts

    def per_rep(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.bincount(owner, weights=np.asarray(values, float), minlength=m).astype(float)

    capacity = t.reps["capacity"].to_numpy(float)
    load = per_rep(t.load[rows, owner]) + t.offset("load")
    rule = settings.constraints.balance or BalanceSettings()
    potential = per_rep(acc["potential"]) + t.offset("potential")
    total = float(acc["potential"].sum() + t.offset("potential").sum())
    return pd.DataFrame(
        {
            "rep_id": t.reps["rep_id"].to_numpy(str),
            "accounts": np.bincount(owner, minlength=m) + t.offset("count").astype(np.int64),
            "potential": potential,
            "workload": per_rep(acc["workload"]) + t.offset("workload"),
            "capacity": capacity,
            "utilization": load / capacity,
            "travel_km": per_rep(acc["visits"].to_numpy(float) * t.km[rows, owner])
            + t.offset("travel"),
            "fair_share": fair_shares(t.reps, total, rule.fair_share),
            "load": load,
        }
    )[REP_COLUMNS]


def _constraint_table(
    problem: ArcProblem, solution: ArcSolution, slacks: Mapping[str, npt.NDArray[np.float64]]
) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    for family in problem.families:
        if family.deviation is not None:
            continue
        value = activities(problem, family, solution.assign)
        slack, tol = slacks[family.key], tolerance(family.rhs)
        for j in range(len(family.rhs)):
            rows.append(
                _row(family.doc_name(j), family.doc, value[j], family.rhs[j], slack[j], tol[j])
            )
    contiguity = problem.contiguity
    if contiguity is not None and solution.cuts:
        served = territories(contiguity, solution.assign, len(problem.reps))
        for cut in solution.cuts:
            lhs = sum(g in served[cut.rep] for g in cut.lhs) - sum(
                h in served[cut.rep] for h in cut.rhs
            )
            name = cut.doc_name(problem.reps, contiguity.regions)
            rows.append(
                _row(name, "contiguity", lhs, len(cut.lhs) - 1, len(cut.lhs) - 1 - lhs, 1e-9)
            )
    columns = ["name", "family", "value", "limit", "slack", "binding"]
    return pd.DataFrame(rows, columns=columns)


def _row(
    name: str, family: str, value: float, limit: float, slack: float, tol: float
) -> dict[str, object]:
    return {
        "name": name,
        "family": family,
        "value": float(value),
        "limit": float(limit),
        "slack": float(slack),
        "binding": bool(slack <= tol),
    }


# ---------------------------------------------------------------- reasons


def _reasons(
    t: Territory,
    problem: ArcProblem,
    settings: AssignmentSettings,
    assign: IntArray,
    slacks: Mapping[str, npt.NDArray[np.float64]],
) -> list[str]:
    """One short reason per account: the rule that kept it, moved it, or placed it."""
    best = _cheapest_reps(problem)
    accounts, owner, incumbent = np.arange(len(t.accounts)), assign[t.item_of], t.incumbent
    here = _masked_cost(problem, t.item_of, owner)
    there = _masked_cost(problem, t.item_of, incumbent)
    stay = np.maximum(incumbent, 0)
    experience_ok, skills_ok = t.experience_ok[accounts, stay], t.skills_ok[accounts, stay]
    out = []
    for a in range(len(t.accounts)):
        i, inc = int(t.item_of[a]), int(t.incumbent[a])
        r = int(assign[i])
        if t.locked[a]:
            out.append("locked")
        elif t.has_incumbent[a] and inc == r:
            out.append("incumbent kept")
        elif t.by_region:
            out.append(
                "moved with its region" if t.has_incumbent[a] else "no incumbent: with its region"
            )
        elif not t.has_incumbent[a]:
            why = (
                "nearest eligible"
                if r == best[i]
                else _why(problem, settings, slacks, i, int(best[i]), r)
            )
            out.append(f"no incumbent: {why}")
        elif inc < 0:
            out.append("moved: incumbent inactive")
        elif not experience_ok[a]:
            out.append("moved for experience")
        elif not skills_ok[a]:
            out.append("moved for skills")
        elif here[a] < there[a] and _blocking(problem, slacks, i, inc, r) is None:
            out.append("moved to a nearer rep")
        else:
            out.append("moved for " + _why(problem, settings, slacks, i, inc, r))
    return out


def _why(
    problem: ArcProblem,
    settings: AssignmentSettings,
    slacks: Mapping[str, npt.NDArray[np.float64]],
    i: int,
    preferred: int,
    owner: int,
) -> str:
    """The rule that keeps item ``i`` away from ``preferred``, else the objective term that does."""
    rule = _blocking(problem, slacks, i, preferred, owner)
    if rule is not None:
        return rule
    if problem.contiguity is not None:
        return "contiguity"
    if settings.objective.balance > 0:
        return "balance"
    return "lower total cost"


def _cheapest_reps(problem: ArcProblem) -> IntArray:
    """Each item's cheapest eligible rep (ties: the lower rep); on the sparse path only the
    reps near enough to be cheapest are evaluated (:func:`~allocator.territory.pruned.row_argmin`).
    """
    found = row_argmin(problem, reduced_costs(problem, {})) if problem.near is not None else None
    if found is not None:
        return found
    return by_rows(_cheapest, problem.eligible, problem.cost)  # no (items, reps) temporary


def _cheapest(eligible: npt.NDArray[np.bool_], cost: npt.NDArray[np.float64]) -> IntArray:
    return np.argmin(np.where(eligible, cost, np.inf), axis=1)


def _masked_cost(problem: ArcProblem, items: IntArray, reps: IntArray) -> npt.NDArray[np.float64]:
    """Cost of the arcs ``(items, reps)``, inf where not eligible or ``reps < 0``."""
    r = np.maximum(reps, 0)
    ok = (reps >= 0) & problem.eligible[items, r]
    return np.where(ok, problem.cost[items, r], np.inf)


def _blocking(
    problem: ArcProblem,
    slacks: Mapping[str, npt.NDArray[np.float64]],
    i: int,
    preferred: int,
    owner: int,
) -> str | None:
    """A rep row that moving item ``i`` from ``owner`` to ``preferred`` would violate, if any."""
    for family in problem.families:
        if family.axis != "rep" or family.deviation is not None:
            continue
        rep = preferred if family.sense == "<=" else owner
        coef = float(at(family.coef, problem.shape, np.array([i]), np.array([rep]))[0])
        if coef > slacks[family.key][rep] + tolerance(family.rhs)[rep]:
            return _label(family)
    return None


def _label(family: RowFamily) -> str:
    return "balance" if family.doc.startswith("balance") else family.doc
