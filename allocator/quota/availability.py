"""Quotas that follow dated staffing: monthly fair shares, phasing by availability, relief.

A rep's fair quota of product ``p`` in month ``m`` is the month's target split by available
potential (``models/organisation.md``)::

    fair[r,p,m] = T[p,m] * a[r,m] * K[r,p] / sum_r' a[r',m] * K[r',p]

with ``a`` the staffing share (:mod:`allocator.io.staffing`) and ``K`` the eligible potential.
The fair quota of the horizon is the sum over months; without dated staffing ``a`` is the flat
ramp and this is the classic ``ramp x potential`` share. :func:`fit_months` spreads each rep's
quota over months in proportion to its monthly fair shares, with both margins exact (iterative
proportional fitting keeps every month a rep is not available at 0). :func:`quota_relief` says
how much target each leave moved and to whom.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from allocator.exceptions import InfeasibleError
from allocator.io.staffing import Staffing
from allocator.io.tables import Tables

__all__ = ["fair_by_month", "fit_months", "monthly_fair", "quota_relief", "relief_table"]

_ROUNDS = 2000
_TOL = 1e-9


def monthly_fair(
    rep_ids: pd.Series,
    product_ids: pd.Series,
    weight: np.ndarray,
    share: pd.DataFrame,
    by_product: pd.DataFrame,
) -> np.ndarray:
    """Fair quota of every (rep, product) row in every month: a (rows x months) array.

    Parameters
    ----------
    rep_ids, product_ids
        The rows (one per rep and product).
    weight
        ``K``: eligible potential of each row (0 when not eligible).
    share
        Staffing share, rep_id x period.
    by_product
        The target's ``period``, ``product_id``, ``target``.

    Raises
    ------
    InfeasibleError
        A month with a target for a product that no available rep owns potential of.
    """
    periods = list(share.columns)
    targets = by_product.pivot(index="product_id", columns="period", values="target")
    targets = targets.reindex(columns=periods).fillna(0.0)
    w = share.reindex(rep_ids).to_numpy(float) * np.asarray(weight, float)[:, None]
    codes, products = pd.factorize(product_ids)
    mass = np.zeros((len(products), len(periods)))
    np.add.at(mass, codes, w)
    month_t = targets.reindex(products).fillna(0.0).to_numpy(float)
    # a product no rep can sell at all is reported by the quota checks ("target_total[p]")
    empty = (mass <= 0) & (month_t > 0) & (mass.sum(axis=1) > 0)[:, None]
    if empty.any():
        p, m = map(int, np.argwhere(empty)[0])
        raise InfeasibleError(
            f"quota: no rep is available to sell {products[p]} in {periods[m]}",
            diagnosis=[
                f"target[{products[pp]},{periods[mm]}]: {month_t[pp, mm]:,.0f} but every rep "
                "with potential of it is before their start, after their end or on leave"
                for pp, mm in np.argwhere(empty)[:20]
            ],
        )
    return w / np.where(mass > 0, mass, 1.0)[codes] * month_t[codes]


def fit_months(
    seed: np.ndarray, rows: np.ndarray, cols: np.ndarray, labels: list[str]
) -> np.ndarray:
    """Scale ``seed`` (reps x months, >= 0) to row sums ``rows`` and column sums ``cols``.

    Iterative proportional fitting: zeros of ``seed`` stay zero, so no quota lands in a month a
    rep is not available. Rows with a positive total and an all-zero seed spread like ``cols``.

    Raises
    ------
    InfeasibleError
        When the quotas cannot fit the reps' available months (naming the reps ``labels``).
    """
    x = np.asarray(seed, float).copy()
    rows, cols = np.asarray(rows, float), np.asarray(cols, float)
    blank = (x.sum(axis=1) <= 0) & (rows > 0)
    x[blank] = cols[None, :]
    scale = max(1.0, float(cols.max(initial=0.0)))
    for _ in range(_ROUNDS):
        c = x.sum(axis=0)
        x *= np.divide(cols, c, out=np.ones_like(c), where=c > 0)[None, :]
        r = x.sum(axis=1)
        x *= np.divide(rows, r, out=np.zeros_like(r), where=r > 0)[:, None]
        if np.abs(x.sum(axis=0) - cols).max(initial=0.0) <= _TOL * scale:
            return x
    worst = np.argsort(-(x.sum(axis=1) - rows))[:5]
    raise InfeasibleError(
        "quota: the reps' quotas do not fit the months they are available",
        diagnosis=[f"months[{labels[i]}]: quota {rows[i]:,.0f}" for i in worst],
    )


def quota_relief(
    leaves: pd.DataFrame, fair_with: pd.Series, fair_without: list[pd.Series]
) -> pd.DataFrame:
    """How much fair quota each leave moved, and to whom.

    Parameters
    ----------
    leaves
        The leaves table (``rep_id``, ``from``, ``to``), one row per leave.
    fair_with
        The plan's fair quota per (rep_id, product_id).
    fair_without
        The same, computed without each leave (one per row of ``leaves``).

    Returns
    -------
    pandas.DataFrame
        ``rep_id``, ``from``, ``to`` (the leave), ``product_id``, ``to_rep_id``, ``amount``: the
        fair quota (currency, rounded to cents) that moved from the rep on leave to
        ``to_rep_id``; one row per leave, product and receiving rep.
    """
    frames = []
    for (_, leave), other in zip(leaves.iterrows(), fair_without, strict=True):
        gained = fair_with - other.reindex(fair_with.index, fill_value=0.0)
        mask = (gained > 0.005) & (gained.index.get_level_values("rep_id") != leave["rep_id"])
        out = gained[mask].rename("amount").round(2).reset_index()
        out = out.rename(columns={"rep_id": "to_rep_id"})
        frames.append(
            out.assign(rep_id=leave["rep_id"], **{"from": leave["from"], "to": leave["to"]})
        )
    columns = ["rep_id", "from", "to", "product_id", "to_rep_id", "amount"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def fair_by_month(
    pairs: pd.DataFrame, staffing: Staffing, by_product: pd.DataFrame
) -> pd.DataFrame:
    """:func:`monthly_fair` of the quota pairs (``rep_id``, ``product_id``, ``potential``,
    ``eligible``) as a frame: index (rep_id, product_id), one column per period."""
    weight = pairs["potential"].to_numpy(float) * pairs["eligible"].to_numpy(bool)
    fair = monthly_fair(pairs["rep_id"], pairs["product_id"], weight, staffing.share, by_product)
    index = pd.MultiIndex.from_frame(pairs[["rep_id", "product_id"]])
    return pd.DataFrame(fair, index=index, columns=list(staffing.share.columns))


def relief_table(
    tables: Tables,
    pairs: pd.DataFrame,
    by_product: pd.DataFrame,
    staffing_of: Callable[[Tables], Staffing],
    fit: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> pd.DataFrame | None:
    """:func:`quota_relief` of every leave of an active rep (None when there is no leave).

    ``staffing_of`` builds the staffing of tables (the plan's months, calendar and curves).
    ``fit`` maps pairs with a ``fair`` column to the fair quotas the plan uses (with top-down
    targets: fitted to the managers' groups, so a leave's quota moves inside its group as the
    plan moves it); None: the company rule.
    """
    leaves = tables.leaves
    if leaves is None or leaves.empty:
        return None
    leaves = leaves[leaves["rep_id"].isin(set(tables.active_reps["rep_id"]))]

    def fair(staffing: Staffing) -> pd.Series:
        total = fair_by_month(pairs, staffing, by_product).sum(axis=1)
        if fit is None:
            return total
        return pd.Series(fit(pairs.assign(fair=total.to_numpy())), index=total.index)

    with_all = fair(staffing_of(tables))
    without = [fair(staffing_of(tables.replace(leaves=leaves.drop(index=i)))) for i in leaves.index]
    return quota_relief(leaves, with_all, without)
