"""Independent check of a quota result, recomputed from the input tables and the output tables.

Nothing here reads the LP: the fair quotas, potentials, last-year actuals and calendar are
recomputed from ``tables``, ``owners`` and ``settings`` (``models/quota.md``), and every level of
the output is summed again. Rounding to whole units may move a quota by less than one unit, so
the band, caps and history bounds are allowed one unit (one per product for a rep's cap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.io.settings import QuotaSettings, StaffingSettings
from allocator.io.staffing import Staffing, build_staffing
from allocator.io.tables import Tables, parse_ids, potential_by_product
from allocator.quota.check_managers import group_fair, manager_sums
from allocator.quota.result import QuotaResult
from allocator.quota.target import TargetResult

__all__ = ["QuotaCheck", "check_quotas"]

SHOWN = 10  # violations listed per check, the rest counted
PAIR = ["rep_id", "product_id"]


@dataclass(frozen=True)
class QuotaCheck:
    """What the checker found: one line per violated constraint (empty when all hold)."""

    violations: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def check_quotas(
    tables: Tables,
    owners: pd.Series,
    target: TargetResult,
    settings: QuotaSettings,
    result: QuotaResult,
    staffing: StaffingSettings | None = None,
) -> QuotaCheck:
    """Recompute every hard constraint of models/quota.md on ``result``.

    Checks: whole, non-negative amounts; reps sum to each product's target and months to each
    product's month; days -> weeks -> months -> horizon and accounts -> rep-month sums; accounts
    belong to their rep; days are working days of the target months; fairness band, skills, ramp
    (through the fair quota), caps and history bounds; base <= target <= stretch; the expense
    budget and ceilings; no quota in a month or on a day a rep is not available, and split
    accounts credited by share, every manager's top-down target met exactly and the fair
    quotas fitted to those targets (``models/organisation.md``).
    """
    credit = _credit(tables, owners)
    available = build_staffing(tables, target.periods, settings.calendar, staffing)
    found: list[str] = []
    found += _whole(result)
    found += _sums(target, result, credit)
    found += manager_sums(tables, target.by_manager, result.rep_product)
    found += _calendar(target, settings, result)
    found += _available(result, available)
    found += _overlays(tables, target, settings, result, staffing)
    found += _pairs(tables, credit, target, settings, result, available)
    found += _tiers(result)
    found += _expenses(settings, result)
    return QuotaCheck(tuple(found))


def _report(mask: pd.Series | np.ndarray, keys: pd.DataFrame, what: str) -> list[str]:
    """One line per flagged row (the first ``SHOWN``, named by ``keys``), then a count."""
    flagged = np.flatnonzero(np.asarray(mask, bool))
    rows = keys.iloc[flagged[:SHOWN]].itertuples(index=False)
    lines = [f"{what}: {','.join(map(str, row))}" for row in rows]
    if len(flagged) > SHOWN:
        lines.append(f"{what}: ... and {len(flagged) - SHOWN} more")
    return lines


def _compare(lhs: pd.Series, rhs: pd.Series, what: str) -> list[str]:
    """Lines for the keys where two sums differ (a key missing on one side counts as 0)."""
    both = pd.concat([lhs.rename("got"), rhs.rename("expected")], axis=1).fillna(0)
    bad = (both["got"] - both["expected"]).abs() > 1e-9
    return _report(bad, both.reset_index(), what)


def _whole(result: QuotaResult) -> list[str]:
    found = []
    for name in ("rep_product", "quotas", "accounts", "weeks", "days"):
        frame = getattr(result, name)
        v = frame["quota" if name == "rep_product" else "target"].to_numpy(float)
        found += _report((v < 0) | (v != np.round(v)), frame, f"{name}: not a whole amount >= 0")
    return found


def _credit(tables: Tables, owners: pd.Series) -> pd.DataFrame:
    """account_id, rep_id, share: owners with share 1, split accounts by their split shares."""
    rows = pd.DataFrame({"account_id": owners.index, "rep_id": owners.to_numpy(), "share": 1.0})
    splits = tables.account_splits
    if splits is None or splits.empty:
        return rows
    active = set(tables.active_reps["rep_id"])
    splits = splits[splits["account_id"].isin(set(owners.index)) & splits["rep_id"].isin(active)]
    splits = splits.assign(
        share=splits["share"] / splits.groupby("account_id")["share"].transform("sum")
    )
    splits = splits[splits.groupby("account_id")["rep_id"].transform("size") >= 2]
    rows = rows[~rows["account_id"].isin(set(splits["account_id"]))]
    return pd.concat([rows, splits[["account_id", "rep_id", "share"]]], ignore_index=True)


def _available(result: QuotaResult, available: Staffing) -> list[str]:
    """No monthly quota where the rep's availability is 0, no daily quota on an absent day."""
    q = result.quotas
    share = available.share.stack()
    share.index = share.index.set_names(["rep_id", "period"])
    have = share.reindex(pd.MultiIndex.from_frame(q[["rep_id", "period"]])).to_numpy()
    found = _report(
        (have <= 0) & (q["target"] > 0),
        q[[*PAIR, "period"]],
        "quota in a month the rep is not available",
    )
    if len(available.off):
        days = result.days
        off = pd.MultiIndex.from_frame(available.off[["rep_id", "date"]])
        on = pd.MultiIndex.from_arrays([days["rep_id"], pd.to_datetime(days["date"])])
        found += _report(
            on.isin(off) & (days["target"] > 0),
            days[[*PAIR, "date"]],
            "quota on a day the rep is absent",
        )
    return found


