"""Explanations in plain words: why an account sits with its rep, and which constraints bind.

Per account, the *next-best rep* is the rep that could take the account (everything else held
fixed) while every hard rule of the model still holds, at the least objective change: the rules
are read from the plan's own territory model (:mod:`allocator.report.rules`: eligibility by
experience, skills and locks, capacity, balance, max_accounts, the continuity budget
``max_moved``, contiguity and the home rule). The change (``delta``) is split into the
objective's terms (``models/assignment.md``): travel (weight x the difference of km x visits
from the two home bases), balance (weight x the change of the two reps' percentage-point
deviations from their fair shares) and disruption (weight x the change of moved potential /
1,000). A negative delta, a move that would improve the plan, always comes with its reason in
``next_rule``: the solve's proven gap (the plan is within ``objective - bound`` of the optimum,
so a saving up to that is possible). A cheaper rep that a rule forbids is named too
(``cheaper_rep_id``, ``cheaper_delta``) with the rules it would break (``next_breaks``).
It is a one-move answer to "why not Zhang?", not a re-optimisation; at ``level: region`` the
move checked against the rules is the account's whole region, as the model moves it.

Per constraint, :func:`explain_constraints` (:mod:`allocator.report.constraints`, re-exported
here) turns slack and the LP shadow prices into sentences.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator.exceptions import InputError
from allocator.io.settings import AssignmentSettings, BalanceSettings
from allocator.io.tables import parse_ids
from allocator.plan import territory_tables
from allocator.report.constraints import (
    conflicting_constraints,
    constraint_text,
    explain_constraints,
)
from allocator.report.format import number
from allocator.report.rules import MoveRules, family_masks, move_breaks
from allocator.territory import pairs
from allocator.territory.build import Territory, build_territory, fair_shares, territory_problem
from allocator.territory.pairs import is_lazy

if TYPE_CHECKING:
    from allocator.plan import Plan

log = logging.getLogger("allocator")

__all__ = [
    "conflicting_constraints",
    "constraint_text",
    "explain_accounts",
    "explain_constraints",
    "why_not",
]

ACCOUNT_COLUMNS = [
    *("account_id", "rep_id", "incumbent_rep_id", "moved", "reason", "next_rep_id"),
    *("delta", "delta_travel", "delta_balance", "delta_disruption", "next_rule"),
    *("cheaper_rep_id", "cheaper_delta", "next_breaks"),
]


@dataclass(frozen=True)
class _Context:
    """What a one-move cost needs: the model's own account x rep arrays (``Territory``: km,
    capacity use, eligibility), its rules, each account's owner, the reps' totals and fair
    shares, and the solve's proven gap in objective units (None when unknown)."""

    t: Territory
    rules: MoveRules
    owner: np.ndarray  # position of each account's owner among t.reps
    reasons: np.ndarray
    totals: pd.DataFrame  # per rep position: potential, workload, load, count
    fair: pd.DataFrame  # per rep position: fair share of each balance measure
    settings: AssignmentSettings
    slack: float | None

    @property
    def travel(self) -> np.ndarray:
        """Accounts x reps travel: km x visits."""
        return self.t.km * self.t.accounts["visits"].to_numpy(float)[:, None]

    def rep_ids(self) -> np.ndarray:
        return self.t.reps["rep_id"].to_numpy(str)


