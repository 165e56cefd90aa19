"""Quota allocation: the rep x product LP, then accounts, months, weeks, days, tiers and expenses.

The model, with the constraint names used here (``target_total[P1]``, ``fairness_hi[R017,P1]``,
``cap[R017]`` ...), is in ``models/quota.md``. :func:`allocate_quotas` reads as the pipeline:
inputs -> checks -> two-stage LP -> whole units -> phasing -> tiers -> reconciliation -> expenses
-> independent check.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pulp

from allocator.checks.quota import check_quotas
from allocator.exceptions import (
    CheckError,
    InfeasibleError,
    InputError,
    ScenarioError,
    SolverError,
    TimeLimitWarning,
)
from allocator.phasing import before, phase_quotas, round_groups, round_to_total
from allocator.settings import ExpenseSettings, QuotaSettings, SolverSettings
from allocator.solve import SolveReport, Status, solve
from allocator.tables import Tables, parse_ids, potential_by_product
from allocator.target import TargetResult
from allocator.tiers import apply_tiers, tier_factors

__all__ = ["QuotaResult", "allocate_expenses", "allocate_quotas", "quota_pairs"]

log = logging.getLogger("allocator")

#: columns of ``QuotaResult.constraints``; ``lp`` says whose objective the dual moves: ``quota``
#: (stage 1: the largest fairness deviation, plus commitments) or ``expense`` (expected margin)
CONSTRAINT_COLUMNS = ["name", "slack", "dual", "binding", "lp"]

#: breakpoints of the expense response, in multiples of the reference expense (models/quota.md)
EXPENSE_BREAKPOINTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)


@dataclass(frozen=True)
class QuotaResult:
    """Quotas at every level, with the LP's constraints (slack, dual, binding) and solve report.

    ``rep_product`` is the LP result in whole units; ``quotas`` (-> quotas.csv) adds the months
    and the tiers; ``accounts``, ``weeks`` and ``days`` are the finer phasing. Every table sums
    exactly to the one above it (``models/quota.md``, "Rounding").
    """

    rep_product: pd.DataFrame
    quotas: pd.DataFrame
    accounts: pd.DataFrame
    weeks: pd.DataFrame
    days: pd.DataFrame
    reconciliation: pd.DataFrame | None
    expenses: pd.DataFrame | None
    constraints: pd.DataFrame
    report: SolveReport

    @property
    def largest_deviation(self) -> float:
        """Largest relative deviation of a rep's quota from their fair quota (after rounding)."""
        dev = self.rep_product["deviation"].abs()
        return float(dev.max()) if dev.notna().any() else 0.0

    def summary(self) -> str:
        rp = self.rep_product
        lines = [
            f"quota: {self.report.summary()}",
            f"  {rp['rep_id'].nunique()} reps x {rp['product_id'].nunique()} products, "
            f"total {rp['quota'].sum():,}, largest fairness deviation {self.largest_deviation:.2%}",
        ]
        rows = self.constraints
        auxiliary = rows["name"].str.match(r"(dev_|max_dev)")  # the deviation bookkeeping
        binding = rows[rows["binding"] & (rows["dual"] != 0) & ~auxiliary]
        top = binding.reindex(binding["dual"].abs().sort_values(ascending=False).index).head(5)
        lines += [
            f"  binds: {n} (dual {d:+.4g})" for n, d in zip(top["name"], top["dual"], strict=True)
        ]
        return "\n".join(lines)


