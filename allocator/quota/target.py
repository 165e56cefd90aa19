"""Target setting: next period's company target from four references, and its product mix.

The math, with the names used here, is in ``models/target.md``: the references per month
(plan, three-year history, history grown by the industry rate, last year grown by the
competitor's rate), their weighted sum, and the product-mix LP (share bands, maximal margin).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pulp

from allocator.exceptions import AllocatorWarning, InfeasibleError, ScenarioError, SolverError
from allocator.io.settings import Band, SolverSettings, TargetSettings
from allocator.io.tables import DEFAULT_PRODUCT, Tables, potential_by_product
from allocator.quota.managers import covers_every_rep, resolve_manager_targets
from allocator.quota.phasing import before, month_periods, parse_month, round_groups, round_to_total
from allocator.solver import SolveReport, solve

__all__ = [
    "TargetResult",
    "effective_bands",
    "history_warnings",
    "reference_shares",
    "set_target",
]

log = logging.getLogger("allocator")

REFERENCES = ("plan", "history", "industry", "competitor")


@dataclass(frozen=True)
class TargetResult:
    """The company target: references and target per month, the product split and the mix.

    ``references``: period, plan, history, industry, competitor, target (whole units);
    ``by_product``: period, product_id, target (whole units, sums exact);
    ``mix``: product_id, category, share, margin, band_min, band_max; ``total``: the horizon target;
    ``by_manager``: manager_id, target (whole units over the horizon) of ``target.by_manager``,
    checked against each other and ``total`` (None when the scenario gives none).
    """

    references: pd.DataFrame
    by_product: pd.DataFrame
    mix: pd.DataFrame
    total: float
    by_manager: pd.DataFrame | None = None

    @property
    def periods(self) -> list[str]:
        return list(self.references["period"])

    def product_totals(self) -> pd.Series:
        """Whole target of each product over the horizon (``T_p``), in mix order."""
        totals = self.by_product.groupby("product_id", sort=False)["target"].sum()
        return totals.reindex(self.mix["product_id"], fill_value=0).astype("int64")

    def summary(self) -> str:
        shares = ", ".join(
            f"{p} {s:.0%}" for p, s in zip(self.mix["product_id"], self.mix["share"], strict=True)
        )
        first, last = self.periods[0], self.periods[-1]
        return f"target {self.total:,.0f} over {first}..{last}; mix {shares}"


def set_target(
    tables: Tables, settings: TargetSettings, solver: SolverSettings | None = None
) -> TargetResult:
    """Set the company target per month and split it across products.

    Raises
    ------
    ScenarioError
        No plan, amount or history to build the target from; a month whose available references
        all weigh 0; a bad ``start``; a mix band naming an unknown product or without products.
    InfeasibleError
        The mix bands cannot be met together (the diagnosis names the bands and numbers).
    InputError
        ``target.by_manager`` contradicts itself, the hierarchy or the company target
        (:func:`allocator.quota.managers.resolve_manager_targets`).
    """
    periods = month_periods(settings.start, settings.months)
    sales = company_sales(tables)
    for message in history_warnings(tables, settings):
        warnings.warn(message, AllocatorWarning, stacklevel=2)
    org = None
    given = settings.by_manager
    alone = settings.plan is None and sales.empty  # no company target but the managers'
    if given and settings.amount is None and (alone or covers_every_rep(tables, given)):
        # the managers' targets are the company target; the references shape the months
        org = resolve_manager_targets(tables, given, None)
        settings = settings.model_copy(update={"amount": float(org.company)})
    references = _references(sales, periods, settings)
    monthly = _weighted_target(references, settings)
    total = int(np.rint(monthly.sum()))
    if settings.by_manager and org is None:
        key = "target.amount" if settings.amount is not None else "target (plan, history)"
        org = resolve_manager_targets(tables, settings.by_manager, total, key)
    references["target"] = round_to_total(monthly.to_numpy(), total)
    mix = _mix(tables, settings, solver)
    by_product = _split_months(references, mix)
    log.info("target: %s over %d months", f"{total:,}", len(periods))
    by_manager = org.table() if org is not None else None
    return TargetResult(references, by_product, mix, float(total), by_manager)


def company_sales(tables: Tables) -> pd.Series:
    """Company sales per history month (``YYYY-MM`` index), empty without history."""
    if tables.history is None or tables.history.empty:
        return pd.Series(dtype=float)
    return tables.history.groupby("period")["sales"].sum().astype(float)


def history_warnings(tables: Tables, settings: TargetSettings) -> list[str]:
    """What the target stage will say about the history table, as messages (empty when fine).

    Two findings: history dated on or after ``target.start`` (those months are not used; history
    is what was sold before the plan), and history covering fewer than the three years before
    the plan that the history reference averages (naming the years used). ``set_target`` warns
    with these; ``allocator validate`` prints them before any solve.
    """
    sales = company_sales(tables)
    if sales.empty:
        return []
    where = tables.sources.get("history", "history")
    start = settings.start
    first = parse_month(start)
    messages = []
    late = sorted(p for p in sales.index if p >= str(first))
    if late:
        messages.append(
            f"{where}: {len(late)} month(s) of history dated {late[0]}..{late[-1]}, on or after "
            f"target.start {start}, are not used (history is what was sold before the plan)"
        )
    seen = {p for p in sales.index if p < str(first)}
    periods = month_periods(start, settings.months)
    refs = [_reference_months(pd.Period(t, freq="M"), first, seen) for t in periods]
    short = [t for t, r in zip(periods, refs, strict=True) if len(r) < 3]
    if short:
        years = sorted({r.year for found in refs for r in found})
        used = ", ".join(map(str, years)) if years else "none"
        months = ", ".join(short[:3]) + (f", ... ({len(short)} months)" if len(short) > 3 else "")
        earliest = min(seen) if seen else "-"
        messages.append(
            f"{where}: history from {earliest} covers fewer than the 3 years before {start} that "
            f"the target's history reference averages (years used: {used}; months with fewer "
            f"than 3 years: {months})"
        )
    return messages


def _reference_months(month: pd.Period, start: pd.Period, seen: set[str]) -> list[pd.Period]:
    """The latest three months before ``start`` with ``month``'s calendar month, in history."""
    found: list[pd.Period] = []
    candidate = month - 12
    while candidate >= start:
        candidate -= 12
    earliest = pd.Period(min(seen), freq="M") if seen else candidate
    while len(found) < 3 and candidate >= earliest:
        if str(candidate) in seen:
            found.append(candidate)
        candidate -= 12
    return found


