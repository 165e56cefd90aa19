"""A synthetic but plausible sales organisation, and the demo dataset shipped with allocator.

:func:`generate_company` builds every input table from one seed (numpy ``default_rng`` only, so
the same arguments give identical tables and byte-identical CSVs); :func:`write_company` writes
them with a ``scenario.yaml`` that uses them. ``python -m allocator.generate --demo`` rewrites
the shipped demo in ``allocator/demo`` (2,000 accounts, 40 reps, 30 regions, 4 products, seed 0).

The numbers (constants below), and why:

- Geography: a country-sized box, latitude 47-55, longitude 6-15, projected to km around
  latitude 51 (equirectangular, 111.2 km per degree, :func:`project_km`); every "nearest" below
  is measured in that plane. Region seeds are spread by best-candidate sampling (no sliver
  cells); a region is the Voronoi cell of its seed (accounts and reps belong to the region of
  their nearest seed) and two regions are adjacent when their seeds share a Delaunay edge, so
  the region graph is planar and connected. Regions carry their seed's ``lat``/``lon``.
- Cities: ``regions // 2`` cities with Zipf weights (1/rank). 80% of accounts scatter around a
  city drawn by weight (normal, sigma 30 km for the biggest city, about 19 km for the 15th),
  20% are rural, uniform in the box.
- Products: ids P1.., categories cycle attack/volume/profit/image, margins 0.45/0.20/0.35/0.50.
  An account buys a line with probability 0.60/0.95/0.70/0.45 (at least one line).
- Potential per account and product, whole currency: a lognormal size (median 40,000 a year,
  sigma 0.9) x category weight 0.25/0.30/0.25/0.20 x lognormal noise (sigma 0.4). The demo's
  potential splits about 21/41/25/13% over the categories, inside the demo's mix bands.
  ``accounts.potential`` is exactly the row sum of ``account_potential``.
- Segments by potential rank: A the top 10%, B the next 30%, C the rest. Visits per year (the
  ``visits`` column; a period is the planning year) 48/24/12, hours per visit 1.5/1.25/1.0,
  x uniform 0.8-1.2 per account; then all workloads are scaled so that total workload is 80%
  of total capacity (the factor is about 0.98 at the default size), rounded to 0.1 hour.
  5% of accounts require the skill of one product they buy.
- Reps: cities get reps in proportion to the workload of the accounts nearest them (largest
  remainder), home bases scatter 10 km around the city; capacity 1,600 hours x uniform
  0.8-1.0; 10% are new hires (experience 0-1 years, ``ramp`` 0.5), the others have 2-20 years;
  20% of reps lack one product skill; all are active.
- Incumbents: 10% of accounts are prospects without one. The others, in random order, go to the
  first of their 6 nearest eligible reps (experience >= 3 for an A account, required skill)
  with room left under 85% of its ramp-weighted capacity, else to the nearest of the 6. So
  incumbents are always eligible and roughly respect capacity, but the current territories are
  unbalanced (potential from about 0.3 to 1.4 of the fair share in the demo). 3% of the served
  accounts are ``locked``.
- History: the 36 months before ``start``, for each served account and each line it buys: a
  level of 30-60% (per account) of the potential, yearly growth 3-6%, seasonality (a July and
  August dip to about 0.8, a December peak about 1.3, mean 1), 8% noise, whole currency. The
  last 12 months sum to about 40% of the total potential.
- Regions: ``market_potential`` is their accounts' potential x 1.3-1.8 (rounded to 1,000),
  ``market_share`` the last 12 months' sales over it, ``growth`` 2-6%.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from numpy.typing import ArrayLike
from scipy.spatial import Delaunay, cKDTree

from allocator.data import make_tables
from allocator.exceptions import AllocatorError, InputError
from allocator.tables import COLUMNS, OPTIONAL_DEFAULTS, TABLE_NAMES, Tables

__all__ = [
    "DEMO_DIR",
    "DEMO_SETTINGS",
    "delaunay_edges",
    "demo_settings",
    "generate_company",
    "last_twelve_months",
    "main",
    "project_km",
    "to_degrees",
    "write_company",
    "write_demo",
]

log = logging.getLogger("allocator")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Where the shipped demo dataset lives.
DEMO_DIR = Path(__file__).parent / "demo"

LAT, LON, REF_LAT, KM_PER_DEG = (47.0, 55.0), (6.0, 15.0), 51.0, 111.2
CATEGORIES = ("attack", "volume", "profit", "image")
MARGINS = {"attack": 0.45, "volume": 0.20, "profit": 0.35, "image": 0.50}
PRESENCE = {"attack": 0.60, "volume": 0.95, "profit": 0.70, "image": 0.45}
WEIGHTS = {"attack": 0.25, "volume": 0.30, "profit": 0.25, "image": 0.20}
PRODUCT_NAMES = {"attack": "Nova", "volume": "Core", "profit": "Prime", "image": "Signature"}
SEGMENTS = (("A", 0.10, 48, 1.5), ("B", 0.30, 24, 1.25), ("C", 0.60, 12, 1.0))
UTILIZATION = 0.80
#: Years of experience an A account needs (the demo's ``experience: {A: 3}``).
A_EXPERIENCE = 3
FULL_CAPACITY = 1600.0
#: Monthly seasonality, January to December (mean 1).
SEASON = np.array([0.9, 0.95, 1.05, 1.0, 1.0, 0.95, 0.8, 0.8, 1.05, 1.1, 1.1, 1.3])
SEASON = SEASON / SEASON.mean()

PREFIXES = _words(
    "Alt Neu Ober Unter Groß Klein Hohen Nieder Ost West Nord Süd Schön Rot Weiß Grün "
    "Eichen Linden Buchen Birken"
)
STEMS = _words("bach berg burg dorf feld hausen heim stadt tal furt brück au wald see hagen rode")
SURNAMES = _words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
    "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger "
    "Hartmann Lange Werner Krause Meier Lehmann Huber Kaiser"
)
FIRST_NAMES = _words(
    "Anna Ben Clara David Eva Felix Greta Hannah Jonas Julia Karl Lena Lukas Marie "
    "Max Nina Paul Sophie Tim Laura"
)
LEGAL = ("GmbH", "AG", "KG", "GmbH & Co. KG", "OHG", "e.K.")


# ------------------------------------------------------------------ geometry


def project_km(lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
    """Project degrees to the generator's km plane (equirectangular around latitude 51).

    Regions are the Voronoi cells of their seeds in this plane: an account's region is the seed
    nearest to ``project_km(lat, lon)``.
    """
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    x = (lon - LON[0]) * KM_PER_DEG * np.cos(np.radians(REF_LAT))
    return np.column_stack([x, (lat - LAT[0]) * KM_PER_DEG])


def to_degrees(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`project_km`: latitude and longitude rounded to 5 decimals (about 1 m)."""
    lon = LON[0] + xy[:, 0] / (KM_PER_DEG * np.cos(np.radians(REF_LAT)))
    return np.round(LAT[0] + xy[:, 1] / KM_PER_DEG, 5), np.round(lon, 5)


