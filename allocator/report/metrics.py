"""Fairness, disruption and coverage metrics of a plan: pure functions over Series and frames.

Every inequality measure is computed on *normalised* values: each rep's value divided by its
fair-share weight (``x_r / w_r``), so a new hire at ramp 0.5 holding half the potential of a
full rep counts as perfectly fair. With no weights every rep weighs 1. The definitions and
formulas are in ``docs/metrics.md``; :func:`plan_metrics` gives the JSON-able block of
``metrics.json`` nested by measure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allocator.exceptions import InputError
from allocator.io.settings import BalanceSettings, QuotaSettings
from allocator.io.tables import parse_ids
from allocator.territory.build import fair_shares

if TYPE_CHECKING:
    from allocator.plan import Plan

__all__ = [
    "coverage",
    "disruption",
    "fair_quota",
    "fair_share_weights",
    "fairness",
    "gini",
    "jain",
    "largest_quota_deviation",
    "lorenz",
    "normalise",
    "plan_metrics",
    "plan_weights",
    "quota_fair",
]

ArrayLike = pd.Series | Sequence[float] | np.ndarray


def _series(values: ArrayLike, name: str) -> pd.Series:
    return pd.Series(values, dtype=float, name=name).copy()


def _aligned(values: ArrayLike, weights: ArrayLike | None) -> tuple[pd.Series, pd.Series]:
    """Values and weights on one index, without NaN values and without zero or NaN weights."""
    x = _series(values, "value")
    w = pd.Series(1.0, index=x.index) if weights is None else _series(weights, "weight")
    if isinstance(values, pd.Series) and isinstance(weights, pd.Series):
        missing = x.index.difference(w.index)
        if len(missing):
            raise InputError([f"fairness: no weight for {', '.join(map(str, missing[:5]))}"])
        w = w.reindex(x.index)
    elif len(w) != len(x):
        raise InputError([f"fairness: {len(x)} values but {len(w)} weights"])
    else:
        w.index = x.index
    for label, s in (("value", x), ("weight", w)):
        negative = s[s < 0]
        if len(negative):
            raise InputError(
                [f"fairness: {label} of {negative.index[0]} is {negative.iloc[0]:g}; expected >= 0"]
            )
    keep = x.notna() & w.notna() & (w > 0)
    return x[keep], w[keep]


def normalise(values: ArrayLike, weights: ArrayLike | None = None) -> pd.Series:
    """Each value over its fair-share weight, relative to the fair level ``sum(x) / sum(w)``.

    A result of 1 means exactly the fair share, 1.2 means 20% above it. Values that are NaN and
    weights that are 0 or NaN drop out (a rep with no fair share cannot be judged).

    Raises
    ------
    InputError
        When a value or a weight is negative, or the weights do not match the values.
    """
    return _relative(*_aligned(values, weights))


def _relative(x: pd.Series, w: pd.Series) -> pd.Series:
    if x.sum() == 0:
        return pd.Series(1.0, index=x.index)  # nothing to share: everyone holds their (zero) share
    return (x / w) / (x.sum() / w.sum())


def gini(values: ArrayLike) -> float:
    """Population Gini coefficient: ``sum_ij |x_i - x_j| / (2 n^2 mean)``; 0 when all are equal.

    ``gini([1, 1, 1, 1]) == 0`` and ``gini([0, 0, 0, 1]) == 0.75`` (the maximum for n values is
    ``1 - 1/n``). All zeros count as equal (0).
    """
    x = np.sort(np.asarray(values, dtype=float))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    # sum_ij |x_i - x_j| = 2 sum_i (2i - n - 1) x_(i) over the sorted values, i = 1..n
    ranks = np.arange(1, n + 1)
    return float(np.sum((2 * ranks - n - 1) * x) / (n * total))


def jain(values: ArrayLike) -> float:
    """Jain's index ``(sum x)^2 / (n sum x^2)``: 1 when all equal, ``1/n`` when one holds all."""
    x = np.asarray(values, dtype=float)
    squares = float(np.sum(x**2))
    if len(x) == 0 or squares == 0:
        return 1.0
    return float(np.sum(x) ** 2 / (len(x) * squares))


