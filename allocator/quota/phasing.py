"""Whole-unit rounding with exact sums, and the calendar: months -> ISO weeks -> working days.

Every amount allocator publishes is a whole currency unit and every level sums exactly to its
parent. :func:`round_groups` is largest-remainder rounding of many groups at once;
:func:`round_matrix` rounds a table so that *both* its row and column sums are exact
(reps x months); :func:`spread_over_days` and :func:`weeks_from_days` phase monthly amounts over a
:func:`working_days` calendar. The rounding order is documented in ``models/quota.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from allocator.exceptions import ScenarioError
from allocator.io.settings import CalendarSettings
from allocator.quota.availability import fit_months

__all__ = [
    "before",
    "month_periods",
    "parse_month",
    "round_groups",
    "round_matrix",
    "round_to_total",
    "spread_over_days",
    "weeks_from_days",
    "working_days",
]

_DIGITS = 9  # values are cleaned to 1e-9 before flooring so 2.9999999999 counts as 3


def parse_month(text: str, *, key: str = "target.start") -> pd.Period:
    """Parse ``YYYY-MM`` into a monthly :class:`pandas.Period`.

    Raises
    ------
    ScenarioError
        When ``text`` is not a month ``YYYY-MM``; the message names ``key``.
    """
    try:
        if len(str(text)) != 7:
            raise ValueError(text)
        return pd.Period(str(text), freq="M")
    except ValueError:
        raise ScenarioError(f"{key}: expected a month YYYY-MM, got {text!r}") from None


def month_periods(start: str, months: int) -> list[str]:
    """The ``months`` months from ``start`` as ``YYYY-MM`` strings."""
    first = parse_month(start)
    return [str(first + i) for i in range(months)]


def before(history: pd.DataFrame, start: str, months: int) -> pd.DataFrame:
    """The rows of ``history`` in the ``months`` months just before ``start`` (a window)."""
    first = parse_month(start)
    periods = history["period"]
    return history[(periods >= str(first - months)) & (periods < str(first))]


def round_groups(values: np.ndarray, groups: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding of many groups at once, each to its whole total exactly.

    Within a group the values are first scaled to sum to the group's total (equal shares when
    they sum to 0), floored, and the missing units go to the largest fractional parts, ties to
    the earlier position.

    Parameters
    ----------
    values
        Non-negative weights, one per item.
    groups
        Group code of each item, integers ``0 .. len(totals) - 1``.
    totals
        Whole, non-negative total of each group.

    Returns
    -------
    numpy.ndarray
        Integer amounts (int64), one per item, summing to ``totals`` per group.
    """
    values = np.asarray(values, float)
    groups = np.asarray(groups, np.int64)
    totals = np.rint(np.asarray(totals, float))
    size = len(totals)
    sums = np.bincount(groups, weights=values, minlength=size)
    counts = np.bincount(groups, minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(
            sums[groups] > 0,
            values * (totals / np.where(sums > 0, sums, 1.0))[groups],
            (totals / np.maximum(counts, 1))[groups],
        )
    scaled = np.round(scaled, _DIGITS)
    floor = np.floor(scaled)
    missing = np.rint(totals - np.bincount(groups, weights=floor, minlength=size))
    order = np.lexsort((np.arange(len(values)), floor - scaled, groups))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(values), np.int64)
    rank[order] = np.arange(len(values)) - starts[groups[order]]
    return (floor + (rank < missing[groups])).astype(np.int64)


def round_to_total(values: np.ndarray, total: float) -> np.ndarray:
    """Largest-remainder rounding of ``values`` to the whole ``total`` (one group)."""
    values = np.asarray(values, float)
    return round_groups(values, np.zeros(len(values), np.int64), np.array([total]))


def round_matrix(
    x: np.ndarray, rows: np.ndarray, cols: np.ndarray, allowed: np.ndarray | None = None
) -> np.ndarray:
    """Round a non-negative matrix so that row sums equal ``rows`` and column sums ``cols``.

    ``x`` must already have these (whole) margins up to float noise. Every cell is floored, then
    a maximum flow from rows to columns through the cells with a fractional part decides which
    cells get one more unit: the transportation polytope with integer margins has an integral
    vertex, so each cell ends at the floor or the ceiling of its value.

    ``allowed`` (a boolean matrix) limits which cells may take a unit when float noise hides a
    fractional part (default: every cell): a month a rep is not available stays at 0.

    Returns
    -------
    numpy.ndarray
        An int64 matrix of the shape of ``x`` with the exact margins.
    """
    x = np.round(np.asarray(x, float), _DIGITS)
    floor = np.floor(x)
    need_r = np.rint(np.asarray(rows, float) - floor.sum(axis=1)).astype(np.int64)
    need_c = np.rint(np.asarray(cols, float) - floor.sum(axis=0)).astype(np.int64)
    if need_r.sum() == 0:
        return floor.astype(np.int64)
    up = _flow_units(x > floor, need_r, need_c)
    if up is None:  # float noise removed a needed cell: any cell may take the unit
        up = _flow_units(np.ones_like(x, bool) if allowed is None else allowed, need_r, need_c)
    if up is None:
        raise ValueError("round_matrix: the row and column totals do not agree")
    return floor.astype(np.int64) + up