def _references(sales: pd.Series, periods: list[str], settings: TargetSettings) -> pd.DataFrame:
    start = parse_month(settings.start)
    seen = set(sales.index)
    rows = []
    for text in periods:
        month = pd.Period(text, freq="M")
        refs = _reference_months(month, start, seen)
        if not refs:
            rows.append((text, np.nan, np.nan, np.nan))
            continue
        years = (month - refs[0]).n / 12
        hist = float(np.mean([sales[str(r)] for r in refs]))
        industry = hist * (1 + settings.industry_growth) ** years
        competitor = float(sales[str(refs[0])]) * (1 + settings.competitor_growth) ** years
        rows.append((text, hist, industry, competitor))
    frame = pd.DataFrame(rows, columns=["period", "history", "industry", "competitor"])
    season = _seasonality(frame["history"])
    plan = np.nan if settings.plan is None else settings.plan
    frame.insert(1, "plan", plan * season)
    return frame


def _seasonality(history: pd.Series) -> np.ndarray:
    """Monthly profile of the history reference; flat when a month lacks history or all is 0."""
    values = history.to_numpy(float)
    if np.isnan(values).any() or values.sum() <= 0:
        return np.full(len(values), 1.0 / len(values))
    return values / values.sum()


def _weighted_target(references: pd.DataFrame, settings: TargetSettings) -> pd.Series:
    """``T_m``: weights renormalised over the references available each month, or the amount."""
    if settings.amount is not None:
        return settings.amount * pd.Series(_seasonality(references["history"]))
    if settings.plan is None and references["history"].isna().all():
        raise ScenarioError(
            "target: needs a plan, an amount, or history for the same months of previous years "
            f"(none found for {references['period'].iloc[0]}..{references['period'].iloc[-1]})"
        )
    values = references[list(REFERENCES)].to_numpy(float)
    weights = np.array([getattr(settings.weights, k) for k in REFERENCES])
    present = ~np.isnan(values)
    mass = (present * weights).sum(axis=1)
    if (mass <= 0).any():
        month = references["period"][mass <= 0].iloc[0]
        have = [k for k, ok in zip(REFERENCES, present[mass <= 0][0], strict=True) if ok]
        if not have:
            raise ScenarioError(
                f"target: month {month} has no reference: set a plan or an amount, or give "
                "history for the same month of previous years"
            )
        raise ScenarioError(
            f"target.weights: month {month}: the available references ({', '.join(have)}) "
            "all have weight 0"
        )
    return pd.Series((np.nan_to_num(values) * weights).sum(axis=1) / mass)


