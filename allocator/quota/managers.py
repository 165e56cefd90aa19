"""Top-down targets per manager (``target.by_manager``): resolved, fitted and rounded.

A scenario may give a target to any manager of the hierarchy (a district, a region) as well as,
or instead of, the company target (``models/organisation.md``, "Top-down targets"). Every rep
belongs to one *group*: the nearest manager above them that has a target (``""`` when none has),
and each group's total is that manager's target minus the targets of the targeted managers below
it (the company's group: the company target minus the top targeted managers). So the groups'
totals add up, level by level, to every given target and to the company target.

- :func:`resolve_manager_targets` checks the numbers against each other and the hierarchy;
- :func:`fit_fair_to_groups` scales the fair quotas so that each group's fair quotas sum to its
  total and each product's to its target (iterative proportional fitting on groups x products);
- :func:`round_to_groups` rounds LP quotas to whole units with both margins exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.exceptions import InfeasibleError, InputError
from allocator.io.tables import Tables
from allocator.quota.availability import fit_months
from allocator.quota.phasing import round_groups, round_matrix

__all__ = [
    "COMPANY",
    "ManagerTargets",
    "covers_every_rep",
    "fit_fair_to_groups",
    "manager_chains",
    "manager_targets",
    "resolve_manager_targets",
    "round_to_groups",
]

#: the group of reps under no targeted manager
COMPANY = ""
KEY = "target.by_manager"


@dataclass(frozen=True)
class ManagerTargets:
    """Resolved top-down targets.

    ``targets``: manager_id -> whole target (currency units, over the horizon);
    ``members``: manager_id -> the active territory reps below (any depth);
    ``group``: rep_id -> the group (nearest targeted manager, ``COMPANY`` when none);
    ``totals``: group -> whole total (the groups' totals sum to ``company``).
    """

    targets: dict[str, int]
    members: dict[str, list[str]]
    group: dict[str, str]
    totals: dict[str, int]
    company: int

    def table(self) -> pd.DataFrame:
        """``manager_id``, ``target``: the given targets, in the order given."""
        return pd.DataFrame(
            {"manager_id": list(self.targets), "target": list(self.targets.values())}
        )


def manager_chains(tables: Tables) -> dict[str, list[str]]:
    """rep_id -> the managers above each active territory rep, nearest first (cycles refused
    on input, so every chain ends)."""
    parent = _parents(tables)
    out = {}
    reps = tables.active_reps
    for rep, manager in zip(reps["rep_id"], reps["manager_id"], strict=True):
        chain: list[str] = []
        while manager and manager not in chain:
            chain.append(manager)
            manager = parent.get(manager, "")
        out[rep] = chain
    return out


def resolve_manager_targets(
    tables: Tables,
    given: Mapping[str, float],
    company: int | None,
    company_key: str = "target.amount",
) -> ManagerTargets:
    """Check ``target.by_manager`` against the hierarchy and the company target.

    ``company`` is the company target over the horizon, or None when the managers' targets set
    it (then they must cover every active territory rep, and the company target is the sum of
    the top targeted managers').

    Raises
    ------
    InputError
        An unknown manager; a target that is not a whole amount; a manager without active reps
        given a positive target; the targets below a manager summing to more than its target, or
        to less when they cover all its reps; the top targets summing to more than the company
        target (or to less when they cover every rep); top targets that do not cover every rep
        when there is no company target. Each line names ``target.by_manager.<id>`` and the numbers.
    """
    chains = manager_chains(tables)
    known = set(tables.managers["manager_id"]) if tables.managers is not None else set()
    known |= {m for chain in chains.values() for m in chain}
    problems = [
        f"{KEY}.{m}: unknown manager (known: {_few(known)})" for m in given if m not in known
    ]
    problems += [
        f"{KEY}.{m}: {v!r} is not a whole amount (currency units)"
        for m, v in given.items()
        if float(v) != round(float(v))
    ]
    if problems:
        raise InputError(problems)
    targets = {m: round(float(v)) for m, v in given.items()}
    members = {m: [r for r, chain in chains.items() if m in chain] for m in targets}
    group = {r: next((m for m in chain if m in targets), COMPANY) for r, chain in chains.items()}
    below = {m: _nearest_below(m, chains, targets) for m in targets}
    problems = [
        f"{KEY}.{m}: {t:,} but {m} has no active rep"
        for m, t in targets.items()
        if t > 0 and not members[m]
    ]
    totals = {}
    for m, t in targets.items():
        totals[m] = t - sum(targets[c] for c in below[m])
        problems += _balance(
            f"{KEY}.{m}",
            f"{m}'s target",
            t,
            below[m],
            targets,
            any(group[r] == m for r in members[m]),
        )
    tops = [m for m in targets if _top(m, _parents(tables), targets)]
    if company is None:
        uncovered = [r for r, g in group.items() if g == COMPANY]
        if uncovered:
            problems.append(
                f"{KEY}: without a company target (target.amount, plan or history) the managers "
                f"given must cover every rep; {len(uncovered)} rep(s) are under none "
                f"({_few(uncovered)})"
            )
        company = sum(targets[m] for m in tops)
    else:
        rest = any(g == COMPANY for g in group.values())
        problems += _balance(company_key, "the company target", company, tops, targets, rest)
    if problems:
        raise InputError(problems)
    totals[COMPANY] = company - sum(targets[m] for m in tops)
    return ManagerTargets(targets, members, group, totals, company)


def _balance(
    key: str, what: str, total: int, parts: list[str], targets: Mapping[str, int], rest: bool
) -> list[str]:
    """The targets just below a total must not exceed it, and must meet it when no rep is left."""
    given = sum(targets[c] for c in parts)
    names = " + ".join(f"{c} {targets[c]:,}" for c in parts)
    if given > total:
        return [f"{key}: {what} is {total:,} but the targets below it sum to {given:,} ({names})"]
    if parts and given < total and not rest:
        return [
            f"{key}: {what} is {total:,} but the targets below it sum to {given:,} ({names}) "
            "and cover all its reps: make them sum to it"
        ]
    return []


def _parents(tables: Tables) -> dict[str, str]:
    if tables.managers is None:
        return {}
    return dict(zip(tables.managers["manager_id"], tables.managers["parent_id"], strict=True))


def _top(m: str, parent: Mapping[str, str], targets: Mapping[str, int]) -> bool:
    """No targeted manager above ``m``."""
    seen, current = {m}, parent.get(m, "")
    while current and current not in seen:
        if current in targets:
            return False
        seen.add(current)
        current = parent.get(current, "")
    return True


def _nearest_below(
    m: str, chains: Mapping[str, list[str]], targets: Mapping[str, int]
) -> list[str]:
    """The targeted managers below ``m`` with no targeted manager between them and ``m``."""
    out: list[str] = []
    for chain in chains.values():
        if m not in chain:
            continue
        inner = [a for a in chain[: chain.index(m)] if a in targets]
        if inner and inner[-1] not in out:
            out.append(inner[-1])
    return out


def _few(ids: object) -> str:
    names = sorted(map(str, ids))  # type: ignore[call-overload]
    return ", ".join(names[:8]) + (f", ... ({len(names)})" if len(names) > 8 else "")


def fit_fair_to_groups(pairs: pd.DataFrame, org: ManagerTargets, totals: pd.Series) -> np.ndarray:
    """Scale the fair quotas ``pairs["fair"]`` to the groups' totals and the product targets.

    The groups x products matrix of fair quotas is fitted to row sums ``org.totals`` and column
    sums ``totals`` (``T_p``) by iterative proportional fitting; each pair's fair quota is scaled
    by its cell's factor, so within a group and product the reps keep the company rule's
    proportions (ramp-weighted potential, availability).

    Raises
    ------
    InfeasibleError
        A group with a positive total and no eligible potential, or totals the groups' potential
        cannot carry (a district holding only product P1 potential, given more than P1's target).
    """
    groups = pairs["rep_id"].map(org.group).fillna(COMPANY)
    names = list(org.totals)
    seed = pairs.groupby([groups, pairs["product_id"]])["fair"].sum().unstack(fill_value=0.0)
    seed = seed.reindex(index=names, columns=totals.index, fill_value=0.0)
    rows = np.array([org.totals[g] for g in names], float)
    empty = [g for g, s, t in zip(names, seed.sum(axis=1), rows, strict=True) if t > 0 and s <= 0]
    if empty:
        raise InfeasibleError(
            "target.by_manager: a manager's target has no rep to carry it",
            diagnosis=[
                f"{_label(g)}: {org.totals[g]:,} to reps without eligible potential" for g in empty
            ],
        )
    labels = [_label(g) for g in names]
    fitted = fit_months(seed.to_numpy(float), rows, totals.to_numpy(float), labels)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(seed.to_numpy() > 0, fitted / seed.to_numpy(), 0.0)
    g_code = pd.Index(names).get_indexer(groups)
    p_code = pd.Index(totals.index).get_indexer(pairs["product_id"])
    return pairs["fair"].to_numpy(float) * factor[g_code, p_code]


def _label(group: str) -> str:
    return f"{KEY}.{group}" if group else "the reps under no targeted manager"


def round_to_groups(
    values: np.ndarray, pairs: pd.DataFrame, org: ManagerTargets, totals: pd.Series
) -> np.ndarray:
    """Whole quotas from LP values: groups x products rounded with both margins exact (group
    totals, product targets), then each cell's reps by largest remainder."""
    groups = pairs["rep_id"].map(org.group).fillna(COMPANY)
    names = list(org.totals)
    g_code = pd.Index(names).get_indexer(groups)
    p_code = pd.Index(totals.index).get_indexer(pairs["product_id"])
    cells = np.zeros((len(names), len(totals)))
    np.add.at(cells, (g_code, p_code), values)
    rows = np.array([org.totals[g] for g in names], float)
    whole = round_matrix(cells, rows, totals.to_numpy(float))
    flat = g_code * len(totals) + p_code
    return round_groups(values, flat, whole.ravel().astype(float))


def covers_every_rep(tables: Tables, given: Mapping[str, float]) -> bool:
    """True when every active territory rep is below (or is under) a manager of ``given``."""
    return all(set(chain) & set(given) for chain in manager_chains(tables).values())


def manager_targets(
    tables: Tables, by_manager: pd.DataFrame | None, total: float
) -> ManagerTargets | None:
    """The resolved targets of a :class:`~allocator.quota.target.TargetResult`'s ``by_manager``
    (manager_id, target) against its ``total``; None without top-down targets."""
    if by_manager is None or by_manager.empty:
        return None
    given = dict(zip(by_manager["manager_id"], by_manager["target"], strict=True))
    return resolve_manager_targets(tables, given, round(total))