def _below(tables: Tables, names: set[str]) -> set[str]:
    """Territory reps named in ``names`` or reporting (at any depth) to a manager named there."""
    parent = {}
    if tables.managers is not None:
        parent = dict(zip(tables.managers["manager_id"], tables.managers["parent_id"], strict=True))
    out = set()
    for rep, manager in zip(
        tables.active_reps["rep_id"], tables.active_reps["manager_id"], strict=True
    ):
        seen = set()
        while manager and manager not in seen:
            seen.add(manager)
            manager = parent.get(manager, "")
        if rep in names or seen & names:
            out.add(rep)
    return out


def _overlays(
    tables: Tables,
    target: TargetResult,
    settings: QuotaSettings,
    result: QuotaResult,
    staffing: StaffingSettings | None,
) -> list[str]:
    """Each overlay month = round(availability x the covered reps' quota on its products)."""
    overlays = tables.overlay_reps
    if overlays.empty:
        return []
    got = result.overlays if result.overlays is not None else pd.DataFrame(columns=["rep_id"])
    people = tables.replace(reps=overlays.assign(role=""))
    share = build_staffing(people, target.periods, settings.calendar, staffing).share
    found = []
    q = result.quotas
    for rep, covers, skills in zip(
        overlays["rep_id"], overlays["covers"], overlays["skills"], strict=True
    ):
        mine = q[q["rep_id"].isin(_below(tables, set(parse_ids(covers))))]
        if parse_ids(skills):
            mine = mine[mine["product_id"].isin(parse_ids(skills))]
        sums = mine.groupby(["product_id", "period"])["target"].sum()
        want = sums * sums.index.get_level_values("period").map(share.loc[rep]).to_numpy() + 0.5
        want = np.floor(np.round(want, 9))
        have = got[got["rep_id"] == rep].set_index(["product_id", "period"])["target"]
        found += _compare(
            have, want, f"overlay quota of {rep} is not its share of the covered quota"
        )
    return found


