"""From tables and settings to the territory's arc problem (``models/assignment.md``, symbols).

:func:`build_territory` computes, for every active account and rep, the distance, the capacity
use, who may serve whom (experience, skills, locks), who is the incumbent and which item
(account, or region at ``level: region``) each account belongs to. :func:`territory_problem`
turns that :class:`Territory` into the :class:`~allocator.territory.core.ArcProblem` the core
solves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from allocator.exceptions import InputError, ScenarioError
from allocator.geography.graph import region_graph
from allocator.io.organisation import split_accounts
from allocator.io.settings import AssignmentSettings, BalanceSettings
from allocator.io.tables import Tables
from allocator.territory import account_pairs
from allocator.territory.contiguity import Contiguity, home_rules
from allocator.territory.core import ArcProblem, RowFamily, Sense
from allocator.territory.nearby import Near, describe_problem, make_near
from allocator.territory.pairs import is_lazy
from allocator.territory.splits import fixed_shares

__all__ = ["Territory", "build_territory", "fair_shares", "territory_problem", "within_km"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

log = logging.getLogger("allocator")

UNITS = {"potential": "potential", "workload": "hours"}


@dataclass(frozen=True)
class Territory:
    """Account-level arrays (accounts x reps) and the items (accounts or regions) they form.

    ``incumbent`` is the index of the account's incumbent among the active reps, -1 when blank or
    not an active rep; ``has_incumbent`` says whether ``incumbent_rep_id`` is filled at all.
    """

    accounts: pd.DataFrame
    reps: pd.DataFrame
    km: FloatArray
    load: FloatArray
    incumbent: IntArray
    has_incumbent: BoolArray
    locked: BoolArray
    experience_ok: BoolArray
    skills_ok: BoolArray
    items: tuple[str, ...]
    item_of: IntArray
    by_region: bool = False
    fixed: Mapping[str, FloatArray] = field(default_factory=dict)
    splits: pd.DataFrame | None = None
    near: Near | None = None

    def offset(self, key: str) -> FloatArray:
        """Per-rep constant of a measure from split accounts (``load``, ``potential``,
        ``workload``, ``travel``, ``count``); zeros without splits."""
        return self.fixed.get(key, np.zeros(len(self.reps)))

    @property
    def eligible(self) -> BoolArray:
        """Account-level eligibility: experience, skills and locks."""
        return self.experience_ok & self.skills_ok & self.lock_ok

    @property
    def lock_ok(self) -> BoolArray:
        """Account-level locks: a locked account may only go to its incumbent."""
        shape, lazy = self.km.shape, is_lazy(self.km)
        return account_pairs.lock_ok(self.locked, self.incumbent, shape, lazy=lazy)


def build_territory(tables: Tables, settings: AssignmentSettings) -> Territory:
    """The account-level data of ``tables`` under ``settings``.

    Raises
    ------
    InputError
        When there is no active account or no active rep.
    """
    splits = split_accounts(tables)
    accounts = tables.active_accounts
    accounts = accounts[~accounts["account_id"].isin(set(splits["account_id"]))]
    accounts = accounts.reset_index(drop=True)
    reps = tables.active_reps.reset_index(drop=True)
    if accounts.empty or reps.empty:
        raise InputError([f"{'accounts' if accounts.empty else 'reps'}: no active row to assign"])
    cons = settings.constraints
    hours_per_km = cons.capacity.travel_hours_per_km if cons.capacity else 0.0
    fixed, split_rows = fixed_shares(tables, reps, splits, hours_per_km)
    lazy = account_pairs.sparse(settings, len(accounts), len(reps))
    km = account_pairs.distances(accounts, reps, lazy=lazy)
    visits = accounts["visits"].to_numpy(float)
    load = accounts["workload"].to_numpy(float)[:, None] + hours_per_km * visits[:, None] * km
    index = {rep: k for k, rep in enumerate(reps["rep_id"])}
    incumbent = accounts["incumbent_rep_id"].map(index).fillna(-1).to_numpy(np.int64)
    has_incumbent = (accounts["incumbent_rep_id"] != "").to_numpy(bool)
    continuity = cons.continuity
    # the data says locked: keep it unless the scenario explicitly sets respect_locked: false
    locks_on = continuity is None or continuity.respect_locked
    locked = accounts["locked"].to_numpy(bool) & has_incumbent & locks_on
    if settings.level == "region":
        item_ids, item_of = np.unique(accounts["region_id"].to_numpy(str), return_inverse=True)
    else:
        item_ids, item_of = accounts["account_id"].to_numpy(str), np.arange(len(accounts))
    near = None
    if lazy:  # the sparse path: what the pruned passes over all pairs need
        near = make_near(
            accounts,
            reps,
            cons.experience,
            cons.skills is not None,
            locked=locked,
            incumbent=incumbent,
            has_incumbent=has_incumbent,
        )
    return Territory(
        accounts=accounts,
        reps=reps,
        km=km,
        load=load,
        incumbent=incumbent,
        has_incumbent=has_incumbent,
        locked=locked,
        experience_ok=account_pairs.experience_ok(accounts, reps, cons.experience, lazy=lazy),
        skills_ok=account_pairs.skills_ok(accounts, reps, lazy=lazy)
        if cons.skills is not None
        else account_pairs.everyone(km.shape, lazy=lazy),
        items=tuple(str(i) for i in item_ids),
        item_of=np.asarray(item_of, np.int64),
        by_region=settings.level == "region",
        fixed=fixed,
        splits=split_rows,
        near=near,
    )


def fair_shares(reps: pd.DataFrame, total: float, rule: str) -> FloatArray:
    """Each rep's fair share of ``total``: weights ramp, ramp x (1 + experience / max), or equal."""
    ramp = reps["ramp"].to_numpy(float)
    if rule == "equal":
        weight = np.ones(len(reps))
    elif rule == "ramp":
        weight = ramp
    else:
        experience = reps["experience"].to_numpy(float)
        top = experience.max(initial=0.0)
        weight = ramp * (1.0 + experience / top) if top > 0 else ramp
    return total * weight / weight.sum() if weight.sum() > 0 else np.zeros(len(reps))


