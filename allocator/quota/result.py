"""The answer of the quota stage: quotas at every level, the LP's constraints and its solve
report."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from allocator.solver import SolveReport

__all__ = ["QuotaResult", "reconciliation_table"]


@dataclass(frozen=True)
class QuotaResult:
    """Quotas at every level, with the LP's constraints (slack, dual, binding) and solve report.

    ``rep_product`` is the LP result in whole units; ``quotas`` (-> quotas.csv) adds the months
    and the tiers; ``accounts``, ``weeks`` and ``days`` are the finer phasing. Every table sums
    exactly to the one above it (``models/quota.md``, "Rounding"). ``relief`` (-> relief.csv)
    says how much fair quota each leave moved; ``overlays`` (-> overlay_quotas.csv) is the quota
    of overlay reps over the reps they cover (``models/organisation.md``).
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
    relief: pd.DataFrame | None = None
    overlays: pd.DataFrame | None = None
    #: the soft history floors and ceilings (``quota_history.csv``); None without quota.history
    history: pd.DataFrame | None = None

    @property
    def history_relaxed(self) -> pd.DataFrame:
        """The history rows that had to give way (shortfall or excess above zero)."""
        if self.history is None:
            return pd.DataFrame()
        h = self.history
        return h[(h["shortfall"] > 0) | (h["excess"] > 0)]

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


def reconciliation_table(pairs: pd.DataFrame, rep_product: pd.DataFrame) -> pd.DataFrame:
    """rep_id, product_id, commitment, quota, gap (= quota - commitment) for every commitment."""
    given = pairs["commitment"].notna()
    out = rep_product.loc[given, ["rep_id", "product_id"]].copy()
    out["commitment"] = pairs.loc[given, "commitment"]
    out["quota"] = rep_product.loc[given, "quota"]
    out["gap"] = out["quota"] - out["commitment"]
    return out.reset_index(drop=True)