def _context(plan: Plan) -> _Context:
    settings = plan.scenario.assignment
    t = build_territory(territory_tables(plan.scenario, plan.tables), settings)
    ids = t.accounts["account_id"]
    owner = pd.Index(t.reps["rep_id"]).get_indexer(pd.Index(plan.owners.reindex(ids).astype(str)))
    if plan.assignment is not None:
        reasons = ids.map(plan.assignment.assignments.set_index("account_id")["reason"])
    else:
        reasons = pd.Series("incumbent (assignment off)", index=ids.index)
    if (owner < 0).any():
        shown = ", ".join(ids[owner < 0].head(5))
        raise InputError([f"explain: the owner of account(s) {shown} is not an active rep"])
    assign = np.zeros(len(t.items), np.int64)
    assign[t.item_of] = owner
    problem = territory_problem(plan.tables, settings, t)
    rules = MoveRules.of(problem, assign, settings.constraints.contiguity)
    rows = np.arange(len(ids))
    acc = t.accounts.assign(owner=owner, load=t.load[rows, owner]).groupby("owner")
    totals = pd.DataFrame(
        {
            "potential": acc["potential"].sum(),
            "workload": acc["workload"].sum(),
            "load": acc["load"].sum(),
            "count": acc.size(),
        }
    ).reindex(range(len(t.reps)), fill_value=0.0)
    for column in ("potential", "workload", "load", "count"):  # split accounts: fixed shares
        totals[column] = totals[column].to_numpy(float) + t.offset(column)
    balance = settings.constraints.balance or BalanceSettings()
    measures = ["potential", "workload"] if balance.measure == "both" else [balance.measure]
    fair = pd.DataFrame(
        {
            m: fair_shares(
                t.reps, float(t.accounts[m].sum() + t.offset(m).sum()), balance.fair_share
            )
            for m in measures
        }
    )
    words = reasons.fillna("").to_numpy(str)
    return _Context(t, rules, owner, words, totals, fair, settings, _proven_slack(plan))


def _proven_slack(plan: Plan) -> float | None:
    """objective - bound of the territory solve: what a better plan could save at most."""
    if plan.assignment is None:
        return None
    r = plan.assignment.report
    if r.objective is None or r.bound is None:
        return None
    return max(float(r.objective) - float(r.bound), 0.0)


def _deviation(value: np.ndarray, fair: np.ndarray) -> np.ndarray:
    """Percentage points of deviation from the fair share: |v - f| / f x 100 (0 without a share)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fair > 0, np.abs(value - fair) / fair * 100.0, 0.0)


def _deltas(ctx: _Context) -> dict[str, np.ndarray]:
    """Accounts x reps objective change of moving each account to each rep, per term."""
    w, t, owner = ctx.settings.objective, ctx.t, ctx.owner
    rows = np.arange(len(owner))
    travel_km = ctx.travel
    travel = w.travel * (travel_km - travel_km[rows, owner][:, None])
    balance = np.zeros_like(travel)
    for m in ctx.fair.columns:
        x = t.accounts[m].to_numpy(float)
        total, fair = ctx.totals[m].to_numpy(float), ctx.fair[m].to_numpy(float)
        loss = _deviation(total[owner] - x, fair[owner]) - _deviation(total[owner], fair[owner])
        gain = _deviation(total[None, :] + x[:, None], fair[None, :]) - _deviation(total, fair)
        balance += w.balance * (loss[:, None] + gain)
    # an incumbent that is no longer an active rep still counts: every arc moves the account
    arc_moves = t.has_incumbent[:, None] & (np.arange(len(t.reps))[None, :] != t.incumbent[:, None])
    moved = arc_moves.astype(float)
    scale = w.disruption * t.accounts["potential"].to_numpy(float) / 1000.0
    disruption = scale[:, None] * (moved - moved[rows, owner][:, None])
    for term in (travel, balance, disruption):  # staying put costs exactly nothing
        term[rows, owner] = 0.0
    return {"travel": travel, "balance": balance, "disruption": disruption}


def _next_feasible(ctx: _Context, total: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Per account the rep position of the cheapest move that breaks no rule (-1: none).

    Row families are checked for every arc at once; contiguity (a graph question) only along
    each account's candidates in order of cost, until one passes.
    """
    items = ctx.t.item_of
    allowed = eligible & ~family_masks(ctx.rules, items)
    order = np.argsort(np.where(allowed, total, np.inf), axis=1, kind="stable")
    best = np.full(len(total), -1, np.int64)
    for a in range(len(total)):
        for r in order[a]:
            if not allowed[a, r]:
                break
            if (
                ctx.rules.problem.contiguity is None
                or not move_breaks(ctx.rules, items[a : a + 1], np.array([r]))[0]
            ):
                best[a] = r
                break
    return best