def _sums(target: TargetResult, result: QuotaResult, credit: pd.DataFrame) -> list[str]:
    """Every level against its parent, from the published tables alone."""
    by_product = target.by_product
    month_keys = [*PAIR, "period"]
    months = result.quotas.set_index(month_keys)["target"]
    days = result.days.assign(**_period_and_week(result.days["date"]))
    found = _compare(
        result.rep_product.groupby("product_id")["quota"].sum(),
        by_product.groupby("product_id")["target"].sum(),
        "reps do not sum to the product target",
    )
    found += _compare(
        result.quotas.groupby(["product_id", "period"])["target"].sum(),
        by_product.set_index(["product_id", "period"])["target"],
        "reps do not sum to the product's month target",
    )
    found += _compare(
        result.quotas.groupby(PAIR)["target"].sum(),
        result.rep_product.set_index(PAIR)["quota"],
        "months do not sum to the quota",
    )
    for name, frame in (("accounts", result.accounts), ("weeks", result.weeks)):
        got = frame.groupby(month_keys)["target"].sum()
        found += _compare(got, months, f"{name} do not sum to the rep-month")
    found += _compare(
        days.groupby([*month_keys, "week"])["target"].sum(),
        result.weeks.set_index([*month_keys, "week"])["target"],
        "days do not sum to the week",
    )
    acc = result.accounts
    allowed = pd.MultiIndex.from_frame(credit[["account_id", "rep_id"]])
    wrong = ~pd.MultiIndex.from_frame(acc[["account_id", "rep_id"]]).isin(allowed)
    found += _report(wrong, acc[["account_id", "rep_id"]], "account quota given to a non-owner")
    return found


def _period_and_week(dates: pd.Series) -> dict[str, np.ndarray]:
    """``YYYY-MM`` and ISO ``YYYY-Www`` of each date (computed once per distinct date)."""
    codes, uniques = pd.factorize(pd.to_datetime(dates))
    index = pd.DatetimeIndex(uniques)
    iso = index.isocalendar()
    week = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    period = np.asarray(index.strftime("%Y-%m"), dtype=object)
    return {"period": period[codes], "week": week.to_numpy(dtype=object)[codes]}


def _calendar(target: TargetResult, settings: QuotaSettings, result: QuotaResult) -> list[str]:
    dates = pd.to_datetime(result.days["date"])
    holidays = pd.to_datetime(list(settings.calendar.holidays))
    off = dates.dt.day_of_week.isin(list(settings.calendar.weekend)) | dates.isin(holidays)
    period = _period_and_week(dates)["period"]
    outside = ~pd.Series(period).isin(target.periods).to_numpy()
    keys = result.days[[*PAIR, "date"]]
    return _report(off & (result.days["target"] > 0), keys, "quota on a day off") + _report(
        outside, keys, "day outside the target months"
    )


def _fair(
    rp: pd.DataFrame,
    pot: np.ndarray,
    eligible: np.ndarray,
    target: TargetResult,
    share: pd.DataFrame,
) -> np.ndarray:
    """Fair quota of each row of ``rp``: every month's target split by available potential."""
    fair = np.zeros(len(rp))
    month_targets = target.by_product.set_index(["product_id", "period"])["target"]
    for period in share.columns:
        weight = pd.Series(np.where(eligible, pot, 0.0) * rp["rep_id"].map(share[period]).fillna(0))
        mass = weight.groupby(rp["product_id"]).transform("sum").to_numpy()
        month = [month_targets.get((p, period), 0.0) for p in rp["product_id"]]
        fair += weight.to_numpy() / np.where(mass > 0, mass, 1.0) * np.asarray(month, float)
    return fair