# ---------------------------------------------------------------- the arc problem


def _aggregator(t: Territory) -> sparse.csr_matrix:
    """Items x accounts 0/1 matrix: ``agg @ values`` sums account rows into item rows."""
    n_acc = len(t.accounts)
    return sparse.csr_matrix(
        (np.ones(n_acc), (t.item_of, np.arange(n_acc))), shape=(len(t.items), n_acc)
    )


def within_km(t: Territory, max_km: float | None) -> BoolArray | None:
    """Item-level arcs whose accounts all lie within ``max_km`` of the rep (None: no cap)."""
    if max_km is None:
        return None
    if is_lazy(t.km):  # account level: the pair's own distance
        return t.km <= max_km  # type: ignore[return-value]
    return np.asarray(_aggregator(t) @ (t.km > max_km).astype(float)) == 0


def territory_problem(tables: Tables, settings: AssignmentSettings, t: Territory) -> ArcProblem:
    """The arc problem (items x reps) of a territory: arcs, objective terms, row families.

    Raises
    ------
    ScenarioError
        When contiguity is on and the tables have no adjacency.
    """
    n_acc = t.km.shape[0]
    agg = _aggregator(t)

    def total(values: npt.ArrayLike) -> FloatArray:
        if not t.by_region:  # items are the accounts: no copy of an (accounts, reps) array
            return values if is_lazy(values) else np.asarray(values, float)  # type: ignore[return-value]
        return np.asarray(agg @ np.asarray(values, float))

    visits = t.accounts["visits"].to_numpy(float)[:, None]
    moved, keep = account_pairs.moves(t)
    potential = t.accounts["potential"].to_numpy(float)
    weights = settings.objective
    lexicographic = weights.mode == "lexicographic"  # goals unweighted, one at a time
    travel = total(visits * t.km)
    items = _ItemData(
        travel=travel,
        load=total(t.load),
        moved=total(moved),
        moved_potential=total(potential[:, None] * moved),
        count=total(np.ones(n_acc)),
        measures={"potential": total(potential), "workload": total(t.accounts["workload"])},
    )
    thousands_moved = items.moved_potential / 1000.0
    contiguity = _contiguity(tables, settings, t)
    eligible = t.eligible if not t.by_region else total(~t.eligible) == 0
    if contiguity is not None:  # a home region's items go to its residents (home-region rule)
        eligible = home_rules(contiguity, eligible).eligible
    problem = ArcProblem(
        items=t.items,
        reps=tuple(t.reps["rep_id"]),
        eligible=eligible,
        terms={
            "travel": _weighted(1.0 if lexicographic else weights.travel, travel),
            "disruption": _weighted(1.0 if lexicographic else weights.disruption, thousands_moved),
        },
        families=_families(settings, t, items) + _manager_families(tables, settings, t, items),
        rank=travel,
        keep=keep if not t.by_region else total(keep) > 0,
        contiguity=contiguity,
        name="assignment",
        mip_arrays=True,
    )
    if t.near is not None and not t.by_region:
        if describe_problem(t.near, problem, settings, t.accounts, t.km):
            return replace(problem, near=t.near)
        log.warning("the pair data does not match its forms: every pass evaluates all pairs")
    return problem