def allocate_quotas(
    tables: Tables,
    owners: pd.Series,
    target: TargetResult,
    settings: QuotaSettings,
    solver: SolverSettings | None = None,
) -> QuotaResult:
    """Allocate the target to reps and spread it over accounts, months, weeks and days.

    Parameters
    ----------
    owners
        account_id -> rep_id: the territory (assignment result or incumbents).

    Raises
    ------
    InputError
        ``owners`` names an unknown account or a rep that is not active; a commitment names an
        unknown rep or product.
    ScenarioError
        A month without a working day; an expense ceiling for an unknown region.
    InfeasibleError
        The band, caps, history bounds and totals cannot hold together (with a diagnosis).
    CheckError
        The independent checker found a violation (a bug: please report it).
    """
    _check_owners(tables, owners)
    owned = _owned_potential(tables, owners, target)
    pairs = quota_pairs(tables, owners, owned, target, settings)
    totals = target.product_totals()
    _check_bounds(pairs, totals, settings)
    model = _QuotaModel.build(pairs, totals, settings)
    report, duals = _solve_two_stage(model, pairs, totals, settings, solver)
    rep_product = _read_quotas(model, pairs, totals)
    constraints = model.constraint_frame(duals)
    quotas, accounts, weeks, days = phase_quotas(
        rep_product, target.by_product, owned, settings.calendar
    )
    factors = tier_factors(
        tables,
        owners,
        rep_product,
        settings.tiers,
        start=target.periods[0],
        months=len(target.periods),
    )
    quotas = apply_tiers(quotas, factors)
    reconciliation = None
    if pairs["commitment"].notna().any():
        reconciliation = _reconciliation(pairs, rep_product)
    expenses = None
    if settings.expense is not None:
        expenses, rows = allocate_expenses(tables, rep_product, settings.expense, solver)
        constraints = pd.concat([constraints, rows], ignore_index=True)
    result = QuotaResult(
        rep_product, quotas, accounts, weeks, days, reconciliation, expenses, constraints, report
    )
    check = check_quotas(tables, owners, target, settings, result)
    if not check.ok:
        raise CheckError("quota check failed:\n  - " + "\n  - ".join(check.violations))
    log.info(
        "quota: total %s, largest deviation %.2f%%",
        f"{rep_product['quota'].sum():,}",
        100 * result.largest_deviation,
    )
    return result


# ---------------------------------------------------------------- inputs


def quota_pairs(
    tables: Tables,
    owners: pd.Series,
    owned: pd.DataFrame,
    target: TargetResult,
    settings: QuotaSettings,
) -> pd.DataFrame:
    """One row per active rep and product with the data of the LP (symbols of models/quota.md).

    Columns: rep_id, product_id, potential, ramp, eligible, fair, actual (last year, scaled to
    the horizon), lower, upper (the pair's bounds before caps), commitment (NaN when none).
    ``owned`` is the potential per product of each owned account with its ``rep_id``.

    Raises
    ------
    InputError
        A commitment names an unknown rep or product.
    """
    reps = tables.active_reps
    products = list(target.mix["product_id"])
    potential = owned.groupby("rep_id")[products].sum()
    grid = pd.MultiIndex.from_product([reps["rep_id"], products], names=["rep_id", "product_id"])
    stacked = pd.Series(potential.stack(), name="potential")
    pairs = stacked.reindex(grid, fill_value=0.0).reset_index()
    rep = reps.set_index("rep_id")
    pairs["ramp"] = pairs["rep_id"].map(rep["ramp"]).astype(float)
    skills = pairs["rep_id"].map(rep["skills"].map(parse_ids))
    skilled = [not s or p in s for s, p in zip(skills, pairs["product_id"], strict=True)]
    pairs["eligible"] = np.array(skilled) & (pairs["potential"] > 0) & (pairs["ramp"] > 0)
    weight = pairs["ramp"] * pairs["potential"] * pairs["eligible"]
    mass = weight.groupby(pairs["product_id"]).transform("sum")
    share = (weight / mass.where(mass > 0, 1.0)).to_numpy()
    pairs["fair"] = share * pairs["product_id"].map(target.product_totals()).to_numpy(float)
    pairs["actual"] = _last_year(tables, owners, target).reindex(grid, fill_value=0.0).to_numpy()
    pairs["lower"], pairs["upper"] = _bounds(pairs, settings)
    pairs["commitment"] = _commitments(tables, products).reindex(grid).to_numpy()
    return pairs


def _bounds(pairs: pd.DataFrame, settings: QuotaSettings) -> tuple[pd.Series, pd.Series]:
    """Each pair's quota bounds before caps: the band, tightened by the history bounds."""
    band, hist = settings.fairness.band, settings.history
    lower = (1 - band) * pairs["fair"]
    upper = (1 + band) * pairs["fair"]
    if hist.min_growth is not None:
        lower = lower.clip(lower=(1 + hist.min_growth) * pairs["actual"])
    if hist.max_growth is not None:  # a pair that sold nothing last year has no ceiling
        ceiling = (1 + hist.max_growth) * pairs["actual"]
        upper = upper.clip(upper=ceiling.where(pairs["actual"] > 0, np.inf))
    return lower.where(pairs["eligible"], 0.0), upper.where(pairs["eligible"], 0.0)