def _pairs(
    tables: Tables,
    credit: pd.DataFrame,
    target: TargetResult,
    settings: QuotaSettings,
    result: QuotaResult,
    available: Staffing,
) -> list[str]:
    """Fairness band (with availability), skills, caps and history bounds, from recomputed
    inputs; a split account's potential counts for each split rep by its share."""
    rp = result.rep_product[[*PAIR, "quota"]].reset_index(drop=True)
    reps = tables.active_reps.set_index("rep_id")
    by_account = potential_by_product(tables).reindex(credit["account_id"], fill_value=0.0)
    by_account = by_account.mul(credit["share"].to_numpy(float), axis=0)
    potential = pd.Series(by_account.groupby(credit["rep_id"].to_numpy()).sum().stack())
    pot = potential.reindex(pd.MultiIndex.from_frame(rp[PAIR]), fill_value=0.0).to_numpy()
    skills = rp["rep_id"].map(reps["skills"].map(parse_ids))
    skilled = np.array([not s or p in s for s, p in zip(skills, rp["product_id"], strict=True)])
    ramp = rp["rep_id"].map(available.share.sum(axis=1)).to_numpy(float)
    eligible = skilled & (pot > 0) & (ramp > 0)
    fair = _fair(rp, pot, eligible, target, available.share)
    fair = group_fair(tables, target.by_manager, target.total, rp, fair)
    q, band = rp["quota"].to_numpy(float), settings.fairness.band
    keys = rp[PAIR]
    found = _report(~eligible & (q != 0), keys, "quota without skill or potential")
    outside = eligible & (np.abs(q - fair) > band * fair + 1)
    found += _report(outside, keys, f"quota outside the fairness band +-{band:g}")
    if settings.cap_share is not None:
        by_rep = pd.DataFrame({"q": q, "pot": pot}).groupby(rp["rep_id"]).sum()
        over = by_rep["q"] > settings.cap_share * by_rep["pot"] + rp["product_id"].nunique()
        found += _report(over, by_rep.reset_index()[["rep_id"]], "quota above the cap")
    bounds = pd.DataFrame({"fair": fair, "eligible": eligible, "potential": pot})
    found += _history(tables, credit, target, settings, rp, bounds, result)
    return found


def _history(
    tables: Tables,
    credit: pd.DataFrame,
    target: TargetResult,
    settings: QuotaSettings,
    rp: pd.DataFrame,
    bounds: pd.DataFrame,
    result: QuotaResult,
) -> list[str]:
    """Soft floor and ceiling around last year's actual (12 months before start x months / 12).

    A quota may fall below its floor (or above its ceiling) only by the shortfall (excess) that
    ``result.history`` reports, and only where the hard rows leave no room: the quota at the
    edge of its fairness band, its rep at the cap, or every other rep of the product at the
    edge of theirs (``models/quota.md``, "History floors and ceilings are soft").
    """
    low, high = settings.history.min_growth, settings.history.max_growth
    if tables.history is None or (low is None and high is None):
        return []
    first = pd.Period(target.periods[0], freq="M")
    h = tables.history
    h = h[(h["period"] >= str(first - 12)) & (h["period"] < str(first))]
    h = h.merge(credit, on="account_id", how="inner")
    sold = (h["sales"] * h["share"]).groupby([h["rep_id"], h["product_id"]]).sum()
    sold = sold * len(target.periods) / 12
    actual = sold.reindex(pd.MultiIndex.from_frame(rp[PAIR]), fill_value=0.0).to_numpy()
    q, live = rp["quota"].to_numpy(float), bounds["eligible"].to_numpy() & (actual > 0)
    floor = np.where(live & (low is not None), (1 + (low or 0.0)) * actual, 0.0)
    ceiling = np.where(live & (high is not None), (1 + (high or 0.0)) * actual, np.inf)
    given = _given(result, rp)
    below = q < floor - 1
    above = q > ceiling + 1
    keys = rp[PAIR]
    found = _report(below & (q < floor - given["floor"] - 1), keys, "quota below the history floor")
    found += _report(
        above & (q > ceiling + given["ceiling"] + 1), keys, "quota above the history ceiling"
    )
    needless = _needless(settings, rp, bounds, floor, ceiling)
    found += _report(below & needless["up"], keys, "history floor given way with room to meet it")
    found += _report(
        above & needless["down"], keys, "history ceiling given way with room to meet it"
    )
    return found


