"""Helpers of the assignment tests: a brute-force solver and seeded random companies.

The brute force enumerates every assignment (reps ** accounts) with numpy and evaluates the rules
and the objective of ``models/assignment.md`` its own way (its own distance, its own fair
shares): it shares no code with the model nor with ``allocator.territory.check``. Use it for at
most 8
accounts and 3 reps (6,561 assignments).
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pandas as pd

from allocator.demo.examples import company
from allocator.io.settings import AssignmentConstraints, AssignmentSettings, SolverSettings
from allocator.io.tables import Tables
from allocator.territory.assignment import AssignmentResult, solve_assignment
from allocator.territory.check import check_assignment

SOLVER = SolverSettings(threads=1, time_limit=20)


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Spherical law of cosines (a different formula from the model's haversine)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0 * math.acos(max(-1.0, min(1.0, c)))


def brute_force(tables: Tables, settings: AssignmentSettings) -> tuple[float, list[dict[str, str]]]:
    """The optimal objective and every optimal owner map (ties within 1e-6), by enumeration."""
    acc = tables.accounts[tables.accounts["active"]].reset_index(drop=True)
    reps = tables.reps[tables.reps["active"]].reset_index(drop=True)
    n, m = len(acc), len(reps)
    combos = np.array(list(itertools.product(range(m), repeat=n)), dtype=int)
    km = np.array(
        [
            [km_between(a.lat, a.lon, r.lat, r.lon) for r in reps.itertuples()]
            for a in acc.itertuples()
        ]
    )
    ok = _eligible(acc, reps, settings)[np.arange(n), combos].all(axis=1)
    per_rep = [(combos == r) for r in range(m)]
    cons = settings.constraints
    ok &= _capacity_ok(acc, reps, cons, km, combos, per_rep)
    if cons.max_accounts is not None:
        ok &= np.all([mask.sum(axis=1) <= cons.max_accounts.limit for mask in per_rep], axis=0)
    ok &= _balance_ok(acc, reps, settings, per_rep)
    moved = _moved(acc, reps, combos)
    if cons.continuity is not None and cons.continuity.max_moved_share is not None:
        weight = (
            acc["potential"].to_numpy() if cons.continuity.measure == "potential" else np.ones(n)
        )
        ok &= moved @ weight <= cons.continuity.max_moved_share * weight.sum() + 1e-9
    if settings.level == "region":
        for g in acc["region_id"].unique():
            cols = np.flatnonzero(acc["region_id"].to_numpy() == g)
            ok &= (combos[:, cols] == combos[:, cols[:1]]).all(axis=1)
    visits = acc["visits"].to_numpy()
    travel = (visits[None, :] * km[np.arange(n), combos]).sum(axis=1)
    objective = settings.objective.travel * travel + settings.objective.disruption * (
        moved @ acc["potential"].to_numpy() / 1000.0
    )
    if settings.objective.balance > 0:
        objective = objective + settings.objective.balance * _deviation(
            acc, reps, settings, per_rep
        )
    if cons.contiguity is not None:
        for k in np.flatnonzero(ok):
            ok[k] = _connected(tables, acc, reps, combos[k], cons.contiguity.include_home)
    best = float(objective[ok].min())
    ties = np.flatnonzero(ok & (np.abs(objective - best) <= 1e-6 * max(1.0, abs(best))))
    ids, rep_ids = list(acc["account_id"]), list(reps["rep_id"])
    return best, [dict(zip(ids, (rep_ids[r] for r in combos[k]), strict=True)) for k in ties]


def _eligible(acc: pd.DataFrame, reps: pd.DataFrame, settings: AssignmentSettings) -> np.ndarray:
    cons = settings.constraints
    out = np.ones((len(acc), len(reps)), bool)
    for a, row in enumerate(acc.itertuples()):
        for r, rep in enumerate(reps.itertuples()):
            if cons.experience and row.segment in cons.experience:
                out[a, r] &= rep.experience >= cons.experience[row.segment]
            if cons.skills is not None:
                need = {s for s in row.required_skills.split(";") if s}
                out[a, r] &= need <= {s for s in rep.skills.split(";") if s}
            if cons.continuity is not None and cons.continuity.respect_locked and row.locked:
                out[a, r] &= rep.rep_id == row.incumbent_rep_id
    return out


def _capacity_ok(
    acc: pd.DataFrame,
    reps: pd.DataFrame,
    cons: AssignmentConstraints,
    km: np.ndarray,
    combos: np.ndarray,
    per_rep: list[np.ndarray],
) -> np.ndarray:
    if cons.capacity is None:
        return np.ones(len(combos), bool)
    ok = np.ones(len(combos), bool)
    for r, mask in enumerate(per_rep):
        load = (
            acc["workload"].to_numpy()
            + cons.capacity.travel_hours_per_km * acc["visits"].to_numpy() * km[:, r]
        )
        limit = (1 + cons.capacity.tolerance) * reps["capacity"].iloc[r]
        ok &= mask @ load <= limit + 1e-9
    return ok


def _fair(reps: pd.DataFrame, total: float, rule: str) -> np.ndarray:
    ramp = reps["ramp"].to_numpy()
    if rule == "equal":
        weight = np.ones(len(reps))
    elif rule == "ramp":
        weight = ramp
    else:
        exp = reps["experience"].to_numpy()
        weight = ramp * (1 + exp / exp.max()) if exp.max() > 0 else ramp
    return total * weight / weight.sum()


def _measures(settings: AssignmentSettings) -> tuple[list[str], str]:
    rule = settings.constraints.balance
    measure, fair = (rule.measure, rule.fair_share) if rule else ("potential", "ramp")
    return (["potential", "workload"] if measure == "both" else [measure]), fair


def _balance_ok(
    acc: pd.DataFrame, reps: pd.DataFrame, settings: AssignmentSettings, per_rep: list[np.ndarray]
) -> np.ndarray:
    rule = settings.constraints.balance
    ok = np.ones(len(per_rep[0]), bool)
    if rule is None:
        return ok
    measures, fair_rule = _measures(settings)
    for measure in measures:
        values = acc[measure].to_numpy()
        fair = _fair(reps, values.sum(), fair_rule)
        for r, mask in enumerate(per_rep):
            have = mask @ values
            ok &= (have >= (1 - rule.tolerance) * fair[r] - 1e-9) & (
                have <= (1 + rule.tolerance) * fair[r] + 1e-9
            )
    return ok


def _deviation(
    acc: pd.DataFrame, reps: pd.DataFrame, settings: AssignmentSettings, per_rep: list[np.ndarray]
) -> np.ndarray:
    measures, fair_rule = _measures(settings)
    total = np.zeros(len(per_rep[0]))
    for measure in measures:
        values = acc[measure].to_numpy()
        fair = _fair(reps, values.sum(), fair_rule)
        for r, mask in enumerate(per_rep):
            if fair[r] > 0:
                total += 100 * np.abs(mask @ values - fair[r]) / fair[r]
    return total


def _moved(acc: pd.DataFrame, reps: pd.DataFrame, combos: np.ndarray) -> np.ndarray:
    rep_ids = reps["rep_id"].to_numpy()
    inc = acc["incumbent_rep_id"].to_numpy()
    return ((inc[None, :] != "") & (rep_ids[combos] != inc[None, :])).astype(float)


def _connected(
    tables: Tables, acc: pd.DataFrame, reps: pd.DataFrame, owners: np.ndarray, home: bool
) -> bool:
    """Contiguity as home-region.md states it: each rep's served regions are connected; with
    ``home``, a rep serves some of its home region (or, when its residents outnumber the
    region's accounts, the region goes to its residents only)."""
    graph = nx.Graph(
        list(zip(tables.adjacency["region_a"], tables.adjacency["region_b"], strict=True))
    )
    region = acc["region_id"].to_numpy()
    for r in set(owners.tolist()):
        regions = set(region[owners == r])
        graph.add_nodes_from(regions)
        if not nx.is_connected(graph.subgraph(regions)):
            return False
    if home:
        homes = reps["region_id"].to_numpy()
        for h in set(homes.tolist()):
            residents = set(np.flatnonzero(homes == h).tolist())
            owned = owners[region == h]
            if len(owned) >= len(residents):
                if not residents <= set(owned.tolist()):
                    return False
            elif len(owned) and not set(owned.tolist()) <= residents:
                return False
    return True


def random_company(
    seed: int,
    *,
    accounts: int,
    reps: int,
    grid: int = 0,
    incumbents: bool = False,
    slack: float = 1.3,
) -> Tables:
    """A seeded company in a 10 x 10 degree box; ``grid`` > 0 adds a grid x grid region graph.

    Capacities sum to ``slack`` x total workload; ramps vary; a third of the accounts are
    segment A; incumbents (optional) are random reps.
    """
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(0, 10, accounts), rng.uniform(0, 10, accounts)
    workload = rng.integers(5, 30, accounts).astype(float)
    cell = (
        (lambda la, lo: f"G{int(la * grid / 10.0001)}_{int(lo * grid / 10.0001)}") if grid else None
    )
    acc = [
        {
            "account_id": f"A{k:03d}",
            "lat": float(lat[k]),
            "lon": float(lon[k]),
            "workload": workload[k],
            "potential": float(rng.integers(50, 500)),
            "segment": "A" if k % 3 == 0 else "B",
            "region_id": cell(lat[k], lon[k]) if cell else "G1",
            "incumbent_rep_id": f"R{rng.integers(reps)}" if incumbents else "",
            "visits": float(rng.integers(1, 3)),
        }
        for k in range(accounts)
    ]
    rep_lat, rep_lon = rng.uniform(0, 10, reps), rng.uniform(0, 10, reps)
    cap = slack * workload.sum() / reps
    rep_rows = [
        {
            "rep_id": f"R{k}",
            "lat": float(rep_lat[k]),
            "lon": float(rep_lon[k]),
            "capacity": float(cap * rng.uniform(0.8, 1.2)),
            "experience": int(rng.integers(0, 10)),
            "ramp": float(rng.choice([0.5, 1.0, 1.0])),
            "region_id": cell(rep_lat[k], rep_lon[k]) if cell else "G1",
        }
        for k in range(reps)
    ]
    if not grid:
        return company(rep_rows, acc)
    names = [[f"G{i}_{j}" for j in range(grid)] for i in range(grid)]
    adjacency = [(names[i][j], names[i][j + 1]) for i in range(grid) for j in range(grid - 1)]
    adjacency += [(names[i][j], names[i + 1][j]) for i in range(grid - 1) for j in range(grid)]
    return company(rep_rows, acc, adjacency=adjacency, regions=[g for row in names for g in row])


def solved(
    tables: Tables, settings: AssignmentSettings, solver: SolverSettings = SOLVER
) -> AssignmentResult:
    """Solve and re-verify with the independent checker (objective recomputed)."""
    result = solve_assignment(tables, settings, solver)
    check = check_assignment(tables, settings, result.assignments[["account_id", "rep_id"]])
    assert check.ok, check.violations
    assert result.report.objective is not None
    assert math.isclose(check.objective, result.report.objective, rel_tol=1e-6, abs_tol=1e-6)
    return result


def owners(result: AssignmentResult) -> dict[str, str]:
    return dict(zip(result.assignments["account_id"], result.assignments["rep_id"], strict=True))