def _flow_units(allowed: np.ndarray, need_r: np.ndarray, need_c: np.ndarray) -> np.ndarray | None:
    """0/1 matrix on ``allowed`` cells with row sums ``need_r`` and column sums ``need_c``."""
    n_r, n_c = allowed.shape
    source, sink = n_r + n_c, n_r + n_c + 1
    cell_r, cell_c = np.nonzero(allowed)
    tail = np.concatenate([np.full(n_r, source), cell_r, n_r + np.arange(n_c)])
    head = np.concatenate([np.arange(n_r), n_r + cell_c, np.full(n_c, sink)])
    cap = np.concatenate([need_r, np.ones(len(cell_r), np.int64), need_c]).astype(np.int32)
    keep = cap > 0
    size = n_r + n_c + 2
    graph = sp.csr_array((cap[keep], (tail[keep], head[keep])), shape=(size, size))
    result = maximum_flow(graph, source, sink)
    if result.flow_value != need_r.sum():
        return None
    flow = result.flow.toarray()
    return np.clip(flow[:n_r, n_r : n_r + n_c], 0, 1).astype(np.int64)


def working_days(periods: list[str], calendar: CalendarSettings) -> pd.DataFrame:
    """The working days of the given months: ``period``, ``date``, ``week`` (ISO ``YYYY-Www``).

    A working day is a weekday not in ``calendar.weekend`` and not in ``calendar.holidays``.

    Raises
    ------
    ScenarioError
        When a month has no working day (every weekday off, or every working day a holiday).
    """
    first = pd.Period(periods[0], freq="M").start_time
    last = pd.Period(periods[-1], freq="M").end_time.normalize()
    dates = pd.date_range(first, last, freq="D")
    holidays = pd.DatetimeIndex(pd.to_datetime(list(calendar.holidays))).normalize()
    keep = ~dates.day_of_week.isin(list(calendar.weekend)) & ~dates.isin(holidays)
    days = dates[keep]
    iso = days.isocalendar()
    frame = pd.DataFrame(
        {
            "period": days.strftime("%Y-%m"),
            "date": days,
            "week": iso["year"].astype(str).to_numpy()
            + "-W"
            + iso["week"].astype(str).str.zfill(2).to_numpy(),
        }
    )
    frame = frame[frame["period"].isin(periods)].reset_index(drop=True)
    empty = [p for p in periods if p not in set(frame["period"])]
    if empty:
        raise ScenarioError(
            f"quota.calendar: month(s) {', '.join(empty)} have no working day "
            f"(weekend days {list(calendar.weekend)}, {len(calendar.holidays)} holidays)"
        )
    return frame