def explain_accounts(plan: Plan) -> pd.DataFrame:
    """One row per active account: owner, incumbent, moved, reason and the next-best rep.

    ``next_rep_id`` is the rep that could take the account at the least objective change with
    every hard rule still holding ("" when none can); ``delta`` is that change, split into
    ``delta_travel``, ``delta_balance`` and ``delta_disruption``; ``next_rule`` says why a
    negative delta is not taken (the proven gap of the solve), "" otherwise. ``cheaper_rep_id``
    and ``cheaper_delta`` name the cheapest eligible rep when a rule forbids it, and
    ``next_breaks`` the rules that move would break.
    """
    plain = _plain_accounts(plan)
    if plain is not None:
        return plain
    ctx = _context(plan)
    t, owner = ctx.t, ctx.owner
    deltas = _deltas(ctx)
    total = deltas["travel"] + deltas["balance"] + deltas["disruption"]
    rows = np.arange(len(owner))
    eligible = ctx.rules.problem.eligible[t.item_of] & t.eligible
    eligible[rows, owner] = False  # not a move
    nxt = _next_feasible(ctx, total, eligible)
    cheapest = np.where(eligible, total, np.inf).argmin(axis=1)
    found = nxt >= 0
    pick = np.where(found, nxt, 0)
    rep_ids = ctx.rep_ids()
    incumbent = t.accounts["incumbent_rep_id"].to_numpy(str)
    delta = np.where(found, total[rows, pick], np.nan)
    blocked = eligible[rows, cheapest] & (~found | (total[rows, cheapest] < delta - 1e-9))
    frame = pd.DataFrame(
        {
            "account_id": t.accounts["account_id"].to_numpy(str),
            "rep_id": rep_ids[owner],
            "incumbent_rep_id": incumbent,
            "moved": (incumbent != "") & (rep_ids[owner] != incumbent),
            "reason": ctx.reasons,
            "next_rep_id": np.where(found, rep_ids[pick], ""),
            "delta": delta,
            **{f"delta_{k}": np.where(found, v[rows, pick], np.nan) for k, v in deltas.items()},
            "next_rule": [_gap_words(ctx, d) for d in delta],
            "cheaper_rep_id": np.where(blocked, rep_ids[cheapest], ""),
            "cheaper_delta": np.where(blocked, total[rows, cheapest], np.nan),
        }
    )
    breaks = move_breaks(ctx.rules, t.item_of[blocked], cheapest[blocked])
    words = np.full(len(frame), "", dtype=object)
    words[blocked] = ["; ".join(_rule_text(ctx, b) for b in br) for br in breaks]
    frame["next_breaks"] = words
    return frame[ACCOUNT_COLUMNS].sort_values("account_id", ignore_index=True)


def _sparse_territory(plan: Plan) -> Territory | None:
    """The plan's territory when it is on the sparse path (no (accounts, reps) arrays), else
    None: the one-move explanations need the dense arrays."""
    t = build_territory(territory_tables(plan.scenario, plan.tables), plan.scenario.assignment)
    return t if is_lazy(t.km) else None


def _plain_accounts(plan: Plan) -> pd.DataFrame | None:
    """Above ``pairs.SPARSE_FROM`` (accounts x reps) pairs: owner, incumbent, moved and reason
    only, the next-best columns empty (the one-move search would need every pair in memory)."""
    t = _sparse_territory(plan)
    if t is None:
        return None
    log.info("explain: %d x %d pairs, the next-best rep is not computed", *t.km.shape)
    ids = t.accounts["account_id"]
    owner = plan.owners.reindex(ids).astype(str).to_numpy(str)
    incumbent = t.accounts["incumbent_rep_id"].to_numpy(str)
    reasons = (
        ids.map(plan.assignment.assignments.set_index("account_id")["reason"]).to_numpy()
        if plan.assignment is not None
        else "incumbent (assignment off)"
    )
    frame = pd.DataFrame(
        {
            "account_id": ids.to_numpy(str),
            "rep_id": owner,
            "incumbent_rep_id": incumbent,
            "moved": (incumbent != "") & (owner != incumbent),
            "reason": reasons,
        }
    )
    for column in ACCOUNT_COLUMNS[5:]:
        frame[column] = np.nan if "delta" in column else ""
    return frame[ACCOUNT_COLUMNS].sort_values("account_id", ignore_index=True)


def _gap_words(ctx: _Context, delta: float) -> str:
    """Why a move that would lower the objective by ``-delta`` is not in the plan."""
    if not delta < -1e-9:
        return ""
    if ctx.slack is None:
        return "the solve proved no bound: the plan may not be optimal"
    saving = -delta
    if saving <= ctx.slack + 1e-6 * max(1.0, ctx.slack):
        return f"gap: the plan is proven within {number(ctx.slack)} of the optimum"
    return f"not explained: saves {number(saving)}, more than the proven gap {number(ctx.slack)}"