def _needless(
    settings: QuotaSettings,
    rp: pd.DataFrame,
    bounds: pd.DataFrame,
    floor: np.ndarray,
    ceiling: np.ndarray,
) -> dict[str, np.ndarray]:
    """Rows whose quota could move up (``up``) or down (``down``) by a transfer with another
    rep of the product that keeps every hard row and lowers the total give-way."""
    q, band, fair = rp["quota"].to_numpy(float), settings.fairness.band, bounds["fair"].to_numpy()
    eligible = bounds["eligible"].to_numpy()
    at_cap = _at_cap(settings, rp, q, bounds["potential"].to_numpy())
    room_down = pd.Series(eligible & (q > np.maximum((1 - band) * fair, floor) + 1))
    room_up = pd.Series(eligible & (q < np.minimum((1 + band) * fair, ceiling) - 1) & ~at_cap)
    others_down = room_down.groupby(rp["product_id"]).transform("sum").to_numpy() - room_down
    others_up = room_up.groupby(rp["product_id"]).transform("sum").to_numpy() - room_up
    return {
        "up": (q < (1 + band) * fair - 1) & ~at_cap & (others_down > 0),
        "down": (q > (1 - band) * fair + 1) & (others_up > 0),
    }


def _given(result: QuotaResult, rp: pd.DataFrame) -> dict[str, np.ndarray]:
    """The shortfall (floor) and excess (ceiling) the result reports, per row of ``rp``."""
    index = pd.MultiIndex.from_frame(rp[PAIR])
    out = {}
    for kind, column in (("floor", "shortfall"), ("ceiling", "excess")):
        if result.history is None or not len(result.history):
            out[kind] = np.zeros(len(rp))
            continue
        h = result.history[result.history["bound"] == kind]
        values = h.set_index(PAIR)[column].astype(float)
        out[kind] = values.reindex(index, fill_value=0.0).to_numpy()
    return out


def _at_cap(
    settings: QuotaSettings, rp: pd.DataFrame, q: np.ndarray, pot: np.ndarray
) -> np.ndarray:
    """Rows whose rep's quotas reach the cap (within one unit per product)."""
    if settings.cap_share is None:
        return np.zeros(len(rp), bool)
    frame = pd.DataFrame({"q": q, "pot": pot})
    by_rep = frame.groupby(rp["rep_id"]).transform("sum")
    slack = settings.cap_share * by_rep["pot"] - by_rep["q"]
    return (slack <= rp["product_id"].nunique()).to_numpy()


def _tiers(result: QuotaResult) -> list[str]:
    q = result.quotas
    bad = (q["base"] > q["target"]) | (q["target"] > q["stretch"]) | (q["base"] < 0)
    return _report(bad, q[[*PAIR, "period"]], "tiers not ordered base <= target <= stretch")


def _expenses(settings: QuotaSettings, result: QuotaResult) -> list[str]:
    if settings.expense is None or result.expenses is None:
        return []
    exp, cfg = result.expenses, settings.expense
    by_rep = result.rep_product.groupby("rep_id")["quota"].sum()
    quota = exp["rep_id"].map(by_rep).fillna(0).to_numpy(float)
    ratio = exp["region_id"].map(lambda g: cfg.region_max_ratio.get(g, cfg.max_ratio))
    keys = exp[["rep_id"]]
    found = _report(exp["expense"] < 0, keys, "negative expense")
    above = exp["expense"].to_numpy() > ratio.to_numpy(float) * quota + 1
    found += _report(above, keys, "expense above the region's expense-to-sales ceiling")
    if exp["expense"].sum() > cfg.budget + 1e-6:
        found.append(f"expenses {exp['expense'].sum():,.0f} exceed the budget {cfg.budget:,.0f}")
    return found