def _weighted(weight: float, values: FloatArray) -> FloatArray:
    """``weight * values``, sharing ``values`` when the weight is 1 (one (items, reps) array
    less at scale)."""
    return values if weight == 1.0 else weight * values


@dataclass(frozen=True)
class _ItemData:
    """Item-level sums (items x reps, or items for ``count`` and ``measures``)."""

    travel: FloatArray
    load: FloatArray
    moved: FloatArray
    moved_potential: FloatArray
    count: FloatArray
    measures: dict[str, FloatArray]


def _rep_rows(
    key: str,
    doc: str,
    coef: FloatArray,
    sense: Sense,
    rhs: FloatArray,
    labels: tuple[str, ...],
    unit: str,
) -> RowFamily:
    """A soft family with one row per rep."""
    return RowFamily(key, doc, "rep", coef, sense, rhs, labels, soft=True, unit=unit)


def _families(
    settings: AssignmentSettings, t: Territory, items: _ItemData
) -> tuple[RowFamily, ...]:
    cons = settings.constraints
    reps = tuple(t.reps["rep_id"])
    out: list[RowFamily] = []
    if cons.capacity is not None:
        limit = (1 + cons.capacity.tolerance) * t.reps["capacity"].to_numpy(float)
        limit = limit - t.offset("load")
        out.append(_rep_rows("capacity", "capacity", items.load, "<=", limit, reps, "hours"))
    out += _balance_families(settings, t, items)
    if cons.max_accounts is not None:
        limit = np.full(len(reps), float(cons.max_accounts.limit)) - t.offset("count")
        count = items.count[:, None]
        out.append(_rep_rows("max_accounts", "max_accounts", count, "<=", limit, reps, "accounts"))
    continuity = cons.continuity
    if continuity is not None and continuity.max_moved_share is not None:
        by_potential = continuity.measure == "potential"
        coef = items.moved_potential if by_potential else items.moved
        splits = t.splits.drop_duplicates("account_id") if t.splits is not None else None
        extra = (
            0.0 if splits is None else (splits["potential"].sum() if by_potential else len(splits))
        )
        whole = float(t.accounts["potential"].sum()) if by_potential else float(len(t.accounts))
        whole += float(extra)
        rhs = np.array([continuity.max_moved_share * whole])
        unit = "potential" if by_potential else "accounts"
        out.append(
            RowFamily("max_moved", "max_moved", "one", coef, "<=", rhs, ("",), soft=True, unit=unit)
        )
    return tuple(out)


def _balance_families(
    settings: AssignmentSettings, t: Territory, items: _ItemData
) -> list[RowFamily]:
    balance = settings.constraints.balance
    objective = settings.objective
    weight = objective.balance
    if objective.mode == "lexicographic":
        weight = 1.0 if "balance" in objective.order else 0.0
    if balance is None and weight == 0:
        return []
    rule = balance or BalanceSettings()
    measures = ["potential", "workload"] if rule.measure == "both" else [rule.measure]
    out: list[RowFamily] = []
    for measure in measures:
        values = items.measures[measure][:, None]
        fixed = t.offset(measure)
        fair = fair_shares(t.reps, float(values.sum() + fixed.sum()), rule.fair_share)
        labels = tuple(f"{r},{measure}" for r in t.reps["rep_id"])
        unit = UNITS[measure]
        if balance is not None:
            lo = (1 - balance.tolerance) * fair - fixed
            hi = (1 + balance.tolerance) * fair - fixed
            out.append(
                _rep_rows(f"balance_lo_{measure}", "balance_lo", values, ">=", lo, labels, unit)
            )
            out.append(
                _rep_rows(f"balance_hi_{measure}", "balance_hi", values, "<=", hi, labels, unit)
            )
        if weight > 0:
            per_point = np.divide(100.0 * weight, fair, out=np.zeros_like(fair), where=fair > 0)
            key = f"deviation_{measure}"
            row = RowFamily(
                key,
                "deviation",
                "rep",
                values,
                "==",
                fair - fixed,
                labels,
                unit=unit,
                deviation=per_point,
            )
            out.append(row)
    return out


