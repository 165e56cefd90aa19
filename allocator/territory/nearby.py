"""What the sparse path knows about its pairs' shape, so passes over all pairs can skip far ones.

On the sparse path (:mod:`allocator.territory.pairs`) every (account, rep) quantity of the
territory model is built from per-account and per-rep vectors (``models/assignment.md``, "The
sparse path"). :class:`Near` keeps those vectors in the form the pruned passes
(:mod:`allocator.territory.pruned`) need:

- the points on the unit sphere (``x = cos(lat) cos(lon)``, ...), where the chord between two
  points is ``2 sin(d / 2R)`` for the great-circle distance ``d``: monotone in ``d``, so a
  :class:`scipy.spatial.cKDTree` of 3-D points answers great-circle nearest and radius queries;
- eligibility as a few *groups* of accounts with the same experience minimum and required
  skills (``eligible[i, r] = table[group[i], r]`` unless the account is locked, when only its
  incumbent may serve it), with a k-d tree of each group's eligible reps;
- each objective term and row coefficient as a :class:`Form` ``rep[r] x (dist[i] km[i, r] +
  const[i] + moved[i] [r != incumbent[i]])``.

A :class:`Near` is tied to the exact objects it describes (``eligible``, ``rank``, each term and
coefficient): :meth:`Near.forms_for` answers None as soon as a problem holds anything else (a
lexicographic goal's reweighted terms, a guided search's narrower eligibility), and the passes
then fall back to evaluating every pair.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

from allocator.geography.distance import EARTH_RADIUS_KM
from allocator.io.settings import AssignmentSettings
from allocator.io.tables import parse_ids
from allocator.territory.pairs import at

if TYPE_CHECKING:
    from allocator.territory.core import ArcProblem

__all__ = [
    "Form",
    "Near",
    "chord_above",
    "describe_problem",
    "km_below",
    "make_near",
    "unit_points",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Relative safety on every radius and distance bound (float rounding of chords and haversine).
SAFETY = 1e-9


def unit_points(lat: npt.ArrayLike, lon: npt.ArrayLike) -> FloatArray:
    """(points, 3) positions on the unit sphere of ``lat``/``lon`` in degrees."""
    phi, lam = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def chord_above(km: FloatArray) -> FloatArray:
    """A unit-sphere chord at least that of great-circle ``km`` (2 and more: everything)."""
    half = np.minimum(np.maximum(np.asarray(km, float), 0.0) / (2 * EARTH_RADIUS_KM), np.pi / 2)
    return np.where(km >= np.pi * EARTH_RADIUS_KM, 3.0, 2 * np.sin(half) * (1 + SAFETY) + 1e-12)


def km_below(chord: FloatArray) -> FloatArray:
    """A great-circle km at most that of a unit-sphere ``chord`` (inf chord: inf)."""
    c = np.clip(np.asarray(chord, float) * (1 - SAFETY) - 1e-12, 0.0, 2.0)
    km = 2 * EARTH_RADIUS_KM * np.arcsin(c / 2) * (1 - SAFETY)
    return np.where(np.isinf(chord), np.inf, km)


@dataclass(frozen=True)
class Form:
    """``value[i, r] = rep[r] * (dist[i] * km[i, r] + const[i] + moved[i] * [has[i] and r !=
    incumbent[i]])``; a missing vector is zero (``rep``: one)."""

    dist: FloatArray | None = None
    const: FloatArray | None = None
    moved: FloatArray | None = None
    rep: FloatArray | None = None

    def at(self, near: Near, km: FloatArray, ii: IntArray, rr: IntArray) -> FloatArray:
        """The value at the pairs ``(ii, rr)`` given their ``km`` (for the self-check)."""
        out = np.zeros(len(ii))
        if self.dist is not None:
            out = out + self.dist[ii] * km
        if self.const is not None:
            out = out + self.const[ii]
        if self.moved is not None:
            mv = near.has_incumbent[ii] & (rr != near.incumbent[ii])
            out = out + self.moved[ii] * mv
        return out if self.rep is None else out * self.rep[rr]


@dataclass(frozen=True, eq=False)
class Near:
    """Account and rep vectors of a sparse-path territory (see the module docstring).

    ``xyz`` (accounts, 3) and ``rep_xyz`` (reps, 3) unit-sphere points; ``group`` (accounts,)
    eligibility group; ``table`` (groups, reps) who may serve a group (experience and skills),
    ``experience``/``skills`` the two rules apart; ``locked``, ``incumbent`` (-1: none),
    ``has_incumbent`` per account; ``visits`` per account (the rank is ``visits x km``).
    ``forms`` maps ``id`` of a pair object to ``(object, Form)``.
    """

    xyz: FloatArray
    rep_xyz: FloatArray
    group: IntArray
    table: BoolArray
    experience: BoolArray
    skills: BoolArray
    locked: BoolArray
    incumbent: IntArray
    has_incumbent: BoolArray
    visits: FloatArray
    forms: dict[int, tuple[Any, Form]] = field(default_factory=dict)
    trees: dict[Any, tuple[cKDTree, IntArray]] = field(default_factory=dict, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.xyz), len(self.rep_xyz)

    def describe(self, values: Any, form: Form) -> None:
        """Record that the pair object ``values`` is ``form``."""
        self.forms[id(values)] = (values, form)

    def form(self, values: Any) -> Form | None:
        """The :class:`Form` of ``values``, or None when it is not one this Near described."""
        found = self.forms.get(id(values))
        return found[1] if found is not None and found[0] is values else None

    def forms_for(self, problem: ArcProblem) -> dict[str, Any] | None:
        """``{"terms": [Form], "families": [Form], ...}`` when every object of ``problem`` is
        described (and its eligibility and rank are this Near's), else None."""
        if self.form(problem.eligible) is None or self.form(problem.rank) is None:
            return None
        terms = [self.form(v) for v in problem.terms.values()]
        families = [self.form(f.coef) for f in problem.families]
        if any(f is None for f in terms + families):
            return None
        if any(f.axis == "item" for f in problem.families):
            return None
        return {"terms": terms, "families": families}

    def reps_of(self, g: int) -> IntArray:
        """The reps eligible for group ``g`` (experience and skills)."""
        return np.flatnonzero(self.table[g])

    def tree(self, g: int) -> tuple[cKDTree | None, IntArray]:
        """A k-d tree of group ``g``'s eligible reps and their rep indices (None: no rep)."""
        if g not in self.trees:
            reps = self.reps_of(g)
            self.trees[g] = (cKDTree(self.rep_xyz[reps]) if len(reps) else None, reps)
        return self.trees[g]

    def eligible_at(self, ii: IntArray, rr: IntArray) -> BoolArray:
        """Eligibility at the pairs ``(ii, rr)``."""
        return self.table[self.group[ii], rr] & (~self.locked[ii] | (rr == self.incumbent[ii]))

    def free_items(self, g: int) -> IntArray:
        """The unlocked accounts of group ``g``."""
        return np.flatnonzero((self.group == g) & ~self.locked)

    def n_eligible(self) -> int:
        """Number of eligible (account, rep) pairs."""
        free = np.bincount(self.group[~self.locked], minlength=len(self.table))
        return int(free @ self.table.sum(axis=1)) + len(self.locked_pairs()[0])

    def incumbent_pairs(self) -> tuple[IntArray, IntArray]:
        """(account, incumbent) of every account whose incumbent is eligible (locked or not)."""
        ii = np.flatnonzero(self.incumbent >= 0)
        rr = self.incumbent[ii]
        ok = self.eligible_at(ii, rr)
        return ii[ok], rr[ok]

    def incumbent_arcs(self) -> IntArray:
        """Sorted flat ids of every eligible (account, incumbent) pair."""
        ii, rr = self.incumbent_pairs()
        return (ii * self.shape[1] + rr).astype(np.int64)

    def row_any(self, table: BoolArray) -> BoolArray:
        """Per account: whether any rep passes ``table`` (groups, reps); locks ignored."""
        return table.any(axis=1)[self.group]

    def row_max(self, values: FloatArray) -> FloatArray:
        """Per account: ``max(where(eligible, values, 0))`` over the reps (locks included)."""
        pad = 0.0 if self.shape[1] > 1 else -np.inf
        per_group = np.array([np.where(row, values, 0.0).max() for row in self.table])
        out = per_group[self.group]
        ii, rr = self.locked_pairs()
        out[self.locked] = 0.0
        out[ii] = np.maximum(values[rr], pad)
        return out

    def nearest_min(self, values: Any, k: int = 4) -> FloatArray:
        """Per account: the least of ``values`` (a pair object) over its ``k`` nearest eligible
        reps (inf: none). When ``values`` grows with the distance (``const + slope x km``,
        ``slope >= 0``), that is its least over every eligible rep (up to float ties)."""
        out = np.full(self.shape[0], np.inf)
        for items, rr, _ in self.nearest(k):
            ii = np.repeat(items, rr.shape[1])
            np.minimum.at(out, ii, np.asarray(values[ii, rr.ravel()], float))
        ii, rr = self.locked_pairs()
        out[ii] = np.asarray(values[ii, rr], float) if len(ii) else out[ii]
        return out

    def nearest(
        self, k: int, *, farthest: bool = False
    ) -> Iterator[tuple[IntArray, IntArray, FloatArray]]:
        """Per eligibility group with reps and unlocked accounts: ``(items, reps, chord)``,
        each account's ``min(k, group size)`` nearest eligible reps ((len(items), kk) rep
        indices, nearest first) and their chords on the unit sphere; ``farthest``: the farthest
        reps instead (the nearest to the antipode; the chord is then to the antipode)."""
        for g in range(len(self.table)):
            tree, reps = self.tree(g)
            items = self.free_items(g)
            if tree is None or not len(items):
                continue
            kk = min(k, len(reps))
            chord, idx = tree.query(-self.xyz[items] if farthest else self.xyz[items], k=kk)
            shape = (len(items), kk)
            yield items, reps[np.asarray(idx).reshape(shape)], np.asarray(chord).reshape(shape)

    def locked_pairs(self) -> tuple[IntArray, IntArray]:
        """(account, incumbent) of every locked account whose incumbent is eligible."""
        ii = np.flatnonzero(self.locked & (self.incumbent >= 0))
        rr = self.incumbent[ii]
        ok = self.table[self.group[ii], rr]
        return ii[ok], rr[ok]


def make_near(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    experience: Mapping[str, float] | None,
    skills: bool,
    *,
    locked: BoolArray,
    incumbent: IntArray,
    has_incumbent: BoolArray,
) -> Near:
    """The :class:`Near` of accounts and reps under the experience rule and (``skills``) the
    skills rule, the same rules as :mod:`allocator.territory.account_pairs`."""
    need = (
        accounts["segment"].map(experience).fillna(0.0).to_numpy(float)
        if experience
        else np.zeros(len(accounts))
    )
    have = reps["experience"].to_numpy(float)
    if skills:
        rep_skills = [parse_ids(s) for s in reps["skills"]]
        required = [parse_ids(s) for s in accounts["required_skills"]]
        kinds = {req: k for k, req in enumerate(dict.fromkeys(required))}
        skill_rows = np.array([[req <= h for h in rep_skills] for req in kinds], bool)
        kind = np.array([kinds[req] for req in required], np.int64)
    else:
        skill_rows, kind = np.ones((1, len(reps)), bool), np.zeros(len(accounts), np.int64)
    keys, group = np.unique(np.column_stack([need, kind]), axis=0, return_inverse=True)
    exp = np.array([have >= k[0] for k in keys], bool).reshape(len(keys), len(reps))
    sk = skill_rows[keys[:, 1].astype(np.int64)].reshape(len(keys), len(reps))
    return Near(
        xyz=unit_points(accounts["lat"], accounts["lon"]),
        rep_xyz=unit_points(reps["lat"], reps["lon"]),
        group=np.asarray(group, np.int64).ravel(),
        table=exp & sk,
        experience=exp,
        skills=sk,
        locked=np.asarray(locked, bool),
        incumbent=np.asarray(incumbent, np.int64),
        has_incumbent=np.asarray(has_incumbent, bool),
        visits=accounts["visits"].to_numpy(float),
    )


def describe_problem(
    near: Near, problem: ArcProblem, settings: AssignmentSettings, accounts: pd.DataFrame, km: Any
) -> bool:
    """Record the forms of ``problem``'s eligibility, rank, terms and row coefficients as
    :func:`allocator.territory.build.territory_problem` builds them at account level; False
    (nothing usable) when the self-check at sample pairs fails."""
    objective, cons = settings.objective, settings.constraints
    lexicographic = objective.mode == "lexicographic"
    visits = accounts["visits"].to_numpy(float)
    potential = accounts["potential"].to_numpy(float)
    measures = {"potential": potential, "workload": accounts["workload"].to_numpy(float)}
    near.describe(problem.eligible, Form())
    near.describe(problem.rank, Form(dist=visits))
    near.describe(problem.keep, Form())
    weights = {"travel": objective.travel, "disruption": objective.disruption}
    per_term = {
        "travel": lambda w: Form(dist=w * visits),
        "disruption": lambda w: Form(moved=w * potential / 1000.0),
    }
    for key, values in problem.terms.items():
        if key in per_term:
            near.describe(values, per_term[key](1.0 if lexicographic else weights[key]))
    hours = cons.capacity.travel_hours_per_km if cons.capacity else 0.0
    ones = np.ones(len(accounts))
    for family in problem.families:
        measure = family.key.rsplit("_", 1)[-1]
        if family.doc == "capacity":
            form = Form(dist=hours * visits, const=measures["workload"])
        elif family.doc in ("balance_lo", "balance_hi", "deviation") and measure in measures:
            form = Form(const=measures[measure])
        elif family.doc == "max_accounts":
            form = Form(const=ones)
        elif family.doc == "max_moved" and cons.continuity is not None:
            form = Form(moved=potential if cons.continuity.measure == "potential" else ones)
        else:
            continue  # not described: the passes evaluate every pair
        near.describe(family.coef, form)
    return self_check(near, km, problem.eligible, problem.keep)


def self_check(near: Near, km: Any, eligible: Any, keep: Any, seed: int = 0) -> bool:
    """Whether every described object equals its form at random pairs and at the incumbents'
    (so a form that drifted from the code building the pair data is never used)."""
    n, m = near.shape
    rng = np.random.default_rng(seed)
    ii = np.r_[rng.integers(0, n, 256), np.flatnonzero(near.incumbent >= 0)[:256]]
    rr = np.r_[rng.integers(0, m, 256), near.incumbent[near.incumbent >= 0][:256]]
    d = km[ii, rr]
    for values, form in near.forms.values():
        if values is eligible:
            ok = np.array_equal(values[ii, rr], near.eligible_at(ii, rr))
        elif values is keep:
            ok = np.array_equal(values[ii, rr], rr == near.incumbent[ii])
        else:
            want = np.asarray(at(values, near.shape, ii, rr), float)
            ok = np.allclose(form.at(near, d, ii, rr), want, rtol=1e-9, atol=1e-9)
        if not ok:
            return False
    return True
