"""Quota allocation: the rep x product LP, then accounts, months, weeks, days, tiers and expenses.

The model, with the constraint names used here (``target_total[P1]``, ``fairness_hi[R017,P1]``,
``cap[R017]`` ...), is in ``models/quota.md``. :func:`allocate_quotas` reads as the pipeline:
inputs -> checks -> two-stage LP -> whole units -> phasing -> tiers -> reconciliation -> expenses
-> independent check. The LP itself is :mod:`allocator.quota.model`, the expense LP
:mod:`allocator.quota.expense`.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings

import numpy as np
import pandas as pd
import pulp

from allocator.exceptions import (
    CheckError,
    InfeasibleError,
    InputError,
    ScenarioError,
    SolverError,
    TimeLimitWarning,
)
from allocator.io.organisation import credits
from allocator.io.settings import QuotaSettings, SolverSettings, StaffingSettings
from allocator.io.staffing import Staffing, build_staffing
from allocator.io.tables import Tables, parse_ids, potential_by_product
from allocator.quota.availability import fair_by_month, relief_table
from allocator.quota.check import check_quotas
from allocator.quota.expense import allocate_expenses
from allocator.quota.least_change import quota_least_changes
from allocator.quota.managers import ManagerTargets, fit_fair_to_groups, manager_targets
from allocator.quota.model import QuotaModel, history_table, read_quotas
from allocator.quota.overlay import overlay_quotas
from allocator.quota.phasing import before, phase_quotas, working_days
from allocator.quota.result import QuotaResult, reconciliation_table
from allocator.quota.target import TargetResult
from allocator.quota.tiers import apply_tiers, tier_factors
from allocator.solver import SolveReport, Status, solve

__all__ = ["QuotaResult", "allocate_expenses", "allocate_quotas", "quota_pairs"]

log = logging.getLogger("allocator")


def allocate_quotas(
    tables: Tables,
    owners: pd.Series,
    target: TargetResult,
    settings: QuotaSettings,
    solver: SolverSettings | None = None,
    staffing: StaffingSettings | None = None,
) -> QuotaResult:
    """Allocate the target to reps and spread it over accounts, months, weeks and days.

    Parameters
    ----------
    owners
        account_id -> rep_id: the territory (assignment result or incumbents). Split accounts
        (``account_splits``) are credited to their split reps by share whoever owns them here.
    staffing
        The scenario's ``staffing:`` block (named ramp curves); dates, schedules and leaves in
        the tables make fair quotas and phasing follow each rep's available months
        (``models/organisation.md``).

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
    working_days(target.periods, settings.calendar)  # a month without a working day: the error

    def staffing_of(t: Tables) -> Staffing:
        return build_staffing(t, target.periods, settings.calendar, staffing)

    available = staffing_of(tables)
    owned = _owned_potential(tables, owners, target)
    org = manager_targets(tables, target.by_manager, target.total)
    pairs = quota_pairs(tables, owners, owned, target, settings, available, org)
    totals = target.product_totals()
    _check_bounds(pairs, totals, settings, org)
    model = QuotaModel.build(pairs, totals, settings, org=org)
    _meet_history(model, pairs, totals, settings, solver, org)
    report, duals = _solve_two_stage(model, pairs, totals, settings, solver, org)
    rep_product = read_quotas(model, pairs, totals, org)
    history = history_table(model, pairs, rep_product) if model.history else None
    constraints = model.constraint_frame(duals)
    fair = fair_by_month(pairs, available, target.by_product) if available.dated else None
    quotas, accounts, weeks, days = phase_quotas(
        rep_product, target.by_product, owned, settings.calendar, fair, available.off
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
        reconciliation = reconciliation_table(pairs, rep_product)
    expenses = None
    if settings.expense is not None:
        expenses, rows = allocate_expenses(tables, rep_product, settings.expense, solver)
        constraints = pd.concat([constraints, rows], ignore_index=True)
    fit = None if org is None else lambda p: fit_fair_to_groups(p, org, totals)
    result = QuotaResult(
        rep_product,
        quotas,
        accounts,
        weeks,
        days,
        reconciliation,
        expenses,
        constraints,
        report,
        history=history,
        relief=relief_table(tables, pairs, target.by_product, staffing_of, fit),
        overlays=overlay_quotas(tables, quotas, target.periods, settings.calendar, staffing),
    )
    _warn_relaxed(result)
    check = check_quotas(tables, owners, target, settings, result, staffing)
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
    staffing: Staffing | None = None,
    org: ManagerTargets | None = None,
) -> pd.DataFrame:
    """One row per active rep and product with the data of the LP (symbols of models/quota.md).

    Columns: rep_id, product_id, potential, ramp (the rep's mean availability over the months),
    eligible, fair (summed over the months, ``models/organisation.md``), actual (last year,
    scaled to the horizon), lower, upper (the pair's bounds before caps), commitment (NaN when
    none). ``owned`` is the potential per product of each credited account with its ``rep_id``;
    ``staffing`` defaults to the tables' dates on the target's months; with ``org`` (top-down
    targets) the fair quotas are fitted to the managers' groups (``models/organisation.md``).

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
    staffing = staffing or build_staffing(tables, target.periods, settings.calendar)
    pairs["ramp"] = pairs["rep_id"].map(staffing.mean_share()).astype(float)
    skills = pairs["rep_id"].map(rep["skills"].map(parse_ids))
    skilled = [not s or p in s for s, p in zip(skills, pairs["product_id"], strict=True)]
    pairs["eligible"] = np.array(skilled) & (pairs["potential"] > 0) & (pairs["ramp"] > 0)
    pairs["fair"] = fair_by_month(pairs, staffing, target.by_product).sum(axis=1).to_numpy()
    if org is not None:
        pairs["fair"] = fit_fair_to_groups(pairs, org, target.product_totals())
    pairs["actual"] = _last_year(tables, owners, target).reindex(grid, fill_value=0.0).to_numpy()
    pairs["lower"], pairs["upper"] = _bounds(pairs, settings)
    pairs["commitment"] = _commitments(tables, products).reindex(grid).to_numpy()
    return pairs


def _bounds(pairs: pd.DataFrame, settings: QuotaSettings) -> tuple[pd.Series, pd.Series]:
    """Each pair's hard quota bounds before caps: the fairness band.

    The history floors and ceilings are soft rows (``models/quota.md``): they do not bound.
    """
    band = settings.fairness.band
    lower = (1 - band) * pairs["fair"]
    upper = (1 + band) * pairs["fair"]
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
    """Potential per product credited to each rep, with its ``rep_id`` (index account_id).

    A split account has one row per split rep, its potential times the rep's share.

    Raises
    ------
    ScenarioError
        When the target was set for products the tables do not have.
    """
    credited = credits(tables, owners)
    potential = potential_by_product(tables).reindex(credited["account_id"], fill_value=0.0)
    missing = [p for p in target.mix["product_id"] if p not in potential.columns]
    if missing:
        raise ScenarioError(
            f"quota: the target names products {', '.join(missing)} that the tables do not have "
            f"(products: {', '.join(map(str, potential.columns))})"
        )
    potential = potential.mul(credited["share"].to_numpy(float), axis=0)
    return potential.assign(rep_id=credited["rep_id"].to_numpy())


def _last_year(tables: Tables, owners: pd.Series, target: TargetResult) -> pd.Series:
    """``L_rp``: sales of the rep's accounts in the 12 months before start, x months / 12."""
    if tables.history is None:
        return pd.Series(dtype=float)
    hist = before(tables.history, target.periods[0], 12)
    hist = hist.merge(credits(tables, owners), on="account_id", how="inner")
    sales = hist["sales"] * hist["share"]
    return sales.groupby([hist["rep_id"], hist["product_id"]]).sum() * len(target.periods) / 12


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


