"""The country of the demo generator: its box, its km plane, spread points, and its names.

The generated company lives in a country-sized box, latitude 47-55 and longitude 6-15, projected
to km around latitude 51 (equirectangular, 111.2 km per degree, :func:`project_km`); every
"nearest" of the generator is measured in that plane (:func:`nearest`). Region seeds are spread
by best-candidate sampling (:func:`spread_points`), regions are adjacent when their seeds share
a Delaunay edge (:func:`delaunay_edges`). Towns, people and firms get German-sounding names.
The tables themselves are made by :mod:`allocator.demo.generate`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import Delaunay, cKDTree

__all__ = [
    "box_km",
    "clip_to_box",
    "delaunay_edges",
    "make_ids",
    "nearest",
    "project_km",
    "rounded_points",
    "spread_points",
    "to_degrees",
    "town_names",
    "uniform_points",
]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


LAT, LON, REF_LAT, KM_PER_DEG = (47.0, 55.0), (6.0, 15.0), 51.0, 111.2

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


def box_km() -> np.ndarray:
    return project_km(np.array(LAT), np.array(LON))[1]


def uniform_points(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=(n, 2)) * box_km()


def spread_points(rng: np.random.Generator, n: int, *, tries: int = 10) -> np.ndarray:
    """Best-candidate sampling: well spread points, so no Voronoi cell is a sliver."""
    points = uniform_points(rng, 1)
    for _ in range(n - 1):
        candidates = uniform_points(rng, tries)
        far = cKDTree(points).query(candidates)[0]
        points = np.vstack([points, candidates[np.argmax(far)]])
    return points


def clip_to_box(xy: np.ndarray) -> np.ndarray:
    return np.clip(xy, 0.0, box_km())


def rounded_points(xy: np.ndarray) -> np.ndarray:
    """Points as stored (degrees to 5 decimals), back in km: what a reader of the CSV sees."""
    return project_km(*to_degrees(xy))


def nearest(points: np.ndarray, queries: np.ndarray, *, k: int = 1) -> np.ndarray:
    """Position of the nearest point of each query (``k > 1``: the ``k`` nearest, in order).

    Queries are taken in blocks of about 4 million distances (row by row the same answer), so
    250,000 accounts x 2,000 reps never hold a (queries, points) matrix."""
    size = max(1, (1 << 22) // max(len(points), 1))
    out = [_nearest(points, queries[lo : lo + size], k) for lo in range(0, len(queries), size)]
    return np.concatenate(out) if out else _nearest(points, queries, k)


def distances(points: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(queries, points) plane distances in km of (n, 2) km coordinates."""
    return np.hypot(
        queries[:, None, 0] - points[None, :, 0], queries[:, None, 1] - points[None, :, 1]
    )


def _nearest(points: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    dist = distances(points, queries)
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


def town_names(rng: np.random.Generator, n: int) -> list[str]:
    pool = [p + s for p in PREFIXES for s in STEMS]
    picks = rng.permutation(max(n, len(pool)))[:n]
    return [
        pool[k % len(pool)] + (f" {k // len(pool) + 1}" if k >= len(pool) else "") for k in picks
    ]


def make_ids(prefix: str, n: int, width: int) -> list[str]:
    width = max(width, len(str(n)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]