def _rule_text(ctx: _Context, rule: str) -> str:
    return rule


def _who(ctx: _Context, pos: int) -> str:
    rep_id, name = (str(v) for v in ctx.t.reps[["rep_id", "name"]].iloc[pos])
    return f"{name} ({rep_id})" if name and name != rep_id else rep_id


def _number(value: float) -> str:
    return number(value)


def _ineligible(ctx: _Context) -> dict[str, np.ndarray]:
    """Accounts x reps masks, one per eligibility rule, True where the rule forbids the arc."""
    t = ctx.t
    return {"experience": ~t.experience_ok, "skills": ~t.skills_ok, "locked": ~t.lock_ok}


def why_not(plan: Plan, account_id: str, rep_id: str) -> str:
    """Why ``account_id`` is not served by ``rep_id``, in plain words.

    Raises
    ------
    InputError
        When the account or the rep is not an active id of the plan.
    """
    if _sparse_territory(plan) is not None:
        raise InputError(
            [
                f"why_not: plan {plan.scenario.name} has more than {pairs.SPARSE_FROM:,} "
                "account x rep pairs; one-move explanations are only computed below that size"
            ]
        )
    ctx = _context(plan)
    (a,) = pd.Index(ctx.t.accounts["account_id"]).get_indexer([account_id])
    (col,) = pd.Index(ctx.t.reps["rep_id"]).get_indexer([rep_id])
    for kind, value, found in (("account", account_id, a), ("rep", rep_id, col)):
        if found < 0:
            raise InputError(
                [f"why_not: no active {kind} '{value}' in scenario {plan.scenario.name}"]
            )
    account = ctx.t.accounts.iloc[a]
    label = f"{account['name']} ({account_id})" if account["name"] else account_id
    owner = int(ctx.owner[a])
    if owner == col:
        return f"{_who(ctx, col)} already serves {label} (reason: {ctx.reasons[a] or 'n/a'})."
    rules = [k for k, m in _ineligible(ctx).items() if m[a, col]]
    if rules:
        because = "; ".join(_rule_words(ctx, a, col, k) for k in rules)
        return f"{_who(ctx, col)} may not serve {label}: {because}."
    d = {k: float(v[a, col]) for k, v in _deltas(ctx).items()}
    total = sum(d.values())
    km = float(ctx.travel[a, col] - ctx.travel[a, owner])
    parts = [
        f"travel {d['travel']:+,.2f} ({_who(ctx, col)} would drive {_number(abs(km))} km "
        f"{'more' if km >= 0 else 'less'} per period)",
        f"balance {d['balance']:+,.2f}",
        f"disruption {d['disruption']:+,.2f}",
    ]
    text = (
        f"{label} is served by {_who(ctx, owner)}. Moving it to {_who(ctx, col)} would "
        f"{'raise' if total >= 0 else 'lower'} the objective by {abs(total):,.2f}: "
        f"{', '.join(parts)}."
    )
    broken = move_breaks(ctx.rules, ctx.t.item_of[[a]], np.array([col]))[0]
    if broken:
        text += f" It would break {', '.join(broken)}."
    elif total < 0:
        text += f" No rule forbids it; why it is not taken: {_gap_words(ctx, total)}."
    return text


def _rule_words(ctx: _Context, a: int, col: int, rule: str) -> str:
    account, rep = ctx.t.accounts.iloc[a], ctx.t.reps.iloc[col]
    if rule == "experience":
        need = (ctx.settings.constraints.experience or {}).get(str(account["segment"]), 0.0)
        has = _number(float(rep["experience"]))
        return f"segment {account['segment']} needs experience {_number(need)}+, the rep has {has}"
    if rule == "skills":
        missing = sorted(parse_ids(account["required_skills"]) - parse_ids(rep["skills"]))
        return f"the account requires skill(s) {', '.join(missing)} the rep lacks"
    incumbent = str(account["incumbent_rep_id"])
    (pos,) = pd.Index(ctx.t.reps["rep_id"]).get_indexer([incumbent])
    return f"the account is locked to its incumbent {_who(ctx, pos) if pos >= 0 else incumbent}"