def lorenz(values: ArrayLike, weights: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Points of the Lorenz curve of the normalised values: (share of reps, share of the total).

    Both arrays start at 0 and end at 1; the area between the curve and the diagonal is half the
    Gini coefficient (``gini = 1 - sum (x_k - x_{k-1}) (y_k + y_{k-1})``).
    """
    rel = np.sort(normalise(values, weights).to_numpy())
    n = len(rel)
    x = np.linspace(0.0, 1.0, n + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(rel)])
    y = cumulative / cumulative[-1] if n and cumulative[-1] > 0 else x
    return x, y


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def fairness(
    values: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    band: float | None = None,
    edge: float = 1e-9,
) -> dict[str, Any]:
    """Inequality of per-rep values after dividing each by its fair-share weight.

    Parameters
    ----------
    values
        One non-negative value per rep (a Series indexed by rep_id aligns with ``weights``).
    weights
        Fair-share weight per rep (ramp, experience x ramp, capacity, ...); all 1 when None.
    band
        Relative tolerance: a rep is inside the band when its normalised value is within
        ``1 +- band`` of the fair level.
    edge
        Slack on the band's edge (relative), so a rep exactly on the edge, as an LP leaves it,
        counts as inside; quotas rounded to whole units pass a larger one.

    Returns
    -------
    dict
        ``n`` reps judged, ``excluded`` (NaN value or zero weight), ``total``, ``min_rel`` and
        ``max_rel`` (normalised, 1 = fair), ``gini``, ``cv``, ``max_min`` (None when the
        minimum is 0), ``jain``, ``band`` and ``in_band`` (share of reps inside; None without a
        band). Every number is a plain float or None, ready for JSON.

    Raises
    ------
    InputError
        When a value or weight is negative, or weights do not match values.
    """
    x, w = _aligned(values, weights)
    rel = _relative(x, w)
    n = len(rel)
    out: dict[str, Any] = {"n": n, "excluded": len(_series(values, "value")) - n, "band": band}
    if n == 0:
        empty = ("total", "min_rel", "max_rel", "gini", "cv", "max_min", "jain", "in_band")
        return out | dict.fromkeys(empty)
    lo, hi = float(rel.min()), float(rel.max())
    out |= {
        "total": float(x.sum()),
        "min_rel": lo,
        "max_rel": hi,
        "gini": gini(rel),
        "cv": float(rel.std(ddof=0) / rel.mean()),
        "max_min": _finite(hi / lo) if lo > 0 else None,
        "jain": jain(rel),
        "in_band": None if band is None else float(((rel - 1).abs() <= band + edge).mean()),
    }
    return out


# ---------------------------------------------------------------- fair shares of a plan


def fair_share_weights(reps: pd.DataFrame, mode: str) -> pd.Series:
    """Fair-share weight per rep_id, summing to 1: the assignment model's own fair shares
    (:func:`allocator.arcs.fair_shares`: ``equal``, ``ramp`` or ``experience_ramp`` =
    ramp x (1 + experience / max experience))."""
    return pd.Series(fair_shares(reps, 1.0, mode), index=reps["rep_id"].to_numpy())


def fair_quota(rep_product: pd.DataFrame, reps: pd.DataFrame) -> pd.Series:
    """Each rep's fair quota ``sum_p f_rp`` (``models/quota.md``): ``f_rp = T_p a_r pi_rp /
    sum_{s in E_p} a_s pi_sp`` with ``T_p`` the product's total quota, ``a`` the ramp and ``E_p``
    the reps skilled in ``p`` (empty skills = all products).

    A rep whose every quota is exactly its ramp-scaled share of potential gets exactly this.
    """
    info = reps.set_index("rep_id")
    skills = info["skills"].map(parse_ids)
    skilled = [
        not skills.get(r) or p in skills[r]
        for r, p in zip(rep_product["rep_id"], rep_product["product_id"], strict=True)
    ]
    ramp = rep_product["rep_id"].map(info["ramp"]).fillna(1.0)
    frame = rep_product.assign(weight=rep_product["potential"] * ramp * skilled)
    by_product = frame.groupby("product_id")
    total_weight = by_product["weight"].transform("sum")
    share = (frame["weight"] / total_weight).where(total_weight > 0, 0.0)
    frame = frame.assign(fair=share * by_product["quota"].transform("sum"))
    return frame.groupby("rep_id")["fair"].sum()


def quota_fair(plan: Plan) -> pd.Series:
    """Each rep's fair quota exactly as the quota LP used it: ``sum_p f_rp`` of the LP's own
    ``rep_product.fair`` column (``models/quota.md``), indexed by rep_id; empty without quotas.

    This is the fair share of the quota fairness band ``fairness_lo/hi[r,p]``: measured against
    it, ``in_band`` is the share of reps the LP held inside its band.
    """
    if plan.quotas is None:
        return pd.Series(dtype=float)
    rep_product = plan.quotas.rep_product
    if "fair" not in rep_product.columns:  # a hand-made result: the same formula, recomputed
        return fair_quota(rep_product, plan.tables.active_reps)
    return rep_product.groupby("rep_id")["fair"].sum().astype(float)


def largest_quota_deviation(plan: Plan) -> float:
    """Largest relative deviation of a rep-product quota from its fair quota (0 without quotas):
    ``max |q_rp - f_rp| / f_rp`` over the LP's pairs, from its ``deviation`` column."""
    if plan.quotas is None or "deviation" not in plan.quotas.rep_product.columns:
        return 0.0
    dev = plan.quotas.rep_product["deviation"].abs()
    return float(dev.max()) if dev.notna().any() else 0.0


def disruption(assignments: pd.DataFrame) -> dict[str, Any]:
    """Accounts and potential that change owner, and the reps who gain or lose accounts.

    Shares are over all accounts (and all potential) of the table.
    """
    moved = assignments[assignments["moved"].astype(bool)]
    total_potential = float(assignments["potential"].sum())
    affected = (set(moved["rep_id"]) | set(moved["incumbent_rep_id"].dropna())) - {""}
    return {
        "accounts_moved": len(moved),
        "accounts_moved_share": len(moved) / len(assignments) if len(assignments) else 0.0,
        "potential_moved": float(moved["potential"].sum()),
        "potential_moved_share": float(moved["potential"].sum()) / total_potential
        if total_potential > 0
        else 0.0,
        "reps_affected": len(affected),
    }


def coverage(
    owners: pd.Series,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    experienced: float | None = None,
    segment: str = "A",
) -> dict[str, Any]:
    """Accounts per rep, and how the top ``segment`` is covered by experienced reps.

    ``owners`` maps account_id to rep_id; ``reps`` are the active reps (rep_id, experience).
    A rep is experienced when its experience is at least ``experienced`` (the median of the
    reps when None).
    """
    threshold = float(reps["experience"].median()) if experienced is None else experienced
    is_experienced = reps.set_index("rep_id")["experience"] >= threshold
    counts = owners.value_counts().reindex(reps["rep_id"], fill_value=0)
    top = accounts.loc[accounts["segment"] == segment, "account_id"]
    top_owners = owners.reindex(top)
    held = top_owners.map(is_experienced).fillna(False).astype(bool)
    n_experienced = int(is_experienced.sum())
    return {
        "accounts_per_rep_mean": float(counts.mean()) if len(counts) else None,
        "accounts_per_rep_min": int(counts.min()) if len(counts) else None,
        "accounts_per_rep_max": int(counts.max()) if len(counts) else None,
        "experience_threshold": threshold,
        "segment": segment,
        "segment_accounts": len(top),
        "experienced_reps": n_experienced,
        "segment_accounts_per_experienced_rep": len(top) / n_experienced if n_experienced else None,
        "segment_accounts_with_experienced_rep_share": float(held.mean()) if len(held) else None,
    }


def plan_metrics(plan: Plan) -> dict[str, Any]:
    """Fairness per measure, disruption and coverage of a plan (JSON-able, for metrics.json).

    Measures: ``potential`` (weight: fair share), ``utilization`` (workload over capacity, i.e.
    weight: capacity), ``travel_km`` (fair share), and with quotas ``quota`` (weight: the fair
    quota the quota LP used, :func:`quota_fair`, so ``in_band`` is the share of reps inside the
    LP's band) and ``quota_ratio`` (the same measure, kept under its old name for sweeps that
    read it). Territory measures use the balance tolerance as band, quota measures the quota
    fairness band.
    """
    scenario = plan.scenario
    balance = scenario.assignment.constraints.balance or BalanceSettings()
    quota_band = (scenario.quota or QuotaSettings()).fairness.band
    reps = plan.reps_frame().set_index("rep_id")
    active = plan.tables.active_reps
    weights = plan_weights(plan).reindex(reps.index)
    measures = {
        "potential": fairness(reps["potential"], weights, band=balance.tolerance),
        "utilization": fairness(reps["workload"], reps["capacity"], band=balance.tolerance),
        "travel_km": fairness(reps["travel_km"], weights, band=balance.tolerance),
    }
    if plan.quotas is not None:
        fair = quota_fair(plan).reindex(reps.index, fill_value=0.0)
        # whole-unit rounding moves a quota by < 1 unit: allow that much on the band's edge
        pairs = plan.quotas.rep_product.groupby("rep_id").size().max()
        edge = float(pairs) / max(float(fair[fair > 0].min()) if (fair > 0).any() else 1.0, 1.0)
        measures["quota"] = fairness(reps["quota"], fair, band=quota_band, edge=edge)
        measures["quota_ratio"] = measures["quota"]
    out: dict[str, Any] = {"fairness": measures}
    if plan.assignment is not None:
        out["disruption"] = disruption(plan.assignment.assignments)
    experience = scenario.assignment.constraints.experience or {}
    out["coverage"] = coverage(
        plan.owners, plan.tables.active_accounts, active, experienced=experience.get("A")
    )
    return out


def plan_weights(plan: Plan) -> pd.Series:
    """Fair-share weight per rep_id: the assignment model's own ``fair_share`` when it reports
    one, else :func:`fair_share_weights` of ``assignment.constraints.balance.fair_share``."""
    if plan.assignment is not None and "fair_share" in plan.assignment.reps.columns:
        return plan.assignment.reps.set_index("rep_id")["fair_share"].astype(float)
    balance = plan.scenario.assignment.constraints.balance or BalanceSettings()
    return fair_share_weights(plan.tables.active_reps, balance.fair_share)
