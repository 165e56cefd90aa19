"""Tiny named territory instances whose optimum a person can check by hand.

Every place lies on the equator, so the great-circle distance between longitudes ``x`` and ``y``
(degrees) is exactly ``KM_PER_DEGREE * |x - y|`` and each optimum below is a few additions. Each
:class:`Example` carries its tables, its ``assignment:`` settings, the optimal objective and the
optimal owner of every account; the docstring of its builder shows the computation. Tests,
docs and benchmarks reuse them (``allocator.demo.examples.EXAMPLES``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from allocator.io.data import make_tables
from allocator.io.settings import AssignmentSettings
from allocator.io.tables import Tables

__all__ = ["EXAMPLES", "KM_PER_DEGREE", "Example", "company", "example"]

#: km per degree of longitude on the equator of a sphere of radius 6371 km.
KM_PER_DEGREE = 6371.0 * math.pi / 180.0


@dataclass(frozen=True)
class Example:
    """A tiny instance with its known optimum (objective and owner of every account)."""

    name: str
    tables: Tables
    settings: AssignmentSettings
    objective: float
    owners: Mapping[str, str]
    doc: str


def company(
    reps: list[dict[str, Any]],
    accounts: list[dict[str, Any]],
    *,
    adjacency: list[tuple[str, str]] | None = None,
    regions: list[str] | None = None,
) -> Tables:
    """Tables from short row dicts (reps: ``rep_id``, ``lon``; accounts: ``account_id``, ``lon``).

    Defaults: latitude 0, region ``G1``, experience 1, capacity 1000, segment ``B``, potential
    100, workload 10. The regions table holds every region named in the rows and ``regions``.
    """
    rep_rows = [
        {"name": r["rep_id"], "lat": 0.0, "region_id": "G1", "experience": 1, "capacity": 1000.0}
        | r
        for r in reps
    ]
    acc_rows = [
        {"name": a["account_id"], "lat": 0.0, "region_id": "G1", "segment": "B"}
        | {"potential": 100.0, "workload": 10.0}
        | a
        for a in accounts
    ]
    regions = sorted({row["region_id"] for row in rep_rows + acc_rows} | set(regions or ()))
    return make_tables(
        reps=pd.DataFrame(rep_rows),
        accounts=pd.DataFrame(acc_rows),
        regions=pd.DataFrame({"region_id": regions, "name": regions}),
        adjacency=pd.DataFrame(adjacency, columns=["region_a", "region_b"]) if adjacency else None,
    )


def _settings(
    constraints: dict[str, Any], objective: dict[str, Any] | None = None
) -> AssignmentSettings:
    return AssignmentSettings.model_validate(
        {"constraints": constraints, "objective": objective or {}}
    )


def _accounts(*lons: float, **common: Any) -> list[dict[str, Any]]:
    return [{"account_id": f"A{k}", "lon": x} | common for k, x in enumerate(lons, start=1)]


TWO_REPS = [{"rep_id": "R1", "lon": 0.0}, {"rep_id": "R2", "lon": 10.0}]


def capacity_move() -> Example:
    """Capacity forces the farthest of R1's accounts to R2.

    R1 at lon 0 (capacity 20 h), R2 at lon 10; A1, A2, A3 at lon 1, 2, 3, 10 h each, all with
    incumbent R1. R1 holds two: moving Ak to R2 adds ``(10 - k) - k`` degrees, least for A3 (4).
    Optimum: A1, A2 -> R1, A3 -> R2: 1 + 2 + 7 = 10 degrees.
    """
    reps = [TWO_REPS[0] | {"capacity": 20.0}, TWO_REPS[1]]
    tables = company(reps, _accounts(1, 2, 3, incumbent_rep_id="R1"))
    owners = {"A1": "R1", "A2": "R1", "A3": "R2"}
    return Example(
        "capacity_move", tables, _settings({"capacity": {}}), 10 * KM_PER_DEGREE, owners, ""
    )


def balance_move() -> Example:
    """Balance (potential, +-10% of half each) forces one account across.

    R1 at lon 0, R2 at lon 10, equal ramp; A1..A4 at lon 1, 2, 4, 9, potential 100 each. The band
    [180, 220] means two accounts each. Nearest would give R1 three (1 + 2 + 4) and R2 one (1);
    moving A3 costs 6 - 4 = 2 extra, less than A2 (8 - 2) or A1 (9 - 1).
    Optimum: A1, A2 -> R1, A3, A4 -> R2: 1 + 2 + 6 + 1 = 10 degrees.
    """
    tables = company(TWO_REPS, _accounts(1, 2, 4, 9))
    settings = _settings({"capacity": {}, "balance": {"tolerance": 0.1}})
    owners = {"A1": "R1", "A2": "R1", "A3": "R2", "A4": "R2"}
    return Example("balance_move", tables, settings, 10 * KM_PER_DEGREE, owners, "")


def experience() -> Example:
    """Segment A needs 5 years: only R2 (8 years) may serve A1, though R1 is nearer.

    R1 (2 years) at lon 0, R2 (8 years) at lon 10; A1 (segment A) at lon 1, A2, A3 (B) at 2, 9.
    Optimum: A1 -> R2 (9), A2 -> R1 (2), A3 -> R2 (1): 12 degrees.
    """
    reps = [TWO_REPS[0] | {"experience": 2}, TWO_REPS[1] | {"experience": 8}]
    accounts = _accounts(1, 2, 9)
    accounts[0]["segment"] = "A"
    owners = {"A1": "R2", "A2": "R1", "A3": "R2"}
    settings = _settings({"capacity": {}, "experience": {"A": 5}})
    return Example("experience", company(reps, accounts), settings, 12 * KM_PER_DEGREE, owners, "")


def skills() -> Example:
    """A1 needs skill P1 that only R2 has; A2 needs nothing.

    R1 (no skills) at lon 0, R2 (P1;P2) at lon 10; A1 (needs P1) at lon 1, A2 at 3, A3 (P2) at 8.
    Optimum: A1 -> R2 (9), A2 -> R1 (3), A3 -> R2 (2): 14 degrees.
    """
    reps = [TWO_REPS[0] | {"skills": ""}, TWO_REPS[1] | {"skills": "P1;P2"}]
    accounts = _accounts(1, 3, 8)
    accounts[0]["required_skills"] = "P1"
    accounts[2]["required_skills"] = "P2"
    owners = {"A1": "R2", "A2": "R1", "A3": "R2"}
    settings = _settings({"capacity": {}, "skills": {}})
    return Example("skills", company(reps, accounts), settings, 14 * KM_PER_DEGREE, owners, "")


def max_accounts() -> Example:
    """At most two accounts per rep; all four lie near R1.

    R1 at lon 0, R2 at lon 10; A1..A4 at lon 1..4. Moving Ak to R2 adds 10 - 2k: the two
    cheapest moves are A4 (2) and A3 (4).
    Optimum: A1, A2 -> R1, A3, A4 -> R2: 1 + 2 + 7 + 6 = 16 degrees.
    """
    settings = _settings({"capacity": {}, "max_accounts": {"limit": 2}})
    owners = {"A1": "R1", "A2": "R1", "A3": "R2", "A4": "R2"}
    tables = company(TWO_REPS, _accounts(1, 2, 3, 4))
    return Example("max_accounts", tables, settings, 16 * KM_PER_DEGREE, owners, "")


def continuity() -> Example:
    """A lock and a 50% move limit keep half of R2's far accounts with R2.

    R1 at lon 0, R2 at lon 10; A1..A4 at lon 1..4, potential 1,000 each, all with incumbent R2;
    A1 is locked. At most 2 of the 4 accounts may move. Moving Ak to R1 saves 10 - 2k degrees:
    A2 (6) and A3 (4) move; A1 (locked, 9) and A4 (6) stay. Travel 9 + 2 + 3 + 6 = 20 degrees;
    disruption weight 1 per 1,000 moved potential: 2 x 1,000 / 1,000 = 2.
    Optimum: 20 x KM_PER_DEGREE + 2.
    """
    accounts = _accounts(1, 2, 3, 4, incumbent_rep_id="R2", potential=1000.0)
    accounts[0]["locked"] = True
    settings = _settings(
        {"capacity": {}, "continuity": {"max_moved_share": 0.5}}, {"travel": 1, "disruption": 1}
    )
    owners = {"A1": "R2", "A2": "R1", "A3": "R1", "A4": "R2"}
    objective = 20 * KM_PER_DEGREE + 2.0
    return Example("continuity", company(TWO_REPS, accounts), settings, objective, owners, "")


def contiguity() -> Example:
    """R1's two nearest accounts lie in regions that do not touch (G1 and G3).

    Regions G1 - G2 - G3 (a path: G3 only touches G2). R1 lives in G1 at lon 0, R2 in G2 at lon
    8; A1 in G1 at lon 1, A2 in G2 at lon 6, A3 in G3 at lon -1; at most two accounts per rep.
    Nearest would give R1 {A1, A3} (1 + 1) and R2 {A2} (2) = 4, but R1 would serve G1 and G3
    without G2. Each rep serves its home region (rule home[r]), so R1 keeps A1 and R2 keeps A2;
    the only choice is A3, which touches only G2: R1 {A1}, R2 {A2, A3}: 1 + 2 + 9 = 12 is the
    one connected plan (R1 {A1, A3} is split). Optimum: 12 degrees.
    """
    reps = [
        {"rep_id": "R1", "lon": 0.0, "region_id": "G1"},
        {"rep_id": "R2", "lon": 8.0, "region_id": "G2"},
    ]
    accounts = _accounts(1, 6, -1)
    for row, region in zip(accounts, ["G1", "G2", "G3"], strict=True):
        row["region_id"] = region
    tables = company(reps, accounts, adjacency=[("G1", "G2"), ("G2", "G3")])
    settings = _settings({"capacity": {}, "max_accounts": {"limit": 2}, "contiguity": {}})
    owners = {"A1": "R1", "A2": "R2", "A3": "R2"}
    return Example("contiguity", tables, settings, 12 * KM_PER_DEGREE, owners, "")


def region_level() -> Example:
    """Whole regions: A2 would rather go to R2, but its region G1 goes to R1 as one piece.

    R1 at lon 0, R2 at lon 10; G1 = {A1 at lon 1, A2 at lon 6}, G2 = {A3 at lon 9}. G1 to R1
    costs 1 + 6 = 7, to R2 9 + 4 = 13; G2 to R2 costs 1. Optimum: 8 degrees (account level: 6).
    """
    accounts = _accounts(1, 6, 9)
    accounts[2]["region_id"] = "G2"
    tables = company(TWO_REPS, accounts, adjacency=[("G1", "G2")])
    settings = AssignmentSettings.model_validate(
        {"level": "region", "constraints": {"capacity": {}}}
    )
    owners = {"A1": "R1", "A2": "R1", "A3": "R2"}
    return Example("region_level", tables, settings, 8 * KM_PER_DEGREE, owners, "")


BUILDERS: dict[str, Callable[[], Example]] = {
    f.__name__: f
    for f in (
        capacity_move,
        balance_move,
        experience,
        skills,
        max_accounts,
        continuity,
        contiguity,
        region_level,
    )
}

#: Names of every example, for ``example(name)``.
EXAMPLES: tuple[str, ...] = tuple(BUILDERS)


def example(name: str) -> Example:
    """The example called ``name`` (one of :data:`EXAMPLES`), with its docstring as ``doc``.

    Raises
    ------
    KeyError
        For an unknown name.
    """
    if name not in BUILDERS:
        raise KeyError(f"unknown example {name!r}; one of {', '.join(EXAMPLES)}")
    built = BUILDERS[name]()
    return Example(**{**built.__dict__, "doc": BUILDERS[name].__doc__ or ""})