def _contiguity(tables: Tables, settings: AssignmentSettings, t: Territory) -> Contiguity | None:
    rule = settings.constraints.contiguity
    if rule is None:
        return None
    if tables.adjacency is None:
        raise ScenarioError(
            "assignment.constraints.contiguity: needs the region graph; add data.adjacency "
            "(region_a, region_b)"
        )
    known = set(t.accounts["region_id"]) | set(t.reps["region_id"])
    if tables.regions is not None:
        known |= set(tables.regions["region_id"])
    regions = tuple(sorted(str(g) for g in known))
    index = {g: k for k, g in enumerate(regions)}
    if settings.level == "region":
        groups = np.array([index[g] for g in t.items], np.int64)
    else:
        groups = np.asarray(t.accounts["region_id"].map(index), np.int64)
    return Contiguity(
        groups=groups,
        regions=regions,
        graph=region_graph(regions, tables.adjacency),
        home=np.asarray(t.reps["region_id"].map(index), np.int64),
        include_home=rule.include_home,
        per_component=rule.per_component,
        max_rounds=rule.max_rounds,
        districts=_districts(tables, settings, t),
    )


def _districts(
    tables: Tables, settings: AssignmentSettings, t: Territory
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``(manager_id, rep indices)`` of every manager (any depth) under ``managers.contiguous``."""
    rule = settings.constraints.managers
    if rule is None or not rule.contiguous or "manager_id" not in t.reps.columns:
        return ()
    members = reps_below(tables, t.reps)
    return tuple(
        (m, tuple(int(k) for k in np.flatnonzero(mask))) for m, mask in sorted(members.items())
    )


def _manager_families(
    tables: Tables, settings: AssignmentSettings, t: Territory, items: _ItemData
) -> tuple[RowFamily, ...]:
    """``manager_lo/hi[m]``: the measure below each manager (any depth) within +-tolerance of
    the sum of its reps' fair shares; split accounts count as fixed shares."""
    rule = settings.constraints.managers
    if rule is None or rule.tolerance is None or "manager_id" not in t.reps.columns:
        return ()
    members = reps_below(tables, t.reps)
    fair_rule = (settings.constraints.balance or BalanceSettings()).fair_share
    values = items.measures[rule.measure][:, None]
    fixed = t.offset(rule.measure)
    fair = fair_shares(t.reps, float(values.sum() + fixed.sum()), fair_rule)
    out: list[RowFamily] = []
    for manager, mask in members.items():
        coef = values * mask[None, :]
        target, held = float(fair[mask].sum()), float(fixed[mask].sum())
        for doc, sense, factor in (
            ("manager_lo", ">=", 1 - rule.tolerance),
            ("manager_hi", "<=", 1 + rule.tolerance),
        ):
            rhs = np.array([factor * target - held])
            out.append(
                RowFamily(
                    f"{doc}_{manager}",
                    doc,
                    "one",
                    coef,
                    sense,
                    rhs,
                    (manager,),
                    soft=True,
                    unit=UNITS[rule.measure],
                )  # type: ignore[arg-type]
            )
    return tuple(out)


def reps_below(tables: Tables, reps: pd.DataFrame) -> dict[str, BoolArray]:
    """Manager id -> mask over ``reps`` of the reps below it at any depth."""
    parent: dict[str, str] = {}
    if tables.managers is not None:
        parent = dict(zip(tables.managers["manager_id"], tables.managers["parent_id"], strict=True))
    out: dict[str, BoolArray] = {}
    for k, manager in enumerate(reps["manager_id"]):
        seen: set[str] = set()
        while manager and manager not in seen:
            seen.add(manager)
            out.setdefault(manager, np.zeros(len(reps), bool))[k] = True
            manager = parent.get(manager, "")
    return out
