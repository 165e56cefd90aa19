"""Independent check of a territory: every rule and the objective, from the output table alone.

:func:`check_assignment` reads only the inputs (tables, settings) and the (account_id, rep_id)
pairs of a solution. It shares no code with the model on purpose (its own haversine, its own fair
shares): a bug in the model cannot hide behind the same bug in the check. The rules and the
objective are those of ``models/assignment.md``; violations are named like the model's rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from allocator.io.settings import AssignmentSettings
from allocator.io.tables import Tables

__all__ = ["CheckResult", "check_assignment"]

RADIUS_KM = 6371.0


@dataclass(frozen=True)
class CheckResult:
    """Violated rules (document names with numbers) and the recomputed objective and its terms."""

    violations: tuple[str, ...]
    objective: float
    terms: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


def _great_circle_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    to_rad = math.pi / 180.0
    p1, p2 = lat1 * to_rad, lat2 * to_rad
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin((lon2 - lon1) * to_rad / 2) ** 2
    )
    return 2 * RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def _over(value: float, limit: float) -> bool:
    return value > limit + 1e-6 * max(1.0, abs(limit))


def check_assignment(
    tables: Tables, settings: AssignmentSettings, assignments: pd.DataFrame
) -> CheckResult:
    """Recompute every hard rule and the objective of ``assignments`` (account_id, rep_id).

    Returns a :class:`CheckResult`; an empty ``violations`` means the solution is feasible.
    ``terms`` are weighted like the model's (travel, balance, disruption); in lexicographic mode
    they are the unweighted goals and the objective is the last goal's value.
    """
    accounts = tables.accounts[tables.accounts["active"]].set_index("account_id")
    reps = tables.reps[tables.reps["active"]]
    if "role" in reps.columns:  # overlay reps hold no territory (models/organisation.md)
        reps = reps[reps["role"].str.lower() != "overlay"]
    reps = reps.set_index("rep_id")
    problems = list(_coverage(accounts, reps, assignments))
    owned = assignments.drop_duplicates("account_id")
    owned = owned[_isin(owned["account_id"], accounts.index) & _isin(owned["rep_id"], reps.index)]
    splits = _active_splits(tables, accounts, reps)
    problems += _split_shares(tables, accounts, splits, owned)
    df = _with_km(accounts.loc[owned["account_id"]].assign(rep_id=owned["rep_id"].to_numpy()), reps)
    df = df[~_isin(df.index, splits["account_id"])]  # split accounts are fixed: counted by share
    df["moved"] = (df["incumbent_rep_id"] != "") & (df["incumbent_rep_id"] != df["rep_id"])
    shared = accounts.loc[splits["account_id"]].assign(
        rep_id=splits["rep_id"].to_numpy(), share=splits["share"].to_numpy(float)
    )
    credited = pd.concat([df.assign(share=1.0), _with_km(shared, reps)])
    cons = settings.constraints
    problems += _capacity(credited, reps, settings)
    problems += _eligibility(df, reps, settings)
    if cons.max_accounts is not None:
        count = credited.groupby("rep_id").size()
        problems += [
            f"max_accounts[{r}]: {n} accounts > {cons.max_accounts.limit}"
            for r, n in count.items()
            if n > cons.max_accounts.limit
        ]
    problems += _continuity(df, accounts, settings)
    problems += _balance(credited, reps, accounts, settings)
    problems += _managers(credited, reps, accounts, tables, settings)
    problems += _regions(df, accounts, tables, reps, settings)
    goals = _goals(df, credited, reps, accounts, settings)
    weights = settings.objective
    if weights.mode == "lexicographic":
        return CheckResult(tuple(problems), goals[weights.order[-1]], goals)
    terms = {
        "travel": weights.travel * goals["travel"],
        "balance": weights.balance * goals["balance"],
        "disruption": weights.disruption * goals["disruption"],
    }
    return CheckResult(tuple(problems), sum(terms.values()), terms)


def _coverage(
    accounts: pd.DataFrame, reps: pd.DataFrame, assignments: pd.DataFrame
) -> Iterator[str]:
    counts = assignments["account_id"].value_counts()
    per_account = counts.reindex(accounts.index, fill_value=0)
    for a, n in per_account[per_account != 1].items():
        yield f"assign_once[{a}]: assigned {int(n)} times"
    strangers = assignments["account_id"][~_isin(assignments["account_id"], accounts.index)]
    for a in sorted(set(strangers)):
        yield f"assign_once[{a}]: not an active account"
    unknown = ~_isin(assignments["rep_id"], reps.index)
    for a, r in zip(
        assignments["account_id"][unknown], assignments["rep_id"][unknown], strict=True
    ):
        yield f"assign_once[{a}]: {r} is not an active rep"


def _isin(values: pd.Series | pd.Index, pool: pd.Series | pd.Index) -> np.ndarray:
    """``values.isin(pool)`` as a bool array, through a hash table on object ids.

    pandas' Arrow-backed strings test membership element by element in Python (0.1 s per call
    at 20,000 accounts); on object arrays it is one hash-table pass.
    """
    return np.asarray(pd.Index(values).astype(object).isin(pd.Index(pool).astype(object)))


def _active_splits(tables: Tables, accounts: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """Splits in force: active accounts and reps, shares rescaled, two reps or more."""
    splits = tables.account_splits
    if splits is None:
        return pd.DataFrame({"account_id": [], "rep_id": [], "share": []})
    rows = splits[_isin(splits["account_id"], accounts.index) & _isin(splits["rep_id"], reps.index)]
    total = rows.groupby("account_id")["share"].transform("sum")
    rows = rows.assign(share=rows["share"] / total)
    return rows[rows.groupby("account_id")["rep_id"].transform("size") >= 2]


def _split_shares(
    tables: Tables, accounts: pd.DataFrame, splits: pd.DataFrame, owned: pd.DataFrame
) -> list[str]:
    """Each split's shares, as given, sum to 1; its row names one of the reps in force."""
    out = []
    given = tables.account_splits
    if given is not None:
        given = given[_isin(given["account_id"], accounts.index)]
        for a, total in given.groupby("account_id")["share"].sum().items():
            if abs(float(total) - 1.0) > 1e-6:
                out.append(f"split[{a}]: shares sum to {float(total):.6f}, not 1")
    shown = owned[_isin(owned["account_id"], splits["account_id"])]
    holder = dict(zip(shown["account_id"], shown["rep_id"], strict=True))
    for a, group in splits.groupby("account_id"):
        if a in holder and holder[a] not in set(group["rep_id"]):
            out.append(f"split[{a}]: shown with {holder[a]}, not one of its split reps")
    return out