def _check_owners(tables: Tables, owners: pd.Series) -> None:
    known, reps = set(tables.accounts["account_id"]), set(tables.active_reps["rep_id"])
    problems = [
        f"owners: account {a} is not in the accounts table" for a in owners.index if a not in known
    ]
    problems += [
        f"owners: account {a} is given twice" for a in owners.index[owners.index.duplicated()]
    ]
    problems += [
        f"owners: account {a} belongs to rep {r!r}, which is not an active rep"
        if isinstance(r, str) and r
        else f"owners: account {a} has no rep"
        for a, r in owners.items()
        if r not in reps
    ]
    if problems:
        raise InputError(problems[:20], total=len(problems))


def _owned_potential(tables: Tables, owners: pd.Series, target: TargetResult) -> pd.DataFrame:
    """Potential per product of each owned account, with its ``rep_id`` (index account_id).

    Raises
    ------
    ScenarioError
        When the target was set for products the tables do not have.
    """
    potential = potential_by_product(tables).reindex(owners.index, fill_value=0.0)
    missing = [p for p in target.mix["product_id"] if p not in potential.columns]
    if missing:
        raise ScenarioError(
            f"quota: the target names products {', '.join(missing)} that the tables do not have "
            f"(products: {', '.join(map(str, potential.columns))})"
        )
    return potential.assign(rep_id=owners.to_numpy())


def _last_year(tables: Tables, owners: pd.Series, target: TargetResult) -> pd.Series:
    """``L_rp``: sales of the rep's accounts in the 12 months before start, x months / 12."""
    if tables.history is None:
        return pd.Series(dtype=float)
    hist = before(tables.history, target.periods[0], 12)
    hist = hist.assign(rep_id=hist["account_id"].map(owners)).dropna(subset=["rep_id"])
    return hist.groupby(["rep_id", "product_id"])["sales"].sum() * len(target.periods) / 12


def _commitments(tables: Tables, products: list[str]) -> pd.Series:
    """Commitment per (rep, product), summed over duplicate rows; checked against the tables."""
    com = tables.commitments
    if com is None or com.empty:
        return pd.Series(dtype=float)
    reps, known = set(tables.active_reps["rep_id"]), set(products)
    where = tables.sources.get("commitments", "commitments")
    problems = [
        f"{where}: row {i + 1}: rep_id {r!r} is not an active rep"
        for i, r in enumerate(com["rep_id"])
        if r not in reps
    ]
    problems += [
        f"{where}: row {i + 1}: product_id {p!r} is not a product"
        for i, p in enumerate(com["product_id"])
        if p not in known
    ]
    if problems:
        raise InputError(problems[:20], total=len(problems))
    return com.groupby(["rep_id", "product_id"])["amount"].sum().astype(float)