def _box_km() -> np.ndarray:
    return project_km(np.array(LAT), np.array(LON))[1]


def _uniform_points(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=(n, 2)) * _box_km()


def _spread_points(rng: np.random.Generator, n: int, *, tries: int = 10) -> np.ndarray:
    """Best-candidate sampling: well spread points, so no Voronoi cell is a sliver."""
    points = _uniform_points(rng, 1)
    for _ in range(n - 1):
        candidates = _uniform_points(rng, tries)
        far = cKDTree(points).query(candidates)[0]
        points = np.vstack([points, candidates[np.argmax(far)]])
    return points


def _clip(xy: np.ndarray) -> np.ndarray:
    return np.clip(xy, 0.0, _box_km())


def _rounded(xy: np.ndarray) -> np.ndarray:
    """Points as stored (degrees to 5 decimals), back in km: what a reader of the CSV sees."""
    return project_km(*to_degrees(xy))


def _nearest(points: np.ndarray, queries: np.ndarray, *, k: int = 1) -> np.ndarray:
    """Position of the nearest point of each query (``k > 1``: the ``k`` nearest, in order)."""
    dist = np.hypot(
        queries[:, None, 0] - points[None, :, 0], queries[:, None, 1] - points[None, :, 1]
    )
    return np.argmin(dist, axis=1) if k == 1 else np.argsort(dist, axis=1, kind="stable")[:, :k]