def _with_km(df: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    home = reps.loc[df["rep_id"]]
    km = _great_circle_km(
        df["lat"].to_numpy(float),
        df["lon"].to_numpy(float),
        home["lat"].to_numpy(float),
        home["lon"].to_numpy(float),
    )
    return df.assign(km=km)


def _capacity(df: pd.DataFrame, reps: pd.DataFrame, settings: AssignmentSettings) -> list[str]:
    """Hours of the accounts credited to each rep (x share) against its capacity."""
    rule = settings.constraints.capacity
    if rule is None:
        return []
    hours = df["share"] * (df["workload"] + rule.travel_hours_per_km * df["visits"] * df["km"])
    used = hours.groupby(df["rep_id"]).sum().reindex(reps.index, fill_value=0.0)
    limits = (1 + rule.tolerance) * reps["capacity"].astype(float)
    out = []
    for r, value, limit in zip(reps.index, used, limits, strict=True):
        if _over(value, limit):
            out.append(f"capacity[{r}]: {value:.4f} hours > {limit:.4f}")
    return out


def _skill_set(text: str) -> set[str]:
    return {s.strip() for s in str(text).split(";") if s.strip()}


def _eligibility(df: pd.DataFrame, reps: pd.DataFrame, settings: AssignmentSettings) -> list[str]:
    cons = settings.constraints
    out = []
    if cons.experience:
        need = df["segment"].map(cons.experience).fillna(0.0)
        have = df["rep_id"].map(reps["experience"]).astype(float)
        for a in df.index[have < need]:
            out.append(f"experience[{a}]: {df['rep_id'][a]!s} has {have[a]:g} < {need[a]:g}")
    if cons.skills is not None:
        pairs = pd.DataFrame(
            {
                "required": df["required_skills"].astype(str).to_numpy(object),
                "held": df["rep_id"].map(reps["skills"]).astype(str).to_numpy(object),
            }
        )
        lacking = {  # a few distinct (required, held) pairs, however many accounts
            key: ", ".join(sorted(_skill_set(key[0]) - _skill_set(key[1])))
            for key in pairs.drop_duplicates().itertuples(index=False, name=None)
        }
        missing = pd.Series(list(zip(pairs["required"], pairs["held"], strict=True))).map(lacking)
        for k in np.flatnonzero(missing.to_numpy(object) != ""):
            out.append(f"skills[{df.index[k]}]: {df['rep_id'].iloc[k]!s} lacks {missing[k]}")
    return out


def _continuity(
    df: pd.DataFrame, accounts: pd.DataFrame, settings: AssignmentSettings
) -> list[str]:
    rule = settings.constraints.continuity
    out = []
    if rule is None or rule.respect_locked:
        locked = df[df["locked"] & (df["incumbent_rep_id"] != "")]
        for a, row in locked[locked["moved"]].iterrows():
            out.append(
                f"locked[{a}]: with {row['rep_id']}, not its incumbent {row['incumbent_rep_id']}"
            )
    if rule is not None and rule.max_moved_share is not None:
        if rule.measure == "potential":
            moved, whole = df.loc[df["moved"], "potential"].sum(), accounts["potential"].sum()
        else:
            moved, whole = float(df["moved"].sum()), float(len(accounts))
        limit = rule.max_moved_share * whole
        if _over(float(moved), limit):
            out.append(f"max_moved: {moved:.4f} {rule.measure} moved > {limit:.4f}")
    return out


def _fair(reps: pd.DataFrame, total: float, rule: str) -> pd.Series:
    if rule == "equal":
        weight = pd.Series(1.0, index=reps.index)
    elif rule == "ramp":
        weight = reps["ramp"].astype(float)
    else:
        top = float(reps["experience"].max())
        scale = 1.0 + reps["experience"] / top if top > 0 else 1.0
        weight = reps["ramp"] * scale
    if weight.sum() <= 0:
        return weight * 0.0
    return total * weight / weight.sum()


def _measures(settings: AssignmentSettings) -> tuple[list[str], str]:
    rule = settings.constraints.balance
    measure = rule.measure if rule else "potential"
    fair = rule.fair_share if rule else "ramp"
    return (["potential", "workload"] if measure == "both" else [measure]), fair


def _balance(
    df: pd.DataFrame, reps: pd.DataFrame, accounts: pd.DataFrame, settings: AssignmentSettings
) -> list[str]:
    rule = settings.constraints.balance
    if rule is None:
        return []
    measures, fair_rule = _measures(settings)
    out = []
    for measure in measures:
        fair = _fair(reps, float(accounts[measure].sum()), fair_rule)
        have = (df[measure] * df["share"]).groupby(df["rep_id"]).sum()
        have = have.reindex(reps.index, fill_value=0.0)
        for r in reps.index:
            lo, hi = (1 - rule.tolerance) * fair[r], (1 + rule.tolerance) * fair[r]
            if _over(lo, have[r]):
                out.append(f"balance_lo[{r},{measure}]: {have[r]:.4f} < {lo:.4f}")
            if _over(have[r], hi):
                out.append(f"balance_hi[{r},{measure}]: {have[r]:.4f} > {hi:.4f}")
    return out


def _managers(
    df: pd.DataFrame,
    reps: pd.DataFrame,
    accounts: pd.DataFrame,
    tables: Tables,
    settings: AssignmentSettings,
) -> list[str]:
    """Each manager's reps (any depth): their credited measure within the band of their fair."""
    rule = settings.constraints.managers
    if rule is None or rule.tolerance is None or "manager_id" not in reps.columns:
        return []
    parents = {}
    if tables.managers is not None:
        parents = dict(
            zip(tables.managers["manager_id"], tables.managers["parent_id"], strict=True)
        )
    _, fair_rule = _measures(settings)
    fair = _fair(reps, float(accounts[rule.measure].sum()), fair_rule)
    have = (df[rule.measure] * df["share"]).groupby(df["rep_id"]).sum()
    have = have.reindex(reps.index, fill_value=0.0)
    held: dict[str, float] = {}
    owed: dict[str, float] = {}
    for rep, manager in reps["manager_id"].items():
        chain: list[str] = []
        while manager and manager not in chain:
            chain.append(manager)
            manager = parents.get(manager, "")
        for m in chain:
            held[m] = held.get(m, 0.0) + float(have[rep])
            owed[m] = owed.get(m, 0.0) + float(fair[rep])
    out = []
    for m in sorted(held):
        lo, hi = (1 - rule.tolerance) * owed[m], (1 + rule.tolerance) * owed[m]
        if _over(lo, held[m]):
            out.append(f"manager_lo[{m}]: {held[m]:.4f} < {lo:.4f}")
        if _over(held[m], hi):
            out.append(f"manager_hi[{m}]: {held[m]:.4f} > {hi:.4f}")
    return out


def _regions(
    df: pd.DataFrame,
    accounts: pd.DataFrame,
    tables: Tables,
    reps: pd.DataFrame,
    settings: AssignmentSettings,
) -> list[str]:
    """Rules (14) region, home[r] and contiguity[r] (``models/assignment.md``).

    A rep's territory is the set of regions where it owns an active account; a region without
    active accounts is in no territory, so it joins nothing.
    """
    out = []
    if settings.level == "region":
        owners = df.groupby("region_id")["rep_id"].nunique()
        out += [f"region[{g}]: split across {n} reps" for g, n in owners.items() if n > 1]
    rule = settings.constraints.contiguity
    if rule is None:
        return out
    if rule.include_home:
        out += _home(df, accounts, reps, settings.level)
    graph = nx.Graph()
    graph.add_nodes_from(set(accounts["region_id"]))
    if tables.adjacency is not None:
        pairs = zip(tables.adjacency["region_a"], tables.adjacency["region_b"], strict=True)
        graph.add_edges_from((a, b) for a, b in pairs if a in graph and b in graph)
    piece = {g: min(c) for c in nx.connected_components(graph) for g in c}
    served_by = {str(r): set(regions) for r, regions in df.groupby("rep_id")["region_id"]}
    for r, served in served_by.items():
        out += _connected(graph, piece, served, rule.per_component, f"contiguity[{r}]: its")
    managers = settings.constraints.managers
    if managers is None or not managers.contiguous or "manager_id" not in reps.columns:
        return out
    for m, below in sorted(_below(tables, reps).items()):
        union = set().union(*(served_by.get(r, set()) for r in below))
        what = f"district_contiguity[{m}]: the regions of its reps ({', '.join(sorted(below))})"
        out += _connected(graph, piece, union, rule.per_component, what)
    return out


def _connected(
    graph: nx.Graph, piece: dict[str, str], served: set[str], per_component: bool, what: str
) -> list[str]:
    """A line when ``served`` is not connected (within each component with ``per_component``)."""
    groups = {"": served}
    if per_component:
        groups = {k: {g for g in served if piece[g] == k} for k in {piece[g] for g in served}}
    return [
        f"{what} regions {sorted(part)}{f' in the component of {key}' if key else ''} are not "
        "connected"
        for key, part in sorted(groups.items())
        if part and not nx.is_connected(graph.subgraph(part))
    ]


def _below(tables: Tables, reps: pd.DataFrame) -> dict[str, list[str]]:
    """Manager id -> the active reps below it at any depth (``reps`` indexed by rep_id)."""
    parents = {}
    if tables.managers is not None:
        parents = dict(
            zip(tables.managers["manager_id"], tables.managers["parent_id"], strict=True)
        )
    out: dict[str, list[str]] = {}
    for rep, manager in reps["manager_id"].items():
        chain: list[str] = []
        while manager and manager not in chain:
            chain.append(manager)
            out.setdefault(manager, []).append(str(rep))
            manager = parents.get(manager, "")
    return out


def _home(df: pd.DataFrame, accounts: pd.DataFrame, reps: pd.DataFrame, level: str) -> list[str]:
    """Rule home[r]: a rep serves its home region (a shared one goes to a rep living there)."""
    items = accounts.groupby("region_id").size()
    if level == "region":
        items = items.clip(upper=1)
    owners: dict[str, set[str]] = {}
    for region, rep in zip(df["region_id"], df["rep_id"], strict=True):
        owners.setdefault(str(region), set()).add(str(rep))
    out = []
    for home, living in reps.groupby("region_id").groups.items():
        residents = sorted(map(str, living))
        n, have = int(items.get(home, 0)), owners.get(str(home), set())
        if n >= len(residents):
            with_whom = ", ".join(sorted(have)) or "nobody"
            out += [
                f"home[{r}]: {r} serves none of its home region {home} (its accounts are with "
                f"{with_whom})"
                for r in residents
                if r not in have
            ]
        elif others := sorted(have - set(residents)):
            out.append(
                f"home[{home}]: region {home} is served by {', '.join(others)}, none of the "
                f"reps living there ({', '.join(residents)})"
            )
    return out


def _goals(
    df: pd.DataFrame,
    credited: pd.DataFrame,
    reps: pd.DataFrame,
    accounts: pd.DataFrame,
    settings: AssignmentSettings,
) -> dict[str, float]:
    """Unweighted goals: travel km (x visits), balance percentage points, thousands moved.

    Balance counts split accounts by share (``credited``); travel and disruption leave them out
    (they are fixed by the input, a constant of every plan: ``models/organisation.md``).
    """
    measures, fair_rule = _measures(settings)
    balance = 0.0
    for measure in measures:
        fair = _fair(reps, float(accounts[measure].sum()), fair_rule)
        have = (credited[measure] * credited["share"]).groupby(credited["rep_id"]).sum()
        have = have.reindex(reps.index, fill_value=0.0)
        positive = fair > 0
        balance += float((100.0 * (have - fair).abs()[positive] / fair[positive]).sum())
    return {
        "travel": float((df["visits"] * df["km"]).sum()),
        "balance": balance,
        "disruption": float(df.loc[df["moved"], "potential"].sum()) / 1000.0,
    }
