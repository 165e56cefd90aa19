"""The sales team of the demo generator: reps near cities, and who serves which account today.

:func:`make_reps` bases reps near cities in proportion to the workload nearest them, with
capacity, experience, ramp and skills; :func:`serve_accounts` gives accounts their required
skills, incumbents (the first of their 6 nearest eligible reps with room left) and locks. The
numbers and why are in :mod:`allocator.demo.generate`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.demo.country import (
    FIRST_NAMES,
    SURNAMES,
    clip_to_box,
    distances,
    make_ids,
    nearest,
    project_km,
    to_degrees,
)

__all__ = ["A_EXPERIENCE", "FULL_CAPACITY", "UTILIZATION", "make_reps", "serve_accounts"]

UTILIZATION = 0.80
#: Years of experience an A account needs (the demo's ``experience: {A: 3}``).
A_EXPERIENCE = 3
FULL_CAPACITY = 1600.0


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder split of ``total`` items in proportion to ``weights``."""
    quota = total * weights / weights.sum()
    counts = np.floor(quota).astype(int)
    counts[np.argsort(-(quota - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


def make_reps(
    rng: np.random.Generator,
    n: int,
    city_xy: np.ndarray,
    accounts: pd.DataFrame,
    product_ids: list[str],
) -> pd.DataFrame:
    """Reps based near cities, more where more workload is nearest (see the module docstring)."""
    nearest_city = nearest(city_xy, project_km(accounts["lat"], accounts["lon"]))
    load = np.bincount(nearest_city, weights=accounts["workload"], minlength=len(city_xy))
    home = np.repeat(np.arange(len(city_xy)), _apportion(n, load))
    xy = clip_to_box(city_xy[home] + rng.normal(0.0, 10.0, size=(n, 2)))
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
            "rep_id": make_ids("R", n, 3),
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

    ``near[a]`` lists the positions of account ``a``'s nearest eligible reps in distance
    order, -1 where it has fewer.
    """
    n = len(accounts)
    served = np.ones(n, dtype=bool)
    served[rng.permutation(n)[: round(0.1 * n)]] = False
    room = (reps["capacity"] * reps["ramp"]).to_numpy() * (UTILIZATION + 0.05)
    work = accounts["workload"].to_numpy()
    owner = np.full(n, -1)
    for a in rng.permutation(n):
        if not served[a]:
            continue
        candidates = [r for r in near[a].tolist() if r >= 0]
        if candidates:
            fits = [r for r in candidates if room[r] >= work[a]]
            owner[a] = fits[0] if fits else candidates[0]
            room[owner[a]] -= work[a]
    return owner


def _eligible_nearest(accounts: pd.DataFrame, reps: pd.DataFrame, k: int) -> np.ndarray:
    """(accounts, k) positions of each account's ``k`` nearest eligible reps (experience >= 3
    for an A account, the required skill), in distance order (stable: ties by position), -1
    where there are fewer. Blocks of about 4 million pairs: no (accounts, reps) matrix stays."""
    points = project_km(reps["lat"], reps["lon"])
    queries = project_km(accounts["lat"], accounts["lon"])
    senior = reps["experience"].to_numpy() >= A_EXPERIENCE
    skills = [set(s.split(";")) for s in reps["skills"]]
    required = accounts["required_skills"].to_numpy()
    junior_ok = (accounts["segment"].to_numpy() != "A")[:, None]
    kinds = {req: np.array([not req or req in have for have in skills]) for req in set(required)}
    out = np.full((len(queries), min(k, len(points))), -1)
    size = max(1, (1 << 22) // max(len(points), 1))
    for lo in range(0, len(queries), size):
        part = slice(lo, lo + size)
        ok = np.array([kinds[req] for req in required[part]]) & (senior[None, :] | junior_ok[part])
        dist = np.where(ok, distances(points, queries[part]), np.inf)
        order = np.argsort(dist, axis=1, kind="stable")[:, : out.shape[1]]
        out[part] = np.where(np.take_along_axis(ok, order, axis=1), order, -1)
    return out


def _required_skills(
    rng: np.random.Generator, potential: np.ndarray, product_ids: list[str]
) -> list[str]:
    """5% of accounts require the skill of one product they buy."""
    required = [""] * len(potential)
    for a in rng.permutation(len(potential))[: round(0.05 * len(potential))]:
        bought = np.flatnonzero(potential[a] > 0)
        required[a] = product_ids[int(rng.choice(bought))]
    return required


def serve_accounts(
    rng: np.random.Generator,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    potential: np.ndarray,
    product_ids: list[str],
) -> pd.DataFrame:
    """Accounts with required skills, incumbents and locks (see the module docstring)."""
    out = accounts.copy()
    out["required_skills"] = _required_skills(rng, potential, product_ids)
    owner = _incumbents(rng, out, reps, _eligible_nearest(out, reps, 6))
    out["incumbent_rep_id"] = np.where(owner >= 0, reps["rep_id"].to_numpy()[owner], "")
    out["locked"] = False
    served = np.flatnonzero(owner >= 0)
    out.loc[rng.permutation(served)[: round(0.03 * len(served))], "locked"] = True
    return out
