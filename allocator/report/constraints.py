"""Constraints in plain words: which rows of the plan's models bind, and what relaxing one is worth.

:func:`explain_constraints` turns slack and the LP shadow prices (``dual`` = d objective /
d right-hand side, normalised by :mod:`allocator.solver`) into sentences (:func:`constraint_text`);
:func:`conflicting_constraints` lists the rows an infeasibility diagnosis names. Re-exported by
:mod:`allocator.report.explain`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator.exceptions import InfeasibleError
from allocator.report.format import number

if TYPE_CHECKING:
    from allocator.plan import Plan

__all__ = [
    "CONSTRAINT_COLUMNS",
    "conflicting_constraints",
    "constraint_text",
    "explain_constraints",
]


def _number(value: float) -> str:
    return number(value)


#: family -> (what its right-hand side is, unit of one step, step); {0} is the constraint's ids.
_RHS: dict[str, tuple[str, str, float]] = {
    "capacity": ("capacity for {0}", "hour", 1.0),
    "balance": ("the balance limit of {0}", "", 1000.0),
    "balance_hi": ("the upper balance limit of {0}", "", 1000.0),
    "balance_lo": ("the lower balance limit of {0}", "", 1000.0),
    "max_accounts": ("the account limit of {0}", "account", 1.0),
    "max_moved": ("the moves allowed", "", 1.0),
    "target_total": ("the target of {0}", "", 1000.0),
    "fairness_hi": ("the upper fairness bound of {0}", "", 1000.0),
    "fairness_lo": ("the lower fairness bound of {0}", "", 1000.0),
    "cap": ("the quota cap of {0}", "", 1000.0),
    "hist_floor": ("the history floor of {0}", "", 1000.0),
    "hist_ceiling": ("the history ceiling of {0}", "", 1000.0),
    "expense_budget": ("the expense budget", "", 1000.0),
    "expense_ratio": ("the expense ceiling of {0}", "", 1000.0),
}
#: rows that only define auxiliary variables: their duals say nothing to a planner.
_INTERNAL = frozenset(
    {"assign_once", "deviation", "serves", "serves_any", "goal"}
    | {"dev_hi", "dev_lo", "max_dev", "commit_hi", "commit_lo", "stage1", "mix_total"}
)
_QUOTA_OBJECTIVE = "the largest fairness deviation by {}%"
CONSTRAINT_COLUMNS = ["model", "name", "family", "slack", "dual", "binding", "internal", "text"]


def explain_constraints(plan: Plan) -> pd.DataFrame:
    """Every constraint row of the plan's models with a sentence on what its binding means.

    Columns: ``model`` (assignment or quota), ``name`` (as in ``models/*.md``), ``family``,
    ``slack``, ``dual`` (d objective / d right-hand side; NaN where the model gives none, e.g. a
    MIP), ``binding``, ``internal`` (rows that only define auxiliary variables) and ``text``.
    """
    frames = []
    if plan.assignment is not None:
        frames.append(
            _constraint_rows(plan.assignment.constraints, "assignment", _assignment_objective(plan))
        )
    if plan.quotas is not None:
        frames.append(_constraint_rows(plan.quotas.constraints, "quota", _QUOTA_OBJECTIVE))
    if not frames:
        return pd.DataFrame(columns=CONSTRAINT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[CONSTRAINT_COLUMNS]


def _assignment_objective(plan: Plan) -> str:
    w = plan.scenario.assignment.objective
    if w.travel == 1 and w.balance == 0 and w.disruption == 0:
        return "{} km of travel"
    return "the objective (travel, balance, disruption) by {}"


def _constraint_rows(table: pd.DataFrame, model: str, objective: str) -> pd.DataFrame:
    family = table["family"] if "family" in table.columns else table["name"].str.split("[").str[0]
    dual = (
        table["dual"].astype(float)
        if "dual" in table.columns
        else pd.Series(np.nan, index=table.index)
    )
    frame = pd.DataFrame(
        {
            "model": model,
            "name": table["name"].astype(str),
            "family": family.astype(str),
            "slack": table["slack"].astype(float),
            "dual": dual,
            "binding": table["binding"].astype(bool),
        }
    )
    frame["internal"] = frame["family"].isin(_INTERNAL)
    columns = [frame[c] for c in ("name", "family", "slack", "dual", "binding")]
    frame["text"] = [
        constraint_text(*row, objective=objective) for row in zip(*columns, strict=True)
    ]
    return frame


def constraint_text(
    name: str, family: str, slack: float, dual: float, binding: bool, *, objective: str
) -> str:
    """One sentence on a constraint: its slack, or what relaxing it would be worth.

    ``objective`` says what the objective counts, with ``{}`` where the amount goes:
    ``constraint_text("capacity[R017]", "capacity", 0, -12.4, True, objective="{} km of travel")``
    reads "capacity[R017] binds: one more hour of capacity for R017 would cut 12.4 km of travel."
    An amount followed by ``%`` in the template (a relative deviation) is shown in percent.
    """
    if family in _INTERNAL:
        return f"{name}: auxiliary row of the model (slack {_number(slack)})."
    if family == "contiguity":
        return _cut_text(name, binding)
    what, unit, step = _RHS.get(family, ("the right-hand side of {0}", "", 1.0))
    what = what.format(name[name.find("[") + 1 : -1] if "[" in name else name)
    if not binding:
        units = f" {unit}{'' if slack == 1 else 's'}" if unit else ""
        return f"{name} has slack {_number(slack)}{units}."
    if dual != dual:  # NaN: the model gives no shadow price (a MIP)
        return f"{name} binds: {what} is used up (slack 0)."
    if abs(dual) < 1e-12:
        return f"{name} binds, but relaxing {what} a little would not change the objective."
    lead = f"one more {unit} of {what}" if unit and step == 1 else f"raising {what} by {step:,.0f}"
    change = dual * step
    if family.startswith("expense"):  # the expense LP maximises the expected margin
        objective = "the expected margin by {}"
    amount = _number(abs(change) * 100) if "{}%" in objective else _number(abs(change))
    verb = "raise" if change > 0 else "cut"
    text = f"{name} binds: {lead} would {verb} {objective.format(amount)}."
    if family == "expense_budget":
        # the response curves are anchored at each rep's share of the budget (models/quota.md),
        # so a re-solve with a larger budget also moves the curves: the dual is a local price
        text += " (with each rep's response curve held fixed; a re-solve also moves the curves)"
    return text


def _cut_text(name: str, binding: bool) -> str:
    """A contiguity cut ``contiguity[R5,G3,2]``: the region in its name is where the cut was
    found (a territory split off from G3 in an earlier round), not a region the rep serves now."""
    inside = name[name.find("[") + 1 : -1].split(",") if "[" in name else []
    if len(inside) < 3:
        return f"{name} {'binds' if binding else 'has slack'} (a contiguity cut)."
    rep, region, number_ = inside[0], inside[1], inside[2]
    state = "binds: it keeps" if binding else "has slack; it keeps"
    return (
        f"{name} {state} {rep}'s territory connected (cut {number_}, found when the regions "
        f"around {region} were cut off from it in an earlier round; {region} need not be served "
        "now)."
    )


_NAME = re.compile(r"([A-Za-z_]+)\[([^\]]*)\]")


def conflicting_constraints(error: InfeasibleError) -> pd.DataFrame:
    """The constraints an infeasibility diagnosis names: one row per (name, family, line)."""
    rows = [
        (m.group(0), m.group(1), line) for line in error.diagnosis for m in _NAME.finditer(line)
    ]
    return pd.DataFrame(rows, columns=["name", "family", "line"]).drop_duplicates(["name", "line"])
