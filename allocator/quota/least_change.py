"""The least change of a quota setting that makes the quota LP feasible, computed by an LP.

The quota model (``models/quota.md``) is an LP, so for each setting ``s`` that moves rows -
``quota.fairness.band`` (``fairness_lo/hi[r,p]``, by the fair quota), ``quota.cap_share``
(``cap[r]``, by the rep's potential), ``quota.history.min_growth`` and ``max_growth``
(``hist_floor/ceiling[r,p]``, by last year's actual) - the LP ``min t`` with the rows of ``s``
moved outwards by ``t`` times their unit gives the least value of ``s`` exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pulp

from allocator.io.settings import QuotaSettings, SolverSettings
from allocator.quota.managers import ManagerTargets
from allocator.quota.model import QuotaModel
from allocator.solver import Status, solve

__all__ = ["quota_least_changes"]

_LABEL = re.compile(r"^(\w+)\[(.*)\]$")


@dataclass(frozen=True)
class _Setting:
    """A quota setting: its key, value now, the rows it moves, and which way is looser."""

    key: str
    value: float
    families: tuple[str, ...]
    down: bool = False  # True: a smaller value relaxes (min_growth)


def _settings(settings: QuotaSettings) -> list[_Setting]:
    out = [_Setting("quota.fairness.band", settings.fairness.band, ("fairness_lo", "fairness_hi"))]
    if settings.cap_share is not None:
        out.append(_Setting("quota.cap_share", settings.cap_share, ("cap",)))
    if settings.history.min_growth is not None:
        out.append(
            _Setting("quota.history.min_growth", settings.history.min_growth, ("hist_floor",), True)
        )
    if settings.history.max_growth is not None:
        out.append(
            _Setting("quota.history.max_growth", settings.history.max_growth, ("hist_ceiling",))
        )
    return out


def _units(pairs: pd.DataFrame) -> dict[str, Callable[[str], float]]:
    """Row family -> the amount a unit of its setting moves the row with a given index."""
    key = pairs["rep_id"].astype(str) + "," + pairs["product_id"].astype(str)
    fair = dict(zip(key, pairs["fair"].astype(float), strict=True))
    actual = dict(zip(key, pairs["actual"].astype(float), strict=True))
    potential = pairs.groupby("rep_id")["potential"].sum().astype(float).to_dict()
    return {
        "fairness_lo": fair.__getitem__,
        "fairness_hi": fair.__getitem__,
        "cap": lambda r: potential.get(r, 0.0),
        "hist_floor": actual.__getitem__,
        "hist_ceiling": actual.__getitem__,
    }


def _least(
    pairs: pd.DataFrame,
    totals: pd.Series,
    settings: QuotaSettings,
    setting: _Setting,
    solver: SolverSettings | None,
    org: ManagerTargets | None,
) -> tuple[float | None, Status]:
    """``t*`` for one setting (None when no value of it works), and the solve status."""
    model = QuotaModel.build(pairs, totals, settings, org=org)
    t = pulp.LpVariable("relax_t", lowBound=0)
    units = _units(pairs)
    for name, label in model.labels.items():
        found = _LABEL.match(label)
        if found is None or found.group(1) not in setting.families:
            continue
        unit = units[found.group(1)](found.group(2))
        row = model.prob.constraints[name]
        if unit and row.sense != pulp.LpConstraintEQ:
            row.addInPlace(t * (-unit if row.sense == pulp.LpConstraintLE else unit))
    model.prob.setObjective(pulp.LpAffineExpression([(t, 1.0)]))
    model.prob.name = "quota_least_change"
    report = solve(model.prob, solver)
    if not report.has_solution:
        return None, report.status
    return max(0.0, t.varValue or 0.0), report.status


def _shown(value: float, *, down: bool) -> str:
    """Rounded outwards to 3 decimals, so that the value shown works."""
    scaled = math.floor(value * 1000 + 1e-6) if down else math.ceil(value * 1000 - 1e-6)
    return f"{scaled / 1000:.3f}".rstrip("0").rstrip(".") or "0"


def quota_least_changes(
    pairs: pd.DataFrame,
    totals: pd.Series,
    settings: QuotaSettings,
    solver: SolverSettings | None = None,
    org: ManagerTargets | None = None,
) -> list[str]:
    """One line per quota setting: the least value that makes the LP feasible alone, or that
    no value of it does (``models/quota.md``, "Checks").

    ``org``: the top-down targets; their ``manager_target[m]`` rows hold in every LP, so the
    value given works with them (without it a setting could look loose enough while a
    manager's target still cannot be reached).
    """
    out = []
    for setting in _settings(settings):
        t, status = _least(pairs, totals, settings, setting, solver, org)
        if t is None and status is Status.TIME_LIMIT:
            out.append(f"`{setting.key}`: time ran out before its least value was found")
        elif t is None:
            out.append(f"`{setting.key}` alone cannot make the quotas possible, whatever its value")
        elif t > 1e-9:
            needed = setting.value - t if setting.down else setting.value + t
            sign = "<=" if setting.down else ">="
            out.append(
                f"`{setting.key}` {sign} {_shown(needed, down=setting.down)} "
                f"(now {setting.value:g}) is the least change that makes the quotas possible"
            )
    return out