def spread_over_days(
    monthly: pd.DataFrame, days: pd.DataFrame, keys: list[str], off: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Spread each row's whole ``target`` equally over the working days of its ``period``.

    ``off`` (``rep_id``, ``date``) lists days a rep is absent: they get no target while the rep
    has a present day in the month (``models/organisation.md``).

    Parameters
    ----------
    monthly
        Columns ``keys``, ``period`` and ``target`` (whole units).
    days
        The calendar from :func:`working_days`.
    keys
        The id columns kept on every day (e.g. ``["rep_id", "product_id"]``).

    Returns
    -------
    pandas.DataFrame
        ``keys``, ``date``, ``period``, ``week``, ``target``: whole units summing per row of
        ``monthly`` exactly to its target (largest remainder, extra units to the earlier days).
    """
    days = days.sort_values("date", kind="stable").reset_index(drop=True)
    codes = pd.Categorical(monthly["period"], categories=pd.unique(days["period"])).codes
    if (codes < 0).any():
        raise ValueError("spread_over_days: a month is missing from the calendar")
    per_month = days.groupby("period", sort=False).size().to_numpy()
    first_day = np.concatenate(([0], np.cumsum(per_month)[:-1]))
    n = per_month[codes]
    row = np.repeat(np.arange(len(monthly)), n)
    offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    day = first_day[codes][row] + offset
    # take() keeps the string dtype: rebuilding strings from objects is the slow part here
    out = monthly[keys].take(row).reset_index(drop=True)
    calendar = days[["date", "period", "week"]].take(day).reset_index(drop=True)
    weight = np.ones(len(row))
    if off is not None and len(off) and "rep_id" in keys:
        absent = pd.MultiIndex.from_frame(off[["rep_id", "date"]])
        pairs = pd.MultiIndex.from_arrays([out["rep_id"], calendar["date"]])
        weight = (~pairs.isin(absent)).astype(float)
    target = round_groups(weight, row, monthly["target"].to_numpy(float))
    return pd.concat([out, calendar], axis=1).assign(target=target)


def weeks_from_days(days: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sum days into ISO weeks, one row per week *and month* so weeks add up to months exactly."""
    grouped = days.groupby([*keys, "period", "week"], sort=True, observed=True)["target"].sum()
    return grouped.reset_index()


def phase_quotas(
    rep_product: pd.DataFrame,
    by_product: pd.DataFrame,
    owned: pd.DataFrame,
    calendar: CalendarSettings,
    fair: pd.DataFrame | None = None,
    off: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Spread whole rep quotas over months, accounts, working days and weeks (exact sums).

    Parameters
    ----------
    rep_product
        ``rep_id``, ``product_id``, ``quota`` (whole units summing to each product's target).
    by_product
        The target's ``period``, ``product_id``, ``target`` (whole units).
    owned
        Potential per product (one column each) of every owned account, index account_id, and
        its ``rep_id``.
    calendar
        Weekend days and holidays.
    fair
        Monthly fair quota (index ``rep_id``, ``product_id``; a column per period): months
        follow it (:func:`spread_over_months`). None: the product's monthly profile.
    off
        ``rep_id``, ``date``: days a rep is absent (no daily target on them).

    Returns
    -------
    tuple of pandas.DataFrame
        months (rep_id, product_id, period, target), accounts (rep_id, account_id, product_id,
        period, target), weeks (rep_id, product_id, period, week, target) and days (rep_id,
        product_id, date, target). Only rep-products with a positive quota appear.

    Raises
    ------
    ScenarioError
        When a month of the target has no working day.
    """
    months = spread_over_months(rep_product, by_product, fair)
    accounts = spread_over_accounts(months, owned)
    periods = list(pd.unique(by_product["period"]))
    keys = ["rep_id", "product_id"]
    days = spread_over_days(months, working_days(periods, calendar), keys, off)
    weeks = weeks_from_days(days, keys)
    return months, accounts, weeks, days[[*keys, "date", "target"]]


def spread_over_months(
    rep_product: pd.DataFrame, by_product: pd.DataFrame, fair: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each rep's quota over months, both margins exact.

    Without ``fair``: by the product's monthly target profile. With ``fair`` (monthly fair
    quotas, index ``rep_id``, ``product_id``): in proportion to the rep's monthly fair quota,
    fitted to the month targets (:func:`allocator.quota.availability.fit_months`), so a month
    the rep is not available stays at 0.
    """
    monthly = by_product.pivot(index="product_id", columns="period", values="target")
    periods = list(pd.unique(by_product["period"]))
    monthly = monthly[periods]
    live = rep_product[rep_product["quota"] > 0]
    frames = []
    for product, group in live.groupby("product_id", sort=False):
        cols = monthly.loc[product].to_numpy(float)
        rows = group["quota"].to_numpy(float)
        if fair is None:
            x, allowed = np.outer(rows, cols) / cols.sum(), None
        else:
            keys = pd.MultiIndex.from_arrays([group["rep_id"], group["product_id"]])
            seed = fair.reindex(keys).fillna(0.0)[periods].to_numpy(float)
            x = fit_months(seed, rows, cols, list(group["rep_id"]))
            allowed = x > 0
        amounts = round_matrix(x, rows, cols, allowed)
        frames.append(
            pd.DataFrame(
                {
                    "rep_id": np.repeat(group["rep_id"].to_numpy(), len(periods)),
                    "product_id": product,
                    "period": np.tile(periods, len(group)),
                    "target": amounts.ravel(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["rep_id", "product_id", "period", "target"])
    return pd.concat(frames, ignore_index=True)


def spread_over_accounts(months: pd.DataFrame, owned: pd.DataFrame) -> pd.DataFrame:
    """Each rep-product-month over the rep's accounts in proportion to their potential."""
    long = owned.rename_axis("account_id").reset_index()
    long = long.melt(
        id_vars=["account_id", "rep_id"], var_name="product_id", value_name="potential"
    )
    rows = months.reset_index(drop=True).assign(_row=np.arange(len(months)))
    merged = rows.merge(long, on=["rep_id", "product_id"], how="inner", sort=False)
    merged = merged.sort_values(["_row", "account_id"], kind="stable")
    target = round_groups(
        merged["potential"].to_numpy(float),
        merged["_row"].to_numpy(),
        rows["target"].to_numpy(float),
    )
    out = merged[["rep_id", "account_id", "product_id", "period"]].reset_index(drop=True)
    return out.assign(target=target)