def _check_bounds(
    pairs: pd.DataFrame,
    totals: pd.Series,
    settings: QuotaSettings,
    org: ManagerTargets | None = None,
) -> None:
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
            problems.append(
                f"{name} but no active rep skilled in {p} owns potential of it (data: give a rep "
                f"the skill {p} in the reps table, or potential of {p} to a skilled rep)"
            )
        elif low > total + 1e-6:
            problems.append(f"{name} is below the sum of the reps' lower bounds {low:,.0f}")
        elif high < total - 1e-6:
            problems.append(f"{name} is above the sum of the reps' upper bounds {high:,.0f}")
    problems += [
        f"fairness/history[{r.rep_id},{r.product_id}]: `quota.fairness.band` and "
        f"`quota.history` ask for at least {r.lower:,.0f} and at most {r.upper:,.0f} (fair quota "
        f"{r.fair:,.0f}, last year {r.actual:,.0f})"
        for r in el[el["lower"] > el["upper"] + 1e-6].itertuples()
    ]
    if settings.cap_share is not None:
        share = settings.cap_share
        rep = pairs.groupby("rep_id", sort=False)[["lower", "potential"]].sum()
        problems += [
            f"cap[{r}]: the lower bounds sum to {row.lower:,.0f}, above `quota.cap_share` "
            f"{share:g} x potential {row.potential:,.0f} = {share * row.potential:,.0f}"
            for r, row in rep[rep["lower"] > share * rep["potential"] + 1e-6].iterrows()
        ]
    if problems:
        more = [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
        least = quota_least_changes(pairs, totals, settings, org=org)
        raise InfeasibleError(
            "quota: the constraints cannot hold together", diagnosis=problems[:20] + more + least
        )


# ---------------------------------------------------------------- solving the LP

_LE = pulp.LpConstraintLE


def _meet_history(
    model: QuotaModel,
    pairs: pd.DataFrame,
    totals: pd.Series,
    settings: QuotaSettings,
    solver: SolverSettings | None,
    org: ManagerTargets | None = None,
) -> None:
    """Stage 0: the least total shortfall/excess of the soft history rows, then held.

    So the history floors and ceilings hold whenever the band, the caps and the targets allow,
    and give way by the least total amount when they do not (a ramping new hire whose territory
    sold a lot last year).
    """
    if not model.history:
        return
    slack = pulp.lpSum(v for *_, v in model.history.values())
    model.prob.setObjective(slack)
    model.prob.name = "quota_history"  # the log line of stage 0
    report = solve(model.prob, solver)
    if report.status == Status.INFEASIBLE:
        raise _diagnose(pairs, totals, settings, solver, org)
    _require(report, "history stage")
    best = max(report.objective or 0.0, 0.0)
    # held at the optimum plus the solver's round-off (its feasibility tolerance is 1e-7)
    hold = best + 1e-6 * max(1.0, best) + 1e-7 * len(model.history)
    model.prob.addConstraint(pulp.LpConstraint(slack, _LE, "history_hold", hold))
    model.prob.setObjective(model.stage1)
    model.prob.name = "quota"


def _warn_relaxed(result: QuotaResult) -> None:
    """One log line per history bound that had to give way (all are in quota_history.csv)."""
    relaxed = result.history_relaxed
    for row in relaxed.head(10).itertuples():
        gave = row.shortfall if row.bound == "floor" else row.excess
        log.warning(
            "quota: the history %s of %s/%s (%s) gives way by %s: quota %s (the fairness band, "
            "caps and targets allow no more); see quota_history.csv",
            row.bound,
            row.rep_id,
            row.product_id,
            f"{row.limit:,.0f}",
            f"{gave:,}",
            f"{row.quota:,}",
        )
    if len(relaxed) > 10:
        log.warning("quota: ... and %d more history bounds give way", len(relaxed) - 10)


def _solve_two_stage(
    model: QuotaModel,
    pairs: pd.DataFrame,
    totals: pd.Series,
    settings: QuotaSettings,
    solver: SolverSettings | None,
    org: ManagerTargets | None = None,
) -> tuple[SolveReport, dict[str, float]]:
    """Stage 1 min D (+ commitments), stage 2 min sum d holding stage 1; duals of stage 1."""
    first = solve(model.prob, solver)
    if first.status == Status.INFEASIBLE:
        raise _diagnose(pairs, totals, settings, solver, org)
    _require(first, "stage 1")
    best = first.objective or 0.0
    scale = max(1.0, abs(best))
    model.prob.addConstraint(pulp.LpConstraint(model.stage1, _LE, "stage1", best + 1e-9 * scale))
    model.prob.setObjective(pulp.lpSum(model.d.values()))
    model.prob.name = "quota_stage2"  # the log line of stage 2
    second = solve(model.prob, solver)
    if second.status == Status.INFEASIBLE:
        # the hold is tighter than HiGHS's feasibility tolerance (1e-7): presolve may call it
        # infeasible when z1* is about 0 (seen at 500 reps x 20 products); hold at 1e-6
        hold = model.prob.get_constraint_by_name("stage1")
        assert hold is not None
        hold.constant = -(best + 1e-6 * scale)
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
    pairs: pd.DataFrame,
    totals: pd.Series,
    settings: QuotaSettings,
    solver: SolverSettings | None,
    org: ManagerTargets | None = None,
) -> InfeasibleError:
    """Elastic re-solve: which product (and manager) targets the bounds and caps cannot reach."""
    model = QuotaModel.build(pairs, totals, settings, elastic=True, org=org)
    report = solve(model.prob, solver)
    lines = []
    if report.is_ok:
        for label, (over, under) in model.slacks.items():
            key = label[label.index("[") + 1 : -1]
            total = totals[key] if label.startswith("target_") else org.targets[key]  # type: ignore[union-attr]
            short, extra = under.varValue or 0.0, over.varValue or 0.0
            if short > 1e-6:
                lines.append(
                    f"{label}: the bounds and caps allow only {total - short:,.0f} of {total:,}"
                )
            if extra > 1e-6:
                lines.append(
                    f"{label}: the bounds need at least {total + extra:,.0f}, above {total:,}"
                )
    lines += quota_least_changes(pairs, totals, settings, solver, org)
    return InfeasibleError(
        "quota: the caps, bands and product targets cannot hold together", diagnosis=lines
    )
