"""The quota LP: the program of ``models/quota.md`` with its documented constraint names.

:class:`QuotaModel` builds every constraint family of the rep x product LP (target totals,
fairness band, deviations, caps, history bounds, commitments) with variables keyed by the row of
the pairs table; :func:`read_quotas` rounds its solution to whole units. :func:`add_row` and
:func:`constraint_rows` keep PuLP's internal row names apart from the documented ones
(``fairness_hi[R017,P1]``) for this LP and the expense LP (:mod:`allocator.quota.expense`). Solving
it in two stages is :func:`allocator.quota.allocate.allocate_quotas`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pulp

from allocator.io.settings import QuotaSettings
from allocator.quota.managers import ManagerTargets, round_to_groups
from allocator.quota.phasing import round_groups

__all__ = [
    "CONSTRAINT_COLUMNS",
    "HISTORY_COLUMNS",
    "QuotaModel",
    "add_row",
    "constraint_rows",
    "history_table",
    "read_quotas",
]

#: columns of ``QuotaResult.constraints``; ``lp`` says whose objective the dual moves: ``quota``
#: (stage 1: the largest fairness deviation, plus commitments) or ``expense`` (expected margin)
CONSTRAINT_COLUMNS = ["name", "slack", "dual", "binding", "lp"]

_LE, _GE, _EQ = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ


@dataclass
class QuotaModel:
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
    #: soft history rows: documented name -> (pair row, "floor"/"ceiling", bound, slack variable)
    history: dict[str, tuple[int, str, float, pulp.LpVariable]] = dataclasses.field(
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
        org: ManagerTargets | None = None,
    ) -> QuotaModel:
        """Every constraint family; ``elastic`` relaxes ``target_total`` and ``manager_target``
        (diagnosis only); ``org`` adds the top-down targets' ``manager_target[m]`` rows."""
        el = pairs[pairs["eligible"]]
        q = {i: pulp.LpVariable(f"q_{i}", lowBound=0) for i in el.index}
        d = {i: pulp.LpVariable(f"d_{i}", lowBound=0) for i in el.index}
        model = cls(pulp.LpProblem("quota", pulp.LpMinimize), q, d, pulp.LpVariable("D", 0))
        keys = [f"{r},{p}" for r, p in zip(el["rep_id"], el["product_id"], strict=True)]
        model._target_total(pairs, totals, elastic=elastic)
        if org is not None:
            model._manager_targets(pairs, org, elastic=elastic)
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
        add_row(self.prob, self.labels, label, terms, sense, rhs)

    def _target_total(self, pairs: pd.DataFrame, totals: pd.Series, *, elastic: bool) -> None:
        """(1) ``target_total[p]``: the reps' quotas of p sum to its target."""
        members = pairs.index.to_series().groupby(pairs["product_id"]).agg(list)
        for p, total in totals.items():
            terms = [(self.q[i], 1.0) for i in members.get(p, []) if i in self.q]
            self._elastic_row(f"target_total[{p}]", terms, total, elastic=elastic)

    def _manager_targets(self, pairs: pd.DataFrame, org: ManagerTargets, *, elastic: bool) -> None:
        """(1b) ``manager_target[m]``: the quotas of the reps below manager m (any depth, every
        product) sum to m's top-down target (``models/organisation.md``)."""
        for m, total in org.targets.items():
            below = pairs["rep_id"].isin(set(org.members[m])).to_numpy()
            terms = [(self.q[i], 1.0) for i in pairs.index[below] if i in self.q]
            self._elastic_row(f"manager_target[{m}]", terms, total, elastic=elastic)

    def _elastic_row(
        self, label: str, terms: list[tuple[pulp.LpVariable, float]], total: float, *, elastic: bool
    ) -> None:
        """``terms == total``; elastic: with over/under slacks priced in stage 1 (diagnosis)."""
        if elastic:
            over = pulp.LpVariable(f"s_hi_{len(self.slacks)}", 0)
            under = pulp.LpVariable(f"s_lo_{len(self.slacks)}", 0)
            terms = [*terms, (over, -1.0), (under, 1.0)]
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
        """(7) soft ``hist_floor/hist_ceiling[r,p]`` around last year's actual (pairs that sold).

        Each row has its own slack (shortfall below the floor, excess above the ceiling); the
        first stage minimises their sum, so they hold whenever the other rows allow.
        """
        low, high = settings.history.min_growth, settings.history.max_growth
        for i, key, actual in zip(el.index, keys, el["actual"], strict=True):
            if actual <= 0:
                continue
            if low is not None:
                bound = (1 + low) * actual
                s = pulp.LpVariable(f"h_lo_{i}", lowBound=0)
                self._row(f"hist_floor[{key}]", [(self.q[i], 1.0), (s, 1.0)], _GE, bound)
                self.history[f"hist_floor[{key}]"] = (i, "floor", bound, s)
            if high is not None:
                bound = (1 + high) * actual
                s = pulp.LpVariable(f"h_hi_{i}", lowBound=0)
                self._row(f"hist_ceiling[{key}]", [(self.q[i], 1.0), (s, -1.0)], _LE, bound)
                self.history[f"hist_ceiling[{key}]"] = (i, "ceiling", bound, s)

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
        return constraint_rows(self.prob, self.labels, duals, "quota")


def read_quotas(
    model: QuotaModel, pairs: pd.DataFrame, totals: pd.Series, org: ManagerTargets | None = None
) -> pd.DataFrame:
    """The LP quotas rounded per product to whole units summing to the target exactly (and,
    with top-down targets ``org``, to every manager's target exactly)."""
    values = np.zeros(len(pairs))
    for i, var in model.q.items():
        values[i] = max(var.varValue or 0.0, 0.0)
    if org is not None:
        quota = round_to_groups(values, pairs, org, totals)
    else:
        codes = pd.Categorical(pairs["product_id"], categories=list(totals.index)).codes
        quota = round_groups(values, codes, totals.to_numpy(float))
    out = pairs[["rep_id", "product_id", "potential", "ramp", "fair"]].copy()
    out["quota_lp"] = values
    out["quota"] = quota
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(out["potential"] > 0, quota / out["potential"], np.nan)
        out["deviation"] = np.where(out["fair"] > 0, (quota - out["fair"]) / out["fair"], np.nan)
    return out


HISTORY_COLUMNS = [
    "rep_id",
    "product_id",
    "bound",
    "last_year",
    "limit",
    "quota",
    "shortfall",
    "excess",
    "binds",
]


def history_table(
    model: QuotaModel, pairs: pd.DataFrame, rep_product: pd.DataFrame
) -> pd.DataFrame:
    """``quota_history.csv``: every soft history row with the quota and how far it gave way.

    ``shortfall`` (below a floor) and ``excess`` (above a ceiling) are the LP slacks in whole
    units; ``binds`` is true when the quota sits on the bound or had to give way.
    """
    rows = []
    for i, kind, bound, slack in model.history.values():
        gave = round(max(slack.varValue or 0.0, 0.0))
        quota = int(rep_product.at[i, "quota"])
        rows.append(
            (
                pairs.at[i, "rep_id"],
                pairs.at[i, "product_id"],
                kind,
                float(pairs.at[i, "actual"]),
                bound,
                quota,
                gave if kind == "floor" else 0,
                gave if kind == "ceiling" else 0,
                gave > 0 or abs(quota - bound) <= 1.0,
            )
        )
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


# ---------------------------------------------------------------- shared helpers


def add_row(
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


def constraint_rows(
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
