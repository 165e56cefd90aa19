"""The quota checker's part for top-down targets (``target.by_manager``), recomputed alone.

Used by :mod:`allocator.quota.check`; like it, nothing here reads the LP or the code that built
it (:mod:`allocator.quota.managers`). From the tables and ``TargetResult.by_manager`` alone:

- every manager's reps (any depth) sum exactly to the manager's target (``manager_target[m]``);
- the fair quota of each (rep, product) under top-down targets: the company rule's fair quotas
  fitted, per group of reps (the nearest targeted manager above them) and product, to the
  groups' totals and the product targets (``models/organisation.md``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.io.tables import Tables

__all__ = ["group_fair", "manager_sums"]

_ROUNDS, _TOL = 5000, 1e-10


def _parents(tables: Tables) -> dict[str, str]:
    m = tables.managers
    return {} if m is None else dict(zip(m["manager_id"], m["parent_id"], strict=True))


def _up(manager: str, parent: dict[str, str]) -> list[str]:
    chain: list[str] = []
    while manager and manager not in chain:
        chain.append(manager)
        manager = parent.get(manager, "")
    return chain


def _given(by_manager: pd.DataFrame | None) -> dict[str, float]:
    if by_manager is None or by_manager.empty:
        return {}
    return dict(zip(by_manager["manager_id"], by_manager["target"].astype(float), strict=True))


def manager_sums(
    tables: Tables, by_manager: pd.DataFrame | None, quotas: pd.DataFrame
) -> list[str]:
    """One line per manager whose reps' quotas (``rep_product``: rep_id, quota) miss its target."""
    given = _given(by_manager)
    parent = _parents(tables)
    reps = tables.active_reps
    per_rep = quotas.groupby("rep_id")["quota"].sum()
    held = dict.fromkeys(given, 0.0)
    for rep, manager in zip(reps["rep_id"], reps["manager_id"], strict=True):
        for m in _up(manager, parent):
            if m in held:
                held[m] += float(per_rep.get(rep, 0.0))
    return [
        f"manager_target[{m}]: {held[m]:,.0f} != the target {t:,.0f}"
        for m, t in given.items()
        if abs(held[m] - t) > 1e-6
    ]


def group_fair(
    tables: Tables,
    by_manager: pd.DataFrame | None,
    total: float,
    rp: pd.DataFrame,
    fair: np.ndarray,
) -> np.ndarray:
    """``fair`` (one per row of ``rp``: rep_id, product_id) fitted to the managers' groups.

    Unchanged without top-down targets. Group totals: a manager's target minus those of the
    targeted managers nearest below it; the company group (reps under no targeted manager): the
    company ``total`` minus the top targeted managers'.
    """
    given = _given(by_manager)
    if not given:
        return fair
    parent = _parents(tables)
    group_total = {"": float(total), **given}
    for m in given:
        above = next((a for a in _up(m, parent)[1:] if a in given), "")
        group_total[above] -= given[m]
    manager = tables.active_reps.set_index("rep_id")["manager_id"]
    group = [
        next((a for a in _up(manager.get(r, ""), parent) if a in given), "") for r in rp["rep_id"]
    ]
    g_codes, g_names = pd.factorize(pd.Series(group))
    p_codes, p_names = pd.factorize(rp["product_id"])
    cells = np.zeros((len(g_names), len(p_names)))
    np.add.at(cells, (g_codes, p_codes), fair)
    rows = np.array([group_total[g] for g in g_names])
    cols = np.bincount(p_codes, weights=fair, minlength=len(p_names))
    fitted = cells.copy()
    for _ in range(_ROUNDS):
        r = fitted.sum(axis=1)
        fitted *= np.divide(rows, r, out=np.zeros_like(r), where=r > 0)[:, None]
        c = fitted.sum(axis=0)
        fitted *= np.divide(cols, c, out=np.ones_like(c), where=c > 0)[None, :]
        if np.abs(fitted.sum(axis=1) - rows).max() <= _TOL * max(1.0, rows.max()):
            break
    factor = np.divide(fitted, cells, out=np.zeros_like(cells), where=cells > 0)
    return fair * factor[g_codes, p_codes]