def _split_months(references: pd.DataFrame, mix: pd.DataFrame) -> pd.DataFrame:
    """Each month's whole target split by the mix shares, rounded per month exactly."""
    n_m, n_p = len(references), len(mix)
    shares = mix["share"].to_numpy(float)
    values = np.tile(shares, n_m)
    groups = np.repeat(np.arange(n_m), n_p)
    target = round_groups(values, groups, references["target"].to_numpy(float))
    return pd.DataFrame(
        {
            "period": np.repeat(references["period"].to_numpy(), n_p),
            "product_id": np.tile(mix["product_id"].to_numpy(), n_m),
            "target": target,
        }
    )


# ---------------------------------------------------------------- product mix


def reference_shares(tables: Tables, start: str) -> pd.Series:
    """``r_p``: product shares of the 36 months of history before ``start``, else of potential.

    Equal shares when both are zero; one product ``ALL`` with share 1 without a products table.
    """
    products = tables.product_ids
    if tables.history is not None and tables.products is not None:
        hist = before(tables.history, start, 36)
        sales = hist.groupby("product_id")["sales"].sum().reindex(products, fill_value=0.0)
        if sales.sum() > 0:
            return sales / sales.sum()
    active = tables.active_accounts["account_id"]
    potential = potential_by_product(tables).reindex(active).sum().reindex(products, fill_value=0.0)
    if potential.sum() > 0:
        return potential / potential.sum()
    return pd.Series(1.0 / len(products), index=products)


def _products(tables: Tables) -> pd.DataFrame:
    if tables.products is None:
        return pd.DataFrame({"product_id": [DEFAULT_PRODUCT], "category": [""], "margin": [1.0]})
    return tables.products[["product_id", "category", "margin"]].reset_index(drop=True)


def _bands(products: pd.DataFrame, settings: TargetSettings) -> tuple[np.ndarray, np.ndarray]:
    """Per-product [min, max] from ``mix.products`` (``[0, 1]`` when absent)."""
    known = set(products["product_id"])
    for key in settings.mix.products:
        if key not in known:
            raise ScenarioError(
                f"target.mix.products.{key}: unknown product (known: {', '.join(sorted(known))})"
            )
    default = Band()
    bands = [settings.mix.products.get(p, default) for p in products["product_id"]]
    return np.array([b.min for b in bands]), np.array([b.max for b in bands])


def _check_bands(
    products: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, settings: TargetSettings
) -> None:
    """Name the bands that cannot hold together (complete: after this the mix LP is feasible)."""
    cats = settings.mix.categories
    problems, low_sum, high_sum, parts = [], 0.0, 0.0, []
    for cat in sorted(set(products["category"]) | set(cats)):
        inside = (products["category"] == cat).to_numpy()
        band = cats.get(cat, Band())
        key = f"target.mix.categories.{cat}" if cat in cats else f"category {cat!r}"
        c_lo, c_hi = max(band.min, lo[inside].sum()), min(band.max, hi[inside].sum())
        if not inside.any() and band.min > 0:
            problems.append(f"{key}: min {band.min:g} but no product has category {cat}")
        elif c_lo > c_hi + 1e-12:
            problems.append(
                f"{key}: needs at least {c_lo:g} of the target, its products allow {c_hi:g}"
                f" (band [{band.min:g}, {band.max:g}], product bands sum to "
                f"[{lo[inside].sum():g}, {hi[inside].sum():g}])"
            )
        low_sum, high_sum = low_sum + c_lo, high_sum + min(c_hi, 1.0)
        parts.append(f"{cat} [{c_lo:g}, {c_hi:g}]")
    if low_sum > 1 + 1e-9:
        problems.append(
            f"target.mix: the minimum shares sum to {low_sum:g} > 1 ({', '.join(parts)})"
        )
    if high_sum < 1 - 1e-9:
        problems.append(
            f"target.mix: the maximum shares sum to {high_sum:g} < 1 ({', '.join(parts)})"
        )
    if problems:
        raise InfeasibleError(
            "target.mix: the share bands cannot be met together", diagnosis=problems
        )


