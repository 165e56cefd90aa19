"""Headcount sizing: how many reps, and where, to cover the potential at a target utilisation.

For each rep count ``n`` of a range, :func:`size_team` places ``n`` homes (the current reps,
minus the least useful or plus new reps at candidate homes: the workload-weighted centres of
the regions, chosen greedily as a weighted k-median), then solves the LP relaxation of the
territory (``models/sizing.md``)::

    max  sum_{a,r} k_a x_ar  -  eps * sum_{a,r} v_a d_ar x_ar
    s.t. sum_r x_ar <= 1                           (each account at most once)
         sum_a h_ar x_ar <= u * c_r                 (capacity at the target utilisation u)
         0 <= x_ar <= 1,  only the ``nearest`` reps of each account

and reports coverage of potential, utilisation, travel, balance and the marginal potential of
one more rep (covered potential gained per rep between two counts of the range). The
recommendation is the smallest ``n`` whose coverage meets the target, with utilisation held at
the target by the capacity rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from allocator.exceptions import InputError, SolverError
from allocator.geography.distance import distance_matrix
from allocator.io.tables import Tables

__all__ = ["SizingResult", "size_team"]

log = logging.getLogger("allocator")

SIZING_COLUMNS = [
    "reps",
    "coverage",
    "covered_potential",
    "utilization",
    "travel_km",
    "balance_cv",
    "marginal_potential",
    "meets_target",
]


@dataclass(frozen=True)
class SizingResult:
    """The sizing curve and the recommendation.

    ``curve`` has one row per rep count (:data:`SIZING_COLUMNS`); ``recommended`` is the
    smallest count meeting the coverage target (None when no count in the range does);
    ``placements`` lists, for the recommended count, each rep kept or added (``rep_id``,
    ``status`` current/new/dropped, ``region_id``, ``lat``, ``lon``, ``capacity``, ``potential``).
    """

    curve: pd.DataFrame
    recommended: int | None
    placements: pd.DataFrame
    utilization_target: float
    coverage_target: float
    current: int

    def summary(self) -> str:
        lines = [
            f"headcount sizing: {self.current} reps today; capacity used up to "
            f"{self.utilization_target:.0%}, coverage target {self.coverage_target:.0%}",
            f"{'reps':>5} {'coverage':>9} {'utilisation':>11} {'travel km':>11} "
            f"{'balance cv':>10} {'+1 rep':>12}",
        ]
        for row in self.curve.itertuples(index=False):
            mark = " <" if row.reps == self.recommended else ""
            marginal = row.marginal_potential
            extra = "-" if pd.isna(marginal) else f"{round(marginal):,}"
            lines.append(
                f"{row.reps:>5} {row.coverage:>9.1%} {row.utilization:>11.1%} "
                f"{row.travel_km:>11,.0f} {row.balance_cv:>10.3f} {extra:>12}{mark}"
            )
        if self.recommended is None:
            lines.append("no count in the range meets the coverage target: widen --reps")
        else:
            new = self.placements[self.placements["status"] == "new"]
            dropped = self.placements[self.placements["status"] == "dropped"]
            lines.append(f"recommended: {self.recommended} reps")
            if len(new):
                lines.append("  new reps at: " + ", ".join(new["region_id"].astype(str)))
            if len(dropped):
                lines.append(
                    "  territories to merge (least coverage lost): " + ", ".join(dropped["rep_id"])
                )
        return "\n".join(lines)


def size_team(
    tables: Tables,
    counts: Sequence[int],
    *,
    utilization: float = 0.85,
    coverage: float = 0.95,
    capacity: pd.Series | None = None,
    travel_hours_per_km: float = 0.0,
    nearest: int = 8,
) -> SizingResult:
    """The sizing curve over ``counts`` (see the module docstring).

    Parameters
    ----------
    counts
        Rep counts to evaluate (positive, ascending after sorting).
    utilization
        Share of capacity a rep may fill (0 < u <= 1).
    coverage
        Share of potential the recommendation must cover.
    capacity
        Hours over the horizon of each active rep (index rep_id); defaults to ``reps.capacity``.
        A new rep gets the median.

    Raises
    ------
    InputError
        No active account or rep, or a count below 1.
    SolverError
        An LP fails (it is always feasible: x = 0).
    """
    accounts, reps = tables.active_accounts, tables.active_reps.reset_index(drop=True)
    counts = sorted({int(n) for n in counts})
    if accounts.empty or reps.empty or not counts or counts[0] < 1:
        raise InputError(["size: needs active accounts and reps, and rep counts >= 1"])
    cap = (capacity if capacity is not None else reps.set_index("rep_id")["capacity"]).astype(float)
    sites = _sites(accounts, reps, cap)
    weight = accounts["workload"].to_numpy(float) + 1e-9
    site_km = distance_matrix(accounts["lat"], accounts["lon"], sites["lat"], sites["lon"])
    current = len(reps)
    chosen = {n: _choose(site_km, weight, current, n) for n in counts}
    rows, answers = [], {}
    for n in counts:
        picked = sites.iloc[chosen[n]].reset_index(drop=True)
        row, per_rep = _cover(accounts, picked, utilization, travel_hours_per_km, nearest)
        rows.append({"reps": n, **row})
        answers[n] = picked.assign(potential=per_rep)
    curve = pd.DataFrame(rows)
    step = curve["reps"].diff()
    curve["marginal_potential"] = curve["covered_potential"].diff() / step  # NaN on the first
    curve["meets_target"] = curve["coverage"] >= coverage - 1e-9
    hits = curve.loc[curve["meets_target"], "reps"]
    best = int(hits.iloc[0]) if len(hits) else None
    placements = _placements(sites, answers[best], current) if best is not None else sites.iloc[:0]
    return SizingResult(curve[SIZING_COLUMNS], best, placements, utilization, coverage, current)


def _sites(accounts: pd.DataFrame, reps: pd.DataFrame, cap: pd.Series) -> pd.DataFrame:
    """Current homes first, then a candidate home per region (workload-weighted centre)."""
    current = pd.DataFrame(
        {
            "rep_id": reps["rep_id"],
            "status": "current",
            "region_id": reps["region_id"],
            "lat": reps["lat"].astype(float),
            "lon": reps["lon"].astype(float),
            "capacity": reps["rep_id"].map(cap).fillna(cap.median()).to_numpy(float),
        }
    )
    w = accounts["workload"].astype(float) + 1e-9
    centre = (
        accounts.assign(w=w, wlat=w * accounts["lat"], wlon=w * accounts["lon"])
        .groupby("region_id")[["w", "wlat", "wlon"]]
        .sum()
    )
    new = pd.DataFrame(
        {
            "rep_id": [f"NEW-{g}" for g in centre.index],
            "status": "new",
            "region_id": centre.index,
            "lat": centre["wlat"] / centre["w"],
            "lon": centre["wlon"] / centre["w"],
            "capacity": float(cap.median()),
        }
    )
    return pd.concat([current, new], ignore_index=True)


def _choose(site_km: np.ndarray, weight: np.ndarray, current: int, n: int) -> list[int]:
    """Sites of a team of ``n``: drop the current reps whose loss costs least, or add the
    candidates that cut the workload-weighted distance to the nearest home most (greedy)."""
    chosen = list(range(current))
    while len(chosen) > n:
        costs = []
        for k in range(len(chosen)):
            rest = chosen[:k] + chosen[k + 1 :]
            costs.append(float(weight @ site_km[:, rest].min(axis=1)))
        chosen.pop(int(np.argmin(costs)))
    while len(chosen) < n:
        best = site_km[:, chosen].min(axis=1)
        free = [s for s in range(current, site_km.shape[1]) if s not in chosen]
        if not free:  # more reps than candidate homes: share the busiest home again
            free = list(range(current, site_km.shape[1]))
        gain = [float(weight @ np.maximum(best - site_km[:, s], 0.0)) for s in free]
        chosen.append(free[int(np.argmax(gain))])
    return chosen


def _cover(
    accounts: pd.DataFrame,
    sites: pd.DataFrame,
    utilization: float,
    hours_per_km: float,
    nearest: int,
) -> tuple[dict[str, float], np.ndarray]:
    """The coverage LP of one team (module docstring); its metrics and potential per rep."""
    km = distance_matrix(accounts["lat"], accounts["lon"], sites["lat"], sites["lon"])
    n_acc, m = km.shape
    k = min(nearest, m)
    cols = np.argsort(km, axis=1)[:, :k]
    rows = np.repeat(np.arange(n_acc), k)
    cols = cols.ravel()
    pot = accounts["potential"].to_numpy(float)
    visits = accounts["visits"].to_numpy(float)
    dist = km[rows, cols]
    load = accounts["workload"].to_numpy(float)[rows] + hours_per_km * visits[rows] * dist
    travel = visits[rows] * dist
    eps = 1e-6 * pot.sum() / max(travel.sum(), 1.0)
    cost = -pot[rows] + eps * travel
    n_var = len(rows)
    once = sparse.csr_matrix((np.ones(n_var), (rows, np.arange(n_var))), shape=(n_acc, n_var))
    capa = sparse.csr_matrix((load, (cols, np.arange(n_var))), shape=(m, n_var))
    res = linprog(
        cost,
        A_ub=sparse.vstack([once, capa]).tocsr(),
        b_ub=np.concatenate([np.ones(n_acc), utilization * sites["capacity"].to_numpy(float)]),
        bounds=(0, 1),
        method="highs",
    )
    if res.status != 0:
        raise SolverError(f"size: the coverage LP of {m} reps ended: {res.message}")
    x = res.x
    per_rep = np.bincount(cols, weights=pot[rows] * x, minlength=m)
    used = np.bincount(cols, weights=load * x, minlength=m)
    mean = per_rep.mean()
    return (
        {
            "coverage": float(per_rep.sum() / pot.sum()) if pot.sum() > 0 else 1.0,
            "covered_potential": float(per_rep.sum()),
            "utilization": float(used.sum() / sites["capacity"].sum()),
            "travel_km": float(travel @ x),
            "balance_cv": float(per_rep.std() / mean) if mean > 0 else 0.0,
        },
        per_rep,
    )


def _placements(sites: pd.DataFrame, team: pd.DataFrame, current: int) -> pd.DataFrame:
    """Reps of the recommended team (current or new) and the current reps it drops."""
    kept = set(team["rep_id"])
    dropped = sites.iloc[:current][~sites.iloc[:current]["rep_id"].isin(kept)]
    dropped = dropped.assign(status="dropped", potential=0.0)
    out = pd.concat([team, dropped], ignore_index=True)
    return out[["rep_id", "status", "region_id", "lat", "lon", "capacity", "potential"]]