def _check_bounds(pairs: pd.DataFrame, totals: pd.Series, settings: QuotaSettings) -> None:
    """Separable infeasibilities, named with their numbers (models/quota.md "Checks")."""
    el = pairs[pairs["eligible"]]
    sums = el.groupby("product_id")[["lower", "upper"]].sum().reindex(totals.index, fill_value=0.0)
    count = el.groupby("product_id").size().reindex(totals.index, fill_value=0)
    problems = []
    for p, total, n, low, high in zip(
        totals.index, totals, count, sums["lower"], sums["upper"], strict=True
    ):
        name = f"target_total[{p}]: target {total:,}"
        if total > 0 and n == 0:
            problems.append(f"{name} but no active rep skilled in {p} owns potential of it")
        elif low > total + 1e-6:
            problems.append(f"{name} is below the sum of the reps' lower bounds {low:,.0f}")
        elif high < total - 1e-6:
            problems.append(f"{name} is above the sum of the reps' upper bounds {high:,.0f}")
    problems += [
        f"fairness/history[{r.rep_id},{r.product_id}]: needs at least {r.lower:,.0f} (fair quota "
        f"{r.fair:,.0f}, last year {r.actual:,.0f}) but may have at most {r.upper:,.0f}"
        for r in el[el["lower"] > el["upper"] + 1e-6].itertuples()
    ]
    if settings.cap_share is not None:
        share = settings.cap_share
        rep = pairs.groupby("rep_id", sort=False)[["lower", "potential"]].sum()
        problems += [
            f"cap[{r}]: the lower bounds sum to {row.lower:,.0f}, above cap_share {share:g} x "
            f"potential {row.potential:,.0f} = {share * row.potential:,.0f}"
            for r, row in rep[rep["lower"] > share * rep["potential"] + 1e-6].iterrows()
        ]
    if problems:
        more = [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
        raise InfeasibleError(
            "quota: the constraints cannot hold together", diagnosis=problems[:20] + more
        )


# ---------------------------------------------------------------- the LP

_LE, _GE, _EQ = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ


@dataclass
class _QuotaModel:
    """The program of models/quota.md, variables keyed by the row of ``pairs``.

    PuLP row names are internal (``c17``); ``labels`` maps them to the documented names
    (``fairness_hi[R017,P1]``), so ids with any character are safe.
    """

    prob: pulp.LpProblem
    q: dict[int, pulp.LpVariable]
    d: dict[int, pulp.LpVariable]
    top: pulp.LpVariable
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    stage1: pulp.LpAffineExpression = dataclasses.field(default_factory=pulp.LpAffineExpression)
    slacks: dict[str, tuple[pulp.LpVariable, pulp.LpVariable]] = dataclasses.field(
        default_factory=dict
    )

    @classmethod
    def build(
        cls,
        pairs: pd.DataFrame,
        totals: pd.Series,
        settings: QuotaSettings,
        *,
        elastic: bool = False,
    ) -> _QuotaModel:
        """Every constraint family; ``elastic`` relaxes ``target_total`` (diagnosis only)."""
        el = pairs[pairs["eligible"]]
        q = {i: pulp.LpVariable(f"q_{i}", lowBound=0) for i in el.index}
        d = {i: pulp.LpVariable(f"d_{i}", lowBound=0) for i in el.index}
        model = cls(pulp.LpProblem("quota", pulp.LpMinimize), q, d, pulp.LpVariable("D", 0))
        keys = [f"{r},{p}" for r, p in zip(el["rep_id"], el["product_id"], strict=True)]
        model._target_total(pairs, totals, elastic=elastic)
        model._fairness(el, keys, settings.fairness.band)
        model._deviation(el, keys)
        if settings.cap_share is not None:
            model._caps(pairs, settings.cap_share)
        model._history(el, keys, settings)
        if not elastic:
            model.stage1 += model.top
            model._commitments(el, keys, settings.commitment_weight)
        model.prob.setObjective(model.stage1)
        return model

    def _row(
        self, label: str, terms: list[tuple[pulp.LpVariable, float]], sense: int, rhs: float
    ) -> None:
        _add_row(self.prob, self.labels, label, terms, sense, rhs)

    def _target_total(self, pairs: pd.DataFrame, totals: pd.Series, *, elastic: bool) -> None:
        """(1) ``target_total[p]``: the reps' quotas of p sum to its target."""
        members = pairs.index.to_series().groupby(pairs["product_id"]).agg(list)
        for p, total in totals.items():
            terms = [(self.q[i], 1.0) for i in members.get(p, []) if i in self.q]
            label = f"target_total[{p}]"
            if elastic:
                over, under = (
                    pulp.LpVariable(f"s_hi_{len(self.slacks)}", 0),
                    pulp.LpVariable(f"s_lo_{len(self.slacks)}", 0),
                )
                terms += [(over, -1.0), (under, 1.0)]
                self.slacks[label] = (over, under)
                self.stage1 += (over + under) * (1.0 / max(float(total), 1.0))
            self._row(label, terms, _EQ, total)

    def _fairness(self, el: pd.DataFrame, keys: list[str], band: float) -> None:
        """(2) ``fairness_lo/hi[r,p]``: the quota within +-band of the fair quota."""
        for i, key, fair in zip(el.index, keys, el["fair"], strict=True):
            self._row(f"fairness_lo[{key}]", [(self.q[i], 1.0)], _GE, (1 - band) * fair)
            self._row(f"fairness_hi[{key}]", [(self.q[i], 1.0)], _LE, (1 + band) * fair)

    def _deviation(self, el: pd.DataFrame, keys: list[str]) -> None:
        """(3) ``dev_hi/dev_lo[r,p]``: d >= |q - f| / f; ``max_dev[r,p]``: d <= D."""
        for i, key, fair in zip(el.index, keys, el["fair"], strict=True):
            q, d = self.q[i], self.d[i]
            self._row(f"dev_hi[{key}]", [(q, 1.0), (d, -fair)], _LE, fair)
            self._row(f"dev_lo[{key}]", [(q, 1.0), (d, fair)], _GE, fair)
            self._row(f"max_dev[{key}]", [(d, 1.0), (self.top, -1.0)], _LE, 0.0)

    def _caps(self, pairs: pd.DataFrame, cap_share: float) -> None:
        """(4) ``cap[r]``: the rep's quotas at most cap_share x their territory's potential."""
        for r, group in pairs.groupby("rep_id", sort=False):
            terms = [(self.q[i], 1.0) for i in group.index if i in self.q]
            if terms:
                self._row(f"cap[{r}]", terms, _LE, cap_share * group["potential"].sum())

    def _history(self, el: pd.DataFrame, keys: list[str], settings: QuotaSettings) -> None:
        """(7) ``hist_floor/hist_ceiling[r,p]`` around last year's actual (pairs that sold)."""
        low, high = settings.history.min_growth, settings.history.max_growth
        for i, key, actual in zip(el.index, keys, el["actual"], strict=True):
            if actual <= 0:
                continue
            if low is not None:
                self._row(f"hist_floor[{key}]", [(self.q[i], 1.0)], _GE, (1 + low) * actual)
            if high is not None:
                self._row(f"hist_ceiling[{key}]", [(self.q[i], 1.0)], _LE, (1 + high) * actual)

    def _commitments(self, el: pd.DataFrame, keys: list[str], weight: float) -> None:
        """(8) ``commit_hi/lo[r,p]``: u >= |q - c|; stage 1 adds weight x u / f."""
        given = el["commitment"].notna()
        for i, key, fair, c in zip(
            el.index[given],
            np.array(keys)[given.to_numpy()],
            el["fair"][given],
            el["commitment"][given],
            strict=True,
        ):
            u = pulp.LpVariable(f"u_{i}", lowBound=0)
            self._row(f"commit_hi[{key}]", [(self.q[i], 1.0), (u, -1.0)], _LE, c)
            self._row(f"commit_lo[{key}]", [(self.q[i], 1.0), (u, 1.0)], _GE, c)
            self.stage1 += u * (weight / max(fair, 1.0))

    def constraint_frame(self, duals: Mapping[str, float]) -> pd.DataFrame:
        """The documented rows (not ``stage1``) with slack, stage-1 dual and binding."""
        return _constraint_rows(self.prob, self.labels, duals, "quota")


def _solve_two_stage(
    model: _QuotaModel,
    pairs: pd.DataFrame,
    totals: pd.Series,
    settings: QuotaSettings,
    solver: SolverSettings | None,
) -> tuple[SolveReport, dict[str, float]]:
    """Stage 1 min D (+ commitments), stage 2 min sum d holding stage 1; duals of stage 1."""
    first = solve(model.prob, solver)
    if first.status == Status.INFEASIBLE:
        raise _diagnose(pairs, totals, settings, solver)
    _require(first, "stage 1")
    best = first.objective or 0.0
    bound = best + 1e-9 * max(1.0, abs(best))
    model.prob.addConstraint(pulp.LpConstraint(model.stage1, _LE, "stage1", bound))
    model.prob.setObjective(pulp.lpSum(model.d.values()))
    model.prob.name = "quota_stage2"  # the log line of stage 2
    second = solve(model.prob, solver)
    _require(second, "stage 2")
    report = dataclasses.replace(first, seconds=first.seconds + second.seconds)
    return report, dict(first.duals)


def _require(report: SolveReport, stage: str) -> None:
    if not report.is_ok:
        raise SolverError(f"quota LP ({stage}) ended {report.status.value}: {report.message}")
    if report.status == Status.TIME_LIMIT:
        warnings.warn(
            f"quota LP ({stage}) stopped at the time limit", TimeLimitWarning, stacklevel=3
        )


def _diagnose(
    pairs: pd.DataFrame, totals: pd.Series, settings: QuotaSettings, solver: SolverSettings | None
) -> InfeasibleError:
    """Elastic re-solve: which product targets the bounds and caps cannot reach, by how much."""
    model = _QuotaModel.build(pairs, totals, settings, elastic=True)
    report = solve(model.prob, solver)
    lines = []
    if report.is_ok:
        for label, (over, under) in model.slacks.items():
            total = totals[label[len("target_total[") : -1]]
            short, extra = under.varValue or 0.0, over.varValue or 0.0
            if short > 1e-6:
                lines.append(
                    f"{label}: the bounds and caps allow only {total - short:,.0f} of {total:,}"
                )
            if extra > 1e-6:
                lines.append(
                    f"{label}: the bounds need at least {total + extra:,.0f}, above {total:,}"
                )
    return InfeasibleError(
        "quota: the caps, bands and product targets cannot hold together", diagnosis=lines
    )


def _read_quotas(model: _QuotaModel, pairs: pd.DataFrame, totals: pd.Series) -> pd.DataFrame:
    """The LP quotas rounded per product to whole units summing to the target exactly."""
    values = np.zeros(len(pairs))
    for i, var in model.q.items():
        values[i] = max(var.varValue or 0.0, 0.0)
    codes = pd.Categorical(pairs["product_id"], categories=list(totals.index)).codes
    quota = round_groups(values, codes, totals.to_numpy(float))
    out = pairs[["rep_id", "product_id", "potential", "ramp", "fair"]].copy()
    out["quota_lp"] = values
    out["quota"] = quota
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(out["potential"] > 0, quota / out["potential"], np.nan)
        out["deviation"] = np.where(out["fair"] > 0, (quota - out["fair"]) / out["fair"], np.nan)
    return out


# ---------------------------------------------------------------- reconciliation and expenses


def _reconciliation(pairs: pd.DataFrame, rep_product: pd.DataFrame) -> pd.DataFrame:
    """rep_id, product_id, commitment, quota, gap (= quota - commitment) for every commitment."""
    given = pairs["commitment"].notna()
    out = rep_product.loc[given, ["rep_id", "product_id"]].copy()
    out["commitment"] = pairs.loc[given, "commitment"]
    out["quota"] = rep_product.loc[given, "quota"]
    out["gap"] = out["quota"] - out["commitment"]
    return out.reset_index(drop=True)


def allocate_expenses(
    tables: Tables,
    rep_product: pd.DataFrame,
    settings: ExpenseSettings,
    solver: SolverSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spread the expense budget over reps to maximise expected margin (models/quota.md).

    Returns
    -------
    tuple of pandas.DataFrame
        The expenses (rep_id, region_id, quota, margin, reference, ceiling, expense, ratio,
        expected_sales, expected_margin) and the LP's constraint rows (``CONSTRAINT_COLUMNS``).

    Raises
    ------
    ScenarioError
        ``region_max_ratio`` names an unknown region.
    """
    reps = _expense_reps(tables, rep_product, settings)
    live = reps[reps["quota"] > 0]
    total_quota = live["quota"].sum()
    if settings.budget <= 0 or total_quota <= 0:
        reps["expense"] = 0.0
        return _expense_frame(reps, settings), pd.DataFrame(columns=CONSTRAINT_COLUMNS)
    reps["reference"] = settings.budget * reps["quota"] / total_quota
    labels: dict[str, str] = {}
    prob, spend = _expense_lp(live.assign(reference=reps["reference"]), settings, labels)
    report = solve(prob, solver)
    if not report.is_ok:
        raise SolverError(f"expense LP ended {report.status.value}: {report.message}")
    raw = np.array([sum(x.varValue or 0.0 for x in spend.get(r, [])) for r in reps["rep_id"]])
    total = min(np.floor(settings.budget), np.rint(raw.sum()))
    reps["expense"] = round_to_total(np.maximum(raw, 0.0), total).astype(float)
    rows = _constraint_rows(prob, labels, report.duals, "expense")
    return _expense_frame(reps, settings), rows


def _expense_reps(
    tables: Tables, rep_product: pd.DataFrame, settings: ExpenseSettings
) -> pd.DataFrame:
    """Per active rep: region, quota, quota-weighted margin and expense ceiling."""
    reps = tables.active_reps[["rep_id", "region_id"]].reset_index(drop=True)
    known = set(reps["region_id"])
    if tables.regions is not None:
        known |= set(tables.regions["region_id"])
    for key in settings.region_max_ratio:
        if key not in known:
            raise ScenarioError(f"quota.expense.region_max_ratio.{key}: unknown region")
    margin = pd.Series(1.0, index=rep_product["product_id"].unique())
    if tables.products is not None:
        margin = tables.products.set_index("product_id")["margin"].astype(float)
    value = rep_product["quota"] * rep_product["product_id"].map(margin).fillna(0.0)
    quota = rep_product.groupby("rep_id")["quota"].sum()
    reps["quota"] = reps["rep_id"].map(quota).fillna(0).astype("int64")
    weighted = reps["rep_id"].map(value.groupby(rep_product["rep_id"]).sum()).fillna(0.0)
    reps["margin"] = np.where(
        reps["quota"] > 0, weighted / reps["quota"].where(reps["quota"] > 0, 1), 0.0
    )
    ratio = reps["region_id"].map(lambda g: settings.region_max_ratio.get(g, settings.max_ratio))
    reps["ceiling"] = ratio.astype(float) * reps["quota"]
    reps["reference"] = 0.0
    return reps


def _expense_lp(
    live: pd.DataFrame, settings: ExpenseSettings, labels: dict[str, str]
) -> tuple[pulp.LpProblem, dict[str, list[pulp.LpVariable]]]:
    """Chords of the concave response between the breakpoints; one variable per segment."""
    grid = list(EXPENSE_BREAKPOINTS)
    reach = float((live["ceiling"] / live["reference"]).max())
    if reach > grid[-1]:
        grid.append(reach)
    t = np.array(grid)
    gain = np.diff(t**settings.elasticity)
    prob = pulp.LpProblem("expense", pulp.LpMaximize)
    spend: dict[str, list[pulp.LpVariable]] = {}
    objective = []
    columns = ["rep_id", "reference", "margin", "quota", "ceiling"]
    for j, (rep, reference, margin, quota, ceiling) in enumerate(live[columns].to_numpy()):
        lengths = float(reference) * np.diff(t)
        xs = [pulp.LpVariable(f"x_{j}_{k}", 0, float(length)) for k, length in enumerate(lengths)]
        slopes = float(margin) * float(quota) * gain / lengths
        objective += list(zip(xs, slopes.tolist(), strict=True))
        spend[str(rep)] = xs
        terms = [(x, 1.0) for x in xs]
        _add_row(prob, labels, f"expense_ratio[{rep}]", terms, _LE, float(ceiling))
    everything = [(x, 1.0) for xs in spend.values() for x in xs]
    _add_row(prob, labels, "expense_budget", everything, _LE, settings.budget)
    prob.setObjective(pulp.LpAffineExpression(objective))
    return prob, spend


def _expense_frame(reps: pd.DataFrame, settings: ExpenseSettings) -> pd.DataFrame:
    out = reps.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(out["quota"] > 0, out["expense"] / out["quota"], 0.0)
        level = np.where(out["reference"] > 0, out["expense"] / out["reference"], 0.0)
    out["expected_sales"] = out["quota"] * level**settings.elasticity
    out["expected_margin"] = out["margin"] * out["expected_sales"]
    columns = ["rep_id", "region_id", "quota", "margin", "reference", "ceiling", "expense", "ratio"]
    return out[[*columns, "expected_sales", "expected_margin"]]


# ---------------------------------------------------------------- shared helpers


def _add_row(
    prob: pulp.LpProblem,
    labels: dict[str, str],
    label: str,
    terms: list[tuple[pulp.LpVariable, float]],
    sense: int,
    rhs: float,
) -> None:
    """Add ``terms sense rhs`` under an internal name; ``labels`` keeps the documented name."""
    name = f"c{len(labels)}"
    prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, name, float(rhs)))
    labels[name] = label


def _constraint_rows(
    prob: pulp.LpProblem, labels: dict[str, str], duals: Mapping[str, float], lp: str
) -> pd.DataFrame:
    """name, slack (>= 0 on the feasible side), dual, binding, lp of every labelled row."""
    rows = []
    for name, c in prob.constraints.items():
        if name not in labels:
            continue
        gap = c.value()  # lhs - rhs
        slack = -gap if c.sense == _LE else gap if c.sense == _GE else abs(gap)
        binding = abs(slack) <= 1e-6 * max(1.0, abs(c.constant))
        rows.append((labels[name], slack + 0.0, float(duals.get(name, 0.0)) + 0.0, binding, lp))
    return pd.DataFrame(rows, columns=CONSTRAINT_COLUMNS)