def delaunay_edges(points: np.ndarray) -> list[tuple[int, int]]:
    """Edges (i < j) of the Delaunay triangulation of ``points`` (fewer than 3: a path)."""
    if len(points) < 3:
        return [(i, i + 1) for i in range(len(points) - 1)]
    edges = set()
    for simplex in Delaunay(points).simplices:
        for a in range(3):
            i, j = sorted((int(simplex[a]), int(simplex[(a + 1) % 3])))
            edges.add((i, j))
    return sorted(edges)


# ------------------------------------------------------------------ names


def _town_names(rng: np.random.Generator, n: int) -> list[str]:
    pool = [p + s for p in PREFIXES for s in STEMS]
    picks = rng.permutation(max(n, len(pool)))[:n]
    return [
        pool[k % len(pool)] + (f" {k // len(pool) + 1}" if k >= len(pool) else "") for k in picks
    ]


def _ids(prefix: str, n: int, width: int) -> list[str]:
    width = max(width, len(str(n)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


# ------------------------------------------------------------------ the tables


def _products(n: int) -> pd.DataFrame:
    cats = [CATEGORIES[i % len(CATEGORIES)] for i in range(n)]
    names = [
        PRODUCT_NAMES[c] + (f" {i // len(CATEGORIES) + 1}" if i >= 4 else "")
        for i, c in enumerate(cats)
    ]
    return pd.DataFrame(
        {
            "product_id": [f"P{i + 1}" for i in range(n)],
            "name": names,
            "category": cats,
            "margin": [MARGINS[c] for c in cats],
        }
    )


def _potentials(rng: np.random.Generator, n: int, categories: Sequence[str]) -> np.ndarray:
    """Whole-currency potential per account (rows) and product (columns); every row > 0."""
    size = rng.lognormal(np.log(40_000.0), 0.9, size=n)
    weight = np.array([WEIGHTS[c] for c in categories]) / sum(WEIGHTS[c] for c in CATEGORIES)
    present = rng.uniform(size=(n, len(categories))) < np.array([PRESENCE[c] for c in categories])
    noise = rng.lognormal(0.0, 0.4, size=(n, len(categories)))
    share = weight * noise
    none = ~present.any(axis=1)
    present[none, np.argmax(share[none], axis=1)] = True
    return np.maximum(np.round(size[:, None] * share * present), present.astype(float))


def _segments(potential: np.ndarray) -> np.ndarray:
    """A/B/C by potential rank (ties broken by account order)."""
    order = np.argsort(-potential, kind="stable")
    segment = np.empty(len(potential), dtype=object)
    start = 0
    for i, (name, share, _, _) in enumerate(SEGMENTS):
        stop = len(order) if i == len(SEGMENTS) - 1 else start + round(share * len(order))
        segment[order[start:stop]] = name
        start = stop
    return segment


def _base_workload(rng: np.random.Generator, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Visits per year and unscaled hours per year of each account."""
    visits = np.array([{s[0]: s[2] for s in SEGMENTS}[g] for g in segment], dtype=float)
    hours = np.array([{s[0]: s[3] for s in SEGMENTS}[g] for g in segment])
    return visits, visits * hours * rng.uniform(0.8, 1.2, size=len(segment))


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder split of ``total`` items in proportion to ``weights``."""
    quota = total * weights / weights.sum()
    counts = np.floor(quota).astype(int)
    counts[np.argsort(-(quota - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


def _reps(
    rng: np.random.Generator,
    n: int,
    city_xy: np.ndarray,
    accounts: pd.DataFrame,
    product_ids: list[str],
) -> pd.DataFrame:
    """Reps based near cities, more where more workload is nearest (see the module docstring)."""
    nearest_city = _nearest(city_xy, project_km(accounts["lat"], accounts["lon"]))
    load = np.bincount(nearest_city, weights=accounts["workload"], minlength=len(city_xy))
    home = np.repeat(np.arange(len(city_xy)), _apportion(n, load))
    xy = _clip(city_xy[home] + rng.normal(0.0, 10.0, size=(n, 2)))
    new = np.zeros(n, dtype=bool)
    new[rng.permutation(n)[: round(0.1 * n)]] = True
    experience = np.where(new, rng.integers(0, 2, size=n), rng.integers(2, 21, size=n))
    skills = []
    for _ in range(n):
        missing = (
            rng.integers(len(product_ids)) if rng.uniform() < 0.2 and len(product_ids) > 1 else -1
        )
        skills.append(";".join(p for k, p in enumerate(product_ids) if k != missing))
    first, last = rng.choice(FIRST_NAMES, size=n), rng.choice(SURNAMES, size=n)
    lat, lon = to_degrees(xy)
    return pd.DataFrame(
        {
            "rep_id": _ids("R", n, 3),
            "name": [f"{f} {s}" for f, s in zip(first, last, strict=True)],
            "lat": lat,
            "lon": lon,
            "experience": experience.astype(float),
            "capacity": np.round(FULL_CAPACITY * rng.uniform(0.8, 1.0, size=n)),
            "skills": skills,
            "ramp": np.where(new, 0.5, 1.0),
            "active": True,
        }
    )


def _incumbents(
    rng: np.random.Generator, accounts: pd.DataFrame, reps: pd.DataFrame, near: np.ndarray
) -> np.ndarray:
    """Rep position of each account's incumbent, -1 for a prospect (see the module docstring).

    ``near[a]`` lists every rep position by distance from account ``a``.
    """
    n = len(accounts)
    served = np.ones(n, dtype=bool)
    served[rng.permutation(n)[: round(0.1 * n)]] = False
    senior = reps["experience"].to_numpy() >= A_EXPERIENCE
    skills = [set(s.split(";")) for s in reps["skills"]]
    room = (reps["capacity"] * reps["ramp"]).to_numpy() * (UTILIZATION + 0.05)
    work, segment = accounts["workload"].to_numpy(), accounts["segment"].to_numpy()
    required = accounts["required_skills"].to_numpy()
    owner = np.full(n, -1)
    for a in rng.permutation(n):
        if not served[a]:
            continue
        candidates = [
            r
            for r in near[a]
            if (senior[r] or segment[a] != "A") and (not required[a] or required[a] in skills[r])
        ][:6]
        if candidates:
            fits = [r for r in candidates if room[r] >= work[a]]
            owner[a] = fits[0] if fits else candidates[0]
            room[owner[a]] -= work[a]
    return owner


def _history(
    rng: np.random.Generator,
    potential: np.ndarray,
    served: np.ndarray,
    account_ids: list[str],
    products: pd.DataFrame,
    start: pd.Period,
) -> pd.DataFrame:
    """Monthly sales of the 36 months before ``start``, for served accounts and bought products."""
    months = pd.period_range(end=start - 1, periods=36, freq="M")
    rows, cols = np.nonzero((potential > 0) & served[:, None])
    share = rng.uniform(0.3, 0.6, size=len(served))[rows]
    growth = rng.uniform(0.03, 0.06, size=len(served))[rows]
    trend = (1.0 + growth[:, None]) ** ((np.arange(36) - 29.5) / 12.0)
    noise = np.clip(1.0 + 0.08 * rng.normal(size=(len(rows), 36)), 0.0, None)
    level = share * potential[rows, cols] / 12.0
    sales = np.round(level[:, None] * trend * SEASON[months.month - 1] * noise)
    return pd.DataFrame(
        {
            "account_id": np.repeat(np.array(account_ids)[rows], 36),
            "product_id": np.repeat(products["product_id"].to_numpy()[cols], 36),
            "period": np.tile(months.strftime("%Y-%m"), len(rows)),
            "sales": sales.ravel(),
        }
    )


def _accounts(
    rng: np.random.Generator,
    n: int,
    city_xy: np.ndarray,
    city_w: np.ndarray,
    categories: Sequence[str],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Accounts with location, segment, visits and unscaled workload; and their potential matrix."""
    rural = rng.uniform(size=n) < 0.2
    city = rng.choice(len(city_xy), size=n, p=city_w / city_w.sum())
    sigma = 15.0 + 15.0 * np.sqrt(city_w / city_w.max())
    xy = city_xy[city] + rng.normal(size=(n, 2)) * sigma[city][:, None]
    xy[rural] = _uniform_points(rng, int(rural.sum()))
    lat, lon = to_degrees(_clip(xy))
    potential = _potentials(rng, n, categories)
    segment = _segments(potential.sum(axis=1))
    visits, workload = _base_workload(rng, segment)
    surname, legal = rng.choice(SURNAMES, size=n), rng.choice(LEGAL, size=n)
    frame = pd.DataFrame(
        {
            "account_id": _ids("A", n, 4),
            "name": [
                f"{s} {g} {i + 1:04d}" for i, (s, g) in enumerate(zip(surname, legal, strict=True))
            ],
            "lat": lat,
            "lon": lon,
            "segment": segment.astype(str),
            "potential": potential.sum(axis=1),
            "workload": workload,
            "visits": visits,
        }
    )
    return frame, potential


def _required_skills(
    rng: np.random.Generator, potential: np.ndarray, product_ids: list[str]
) -> list[str]:
    """5% of accounts require the skill of one product they buy."""
    required = [""] * len(potential)
    for a in rng.permutation(len(potential))[: round(0.05 * len(potential))]:
        bought = np.flatnonzero(potential[a] > 0)
        required[a] = product_ids[int(rng.choice(bought))]
    return required


def _regions(
    rng: np.random.Generator,
    seeds: np.ndarray,
    names: list[str],
    accounts: pd.DataFrame,
    history: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Regions (seed location, market figures) and their Delaunay adjacency."""
    ids = _ids("G", len(seeds), 2)
    lat, lon = to_degrees(seeds)
    recent = last_twelve_months(history).merge(accounts[["account_id", "region_id"]])
    sales = recent.groupby("region_id")["sales"].sum().reindex(ids, fill_value=0.0).to_numpy()
    known = accounts.groupby("region_id")["potential"].sum().reindex(ids, fill_value=0.0).to_numpy()
    market = np.round(known * rng.uniform(1.3, 1.8, size=len(ids)), -3)
    share = np.round(np.divide(sales, market, out=np.zeros(len(ids)), where=market > 0), 4)
    regions = pd.DataFrame(
        {
            "region_id": ids,
            "name": [f"Kreis {t}" for t in names],
            "lat": lat,
            "lon": lon,
            "market_potential": market,
            "market_share": share,
            "growth": np.round(rng.uniform(0.02, 0.06, size=len(ids)), 3),
        }
    )
    edges = delaunay_edges(seeds)
    adjacency = pd.DataFrame(
        {"region_a": [ids[i] for i, _ in edges], "region_b": [ids[j] for _, j in edges]}
    )
    return regions, adjacency


def last_twelve_months(history: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``history`` in its 12 latest periods."""
    periods = sorted(history["period"].unique())[-12:]
    return history[history["period"].isin(periods)]


def _check(accounts: int, reps: int, regions: int, products: int, start: str) -> pd.Period:
    problems = [
        f"{name} must be an integer >= 1, got {value!r}"
        for name, value in (
            ("accounts", accounts),
            ("reps", reps),
            ("regions", regions),
            ("products", products),
        )
        if not isinstance(value, int) or value < 1
    ]
    try:
        period = pd.Period(start, freq="M")
    except (ValueError, TypeError):
        problems.append(f"start must be a month YYYY-MM, got {start!r}")
    if problems or start != period.strftime("%Y-%m"):
        raise InputError(problems or [f"start must be a month YYYY-MM, got {start!r}"])
    return period


def generate_company(
    *,
    accounts: int = 2000,
    reps: int = 40,
    regions: int = 30,
    products: int = 4,
    seed: int = 0,
    start: str = "2027-01",
) -> Tables:
    """Generate a plausible sales organisation (the numbers are in the module docstring).

    Parameters
    ----------
    accounts, reps, regions, products
        Table sizes.
    seed
        Seed of numpy's ``default_rng``: the same arguments give identical tables.
    start
        First month (``YYYY-MM``) of the planning year; history covers the 36 months before it.

    Returns
    -------
    Tables
        Validated tables: reps, accounts, regions, adjacency, products, history, account_potential.

    Raises
    ------
    InputError
        When a size is not a positive integer or ``start`` is not a ``YYYY-MM`` month.
    """
    first = _check(accounts, reps, regions, products, start)
    rng = np.random.default_rng(seed)
    seeds = _rounded(_spread_points(rng, regions))
    city_w = 1.0 / np.arange(1, max(1, regions // 2) + 1)
    city_xy = rng.uniform(0.05, 0.95, size=(len(city_w), 2)) * _box_km()
    names = _town_names(rng, len(city_w) + regions)
    product = _products(products)
    acc, potential = _accounts(rng, accounts, city_xy, city_w, list(product["category"]))
    rep = _reps(rng, reps, city_xy, acc, list(product["product_id"]))
    scale = UTILIZATION * rep["capacity"].sum() / acc["workload"].sum()
    acc["workload"] = np.round(acc["workload"] * scale, 1)
    region_ids = np.array(_ids("G", regions, 2))
    acc["region_id"] = region_ids[_nearest(seeds, project_km(acc["lat"], acc["lon"]))]
    rep["region_id"] = region_ids[_nearest(seeds, project_km(rep["lat"], rep["lon"]))]
    acc = _serve(rng, acc, rep, potential, list(product["product_id"]))
    served = (acc["incumbent_rep_id"] != "").to_numpy()
    history = _history(rng, potential, served, list(acc["account_id"]), product, first)
    region, adjacency = _regions(rng, seeds, names[len(city_w) :], acc, history)
    log.debug("generated %d accounts, %d reps, %d regions (seed %d)", accounts, reps, regions, seed)
    return make_tables(
        reps=_ordered("reps", rep),
        accounts=_ordered("accounts", acc),
        regions=_ordered("regions", region),
        adjacency=adjacency,
        products=product,
        history=history,
        account_potential=_long_potential(potential, acc, product),
    )


def _serve(
    rng: np.random.Generator,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    potential: np.ndarray,
    product_ids: list[str],
) -> pd.DataFrame:
    """Accounts with required skills, incumbents and locks (see the module docstring)."""
    out = accounts.copy()
    out["required_skills"] = _required_skills(rng, potential, product_ids)
    near = _nearest(
        project_km(reps["lat"], reps["lon"]), project_km(out["lat"], out["lon"]), k=len(reps)
    )
    owner = _incumbents(rng, out, reps, near)
    out["incumbent_rep_id"] = np.where(owner >= 0, reps["rep_id"].to_numpy()[owner], "")
    out["locked"] = False
    served = np.flatnonzero(owner >= 0)
    out.loc[rng.permutation(served)[: round(0.03 * len(served))], "locked"] = True
    return out


def _long_potential(
    potential: np.ndarray, accounts: pd.DataFrame, products: pd.DataFrame
) -> pd.DataFrame:
    rows, cols = np.nonzero(potential > 0)
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].to_numpy()[rows],
            "product_id": products["product_id"].to_numpy()[cols],
            "potential": potential[rows, cols],
        }
    )


def _ordered(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in contract order: required, optional, then extras (as the CSVs show them)."""
    first = [c for c in (*COLUMNS[name], *OPTIONAL_DEFAULTS.get(name, {})) if c in frame]
    return frame[[*first, *(c for c in frame.columns if c not in first)]]


# ------------------------------------------------------------------ files


#: The demo's scenario blocks; ``target.start`` and ``target.plan`` are filled from the history.
DEMO_SETTINGS = """
target:
  months: 12
  industry_growth: 0.04
  competitor_growth: 0.06
  weights: {plan: 0.4, history: 0.2, industry: 0.2, competitor: 0.2}
  mix:
    categories:
      attack: {min: 0.15, max: 0.35}
      volume: {min: 0.25, max: 0.5}
      profit: {min: 0.15, max: 0.35}
      image: {min: 0.05, max: 0.2}
assignment:
  objective: {travel: 1.0, balance: 50.0, disruption: 5.0}
  constraints:
    capacity: {tolerance: 0.0}
    balance: {measure: potential, tolerance: 0.25}
    experience: {A: 3}
    skills: {}
    continuity: {max_moved_share: 0.25}
    candidates: {nearest: 12}
quota: {fairness: {band: 0.15}, tiers: {method: fixed, base: 0.9, stretch: 1.15}}
solver: {name: highs, time_limit: 60, gap: 0.005}
"""


def demo_settings(tables: Tables, *, output_dir: str = "output") -> dict[str, Any]:
    """The demo's scenario blocks (target, assignment, quota, solver, output) for ``tables``.

    The target starts the month after the history ends, and its plan is 1.05 x the last 12
    months of sales, rounded to 100,000 (no history: no target block).
    """
    settings: dict[str, Any] = {**yaml.safe_load(DEMO_SETTINGS), "output": {"dir": output_dir}}
    if tables.history is None or tables.history.empty:
        del settings["target"]
        return settings
    start = pd.Period(tables.history["period"].max(), freq="M") + 1
    plan = int(np.round(1.05 * last_twelve_months(tables.history)["sales"].sum(), -5))
    settings["target"] = {"start": start.strftime("%Y-%m"), "plan": plan, **settings["target"]}
    return settings


def _csv_text(name: str, frame: pd.DataFrame) -> str:
    """One table as CSV: optional columns at their default omitted, whole floats as ints."""
    out = frame.copy()
    for col, (_, default) in OPTIONAL_DEFAULTS.get(name, {}).items():
        values = out.get(col)
        if values is not None and (
            values.isna().all() if pd.isna(default) else (values == default).all()
        ):
            out = out.drop(columns=col)
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_float_dtype(values) and values.notna().all() and (values % 1 == 0).all():
            out[col] = values.astype("int64")
    return out.to_csv(index=False, lineterminator="\n")


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary name and rename, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise AllocatorError(f"{path}: cannot write ({exc.strerror})") from None


def write_company(
    tables: Tables,
    outdir: str | Path,
    *,
    scenario_name: str,
    description: str = "",
    settings: Mapping[str, Any] | None = None,
    yaml_name: str = "scenario.yaml",
) -> Path:
    """Write one CSV per table and a scenario YAML using them (paths relative to the YAML).

    Parameters
    ----------
    tables
        The tables to write (``None`` tables are skipped).
    outdir
        Folder to write into; created when missing.
    scenario_name, description
        The scenario's ``name`` and ``description``.
    settings
        The other scenario blocks (``target``, ``assignment``, ...); default :func:`demo_settings`.
    yaml_name
        File name of the scenario.

    Returns
    -------
    Path
        The scenario file.

    Raises
    ------
    AllocatorError
        When a file cannot be written.
    """
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AllocatorError(f"{outdir}: cannot create the folder ({exc.strerror})") from None
    data = {}
    for name in TABLE_NAMES:
        frame = getattr(tables, name)
        if frame is not None:
            _write_text(outdir / f"{name}.csv", _csv_text(name, frame))
            data[name] = f"{name}.csv"
    blocks = dict(settings) if settings is not None else demo_settings(tables)
    text = f"{tables.summary()}, made by allocator.generate"
    doc = {"name": scenario_name, "description": description or text, "data": data, **blocks}
    path = outdir / yaml_name
    _write_text(path, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    return path


def write_demo(outdir: str | Path = DEMO_DIR) -> Path:
    """(Re)write the shipped demo: the default company (seed 0) and ``demo.yaml``."""
    tables = generate_company()
    settings = demo_settings(tables, output_dir="output/demo")
    text = (
        "A generated company: 2,000 accounts, 40 reps, 30 regions, 4 product lines and 36 months"
        " of history (allocator.generate, seed 0)."
    )
    return write_company(
        tables,
        outdir,
        scenario_name="demo",
        description=text,
        settings=settings,
        yaml_name="demo.yaml",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m allocator.generate (--demo | OUTDIR [--accounts N ...])``: the exit code."""
    parser = argparse.ArgumentParser(prog="python -m allocator.generate")
    parser.add_argument("outdir", nargs="?", help="folder for the tables and scenario.yaml")
    parser.add_argument("--demo", action="store_true", help="rewrite the demo in allocator/demo")
    for name, default in (("accounts", 2000), ("reps", 40), ("regions", 30), ("products", 4)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", default="2027-01", help="first planning month, YYYY-MM")
    parser.add_argument("--name", default="generated", help="scenario name")
    args = parser.parse_args(argv)
    if args.demo == bool(args.outdir):
        parser.error("give either --demo or an output folder")
    sizes = {k: getattr(args, k) for k in ("accounts", "reps", "regions", "products", "seed")}
    try:
        if args.demo:
            path = write_demo()
        else:
            tables = generate_company(**sizes, start=args.start)
            path = write_company(tables, args.outdir, scenario_name=args.name)
    except AllocatorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
