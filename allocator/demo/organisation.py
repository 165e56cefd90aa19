"""The demo's organisation: managers, a new hire with a ramp schedule, a leave, a split account.

Drawn after everything else and with no random numbers, so the rest of the demo is unchanged:

- districts of about 8 reps, formed west to east (reps sorted by longitude, cut into runs), each
  with a district manager; districts report to two regional managers (west and east);
- with two new hires or more (reps at ramp 0.5), the second starts in the plan's fourth month on
  the ramp schedule
  ``25/50/75/100`` written in the cell, so the tables need no scenario key (and a flat ramp of 1);
- the most experienced rep takes two weeks of leave at the start of the plan's seventh month;
- the largest-potential account with an incumbent is split 60/40 between its incumbent and the
  nearest other rep who may serve it (experience, required skill).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.demo.team import A_EXPERIENCE

__all__ = ["NEW_HIRE_SCHEDULE", "Organisation", "organise"]

NEW_HIRE_SCHEDULE = (0.25, 0.5, 0.75, 1.0)
DISTRICT_SIZE = 8


@dataclass(frozen=True)
class Organisation:
    """The reps with ``manager_id``, ``start``, ``ramp_schedule``; managers, leaves, splits."""

    reps: pd.DataFrame
    managers: pd.DataFrame
    leaves: pd.DataFrame
    account_splits: pd.DataFrame


def organise(reps: pd.DataFrame, accounts: pd.DataFrame, first: pd.Period) -> Organisation:
    """The demo organisation of ``reps`` and ``accounts`` for a plan starting in ``first``."""
    reps = reps.copy()
    n = len(reps)
    districts = max(1, round(n / DISTRICT_SIZE))
    order = np.argsort(reps["lon"].to_numpy(float), kind="stable")
    district = np.empty(n, np.int64)
    district[order] = np.arange(n) * districts // n
    ids = [f"D{k + 1:02d}" for k in range(districts)]
    reps["manager_id"] = np.array(ids)[district]
    regions = 2 if districts >= 2 else 1
    managers = pd.DataFrame(
        {
            "manager_id": [*ids, *(f"V{k + 1}" for k in range(regions))],
            "name": [
                *(f"District {k + 1}" for k in range(districts)),
                *(["Region West", "Region East"][:regions] if regions == 2 else ["Region"]),
            ],
            "parent_id": [f"V{k * regions // districts + 1}" for k in range(districts)]
            + [""] * regions,
            "level": ["district"] * districts + ["region"] * regions,
        }
    )
    reps["start"] = ""
    reps["ramp_schedule"] = ""
    new = np.flatnonzero(reps["ramp"].to_numpy(float) < 1)
    if len(new) >= 2:  # the first new hire stays a plain ramp-0.5 rep (docs/recipes.md)
        k = int(new[1])
        reps.loc[reps.index[k], ["start", "ramp_schedule", "ramp"]] = [
            str(first + 3),
            "25/50/75/100",
            1.0,
        ]
    senior = int(np.argmax(reps["experience"].to_numpy(float)))
    leaves = pd.DataFrame(
        {
            "rep_id": [reps["rep_id"].iloc[senior]],
            "from": [f"{first + 6}-01"],
            "to": [f"{first + 6}-14"],
        }
    )
    return Organisation(reps, managers, leaves, _split(accounts, reps))


def _split(accounts: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """60/40 split of the largest served account between its incumbent and the nearest other rep."""
    served = accounts[accounts["incumbent_rep_id"] != ""]
    columns = ["account_id", "rep_id", "share"]
    if served.empty or len(reps) < 2:
        return pd.DataFrame(columns=columns)
    top = served.loc[served["potential"].idxmax()]
    others = reps[reps["rep_id"] != top["incumbent_rep_id"]]
    if top["segment"] == "A":  # the demo's experience rule: A accounts need 3 years
        others = others[others["experience"] >= A_EXPERIENCE]
    need = str(top.get("required_skills", ""))
    if need:
        others = others[[need in str(s).split(";") for s in others["skills"]]]
    d2 = (others["lat"] - top["lat"]) ** 2 + (others["lon"] - top["lon"]) ** 2
    second = others["rep_id"].loc[d2.idxmin()]
    return pd.DataFrame(
        {
            "account_id": [top["account_id"]] * 2,
            "rep_id": [top["incumbent_rep_id"], second],
            "share": [0.6, 0.4],
        }
    )