def _mix(tables: Tables, settings: TargetSettings, solver: SolverSettings | None) -> pd.DataFrame:
    products = _products(tables)
    ref = reference_shares(tables, settings.start).reindex(products["product_id"]).to_numpy(float)
    banded = bool(settings.mix.categories or settings.mix.products)
    if banded and tables.products is None:
        raise ScenarioError("target.mix: share bands need a products table (data.products)")
    lo, hi = _bands(products, settings)
    if banded:
        _check_bands(products, lo, hi, settings)
        shares = _solve_mix(products, lo, hi, ref, settings, solver)
    else:
        shares = ref
    band_min, band_max = effective_bands(products, lo, hi, settings)
    return products.assign(share=shares, band_min=band_min, band_max=band_max)[
        ["product_id", "category", "share", "margin", "band_min", "band_max"]
    ]


def effective_bands(
    products: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, settings: TargetSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Each product's share band with its category's band folded in, both ends.

    ``max = min(product max, category max)``; ``min = max(product min, category min - the most
    the category's other products may take)``: a category of one product passes its minimum on
    whole, a category of several passes what its other products cannot cover.
    """
    cats = products["category"].to_numpy()
    cat_band = [settings.mix.categories.get(c, Band()) for c in cats]
    band_max = np.minimum(hi, np.array([b.max for b in cat_band], float))
    band_min = np.array(lo, float).copy()
    for i, (cat, band) in enumerate(zip(cats, cat_band, strict=True)):
        others = (cats == cat) & (np.arange(len(cats)) != i)
        band_min[i] = max(band_min[i], band.min - float(band_max[others].sum()))
    return np.clip(band_min, 0.0, 1.0), np.clip(band_max, 0.0, 1.0)


def _solve_mix(
    products: pd.DataFrame,
    lo: np.ndarray,
    hi: np.ndarray,
    ref: np.ndarray,
    settings: TargetSettings,
    solver: SolverSettings | None,
) -> np.ndarray:
    """The mix LP of ``models/target.md`` section 3: max margin, then closest to the reference."""
    prob = pulp.LpProblem("mix", pulp.LpMaximize)
    n = len(products)
    x = [pulp.LpVariable(f"x_{i}", lowBound=0) for i in range(n)]
    prob += pulp.lpSum(x) == 1, "mix_total"
    for i in range(n):
        prob += x[i] >= lo[i], f"mix_product_min_{i}"
        prob += x[i] <= hi[i], f"mix_product_max_{i}"
    for j, (cat, band) in enumerate(sorted(settings.mix.categories.items())):
        members = [x[i] for i in range(n) if products["category"].iloc[i] == cat]
        prob += pulp.lpSum(members) >= band.min, f"mix_category_min_{j}"
        prob += pulp.lpSum(members) <= band.max, f"mix_category_max_{j}"
    margin = pulp.lpDot(products["margin"].to_numpy(float).tolist(), x)
    prob += margin
    best = _solve_or_raise(prob, solver).objective or 0.0
    prob += margin >= best - 1e-9, "mix_margin"
    e = [pulp.LpVariable(f"e_{i}", lowBound=0) for i in range(n)]
    for i in range(n):
        prob += e[i] >= x[i] - ref[i], f"mix_ref_hi_{i}"
        prob += e[i] >= ref[i] - x[i], f"mix_ref_lo_{i}"
    prob.sense = pulp.LpMinimize
    prob.setObjective(pulp.lpSum(e))
    prob.name = "mix_reference"  # the log line of stage 2
    _solve_or_raise(prob, solver)
    return np.clip(np.array([v.varValue or 0.0 for v in x]), 0.0, 1.0)


def _solve_or_raise(prob: pulp.LpProblem, solver: SolverSettings | None) -> SolveReport:
    report = solve(prob, solver)
    if not report.is_ok:
        raise SolverError(f"target.mix: the mix LP ended {report.status.value}: {report.message}")
    return report
