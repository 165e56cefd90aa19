"""Great-circle distances on a sphere of radius 6371 km (haversine), vectorised with numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["EARTH_RADIUS_KM", "distance_matrix", "haversine_km"]

EARTH_RADIUS_KM = 6371.0

FloatArray = npt.NDArray[np.float64]


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Great-circle km between points given in degrees; the arguments broadcast like numpy.

    >>> round(float(haversine_km(0.0, 0.0, 0.0, 1.0)), 3)
    111.195
    """
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), float)


def distance_matrix(
    lat: npt.ArrayLike, lon: npt.ArrayLike, rep_lat: npt.ArrayLike, rep_lon: npt.ArrayLike
) -> FloatArray:
    """Km from every point (rows) to every rep's home (columns): shape (points, reps)."""
    lat, lon = np.asarray(lat, float)[:, None], np.asarray(lon, float)[:, None]
    rep_lat, rep_lon = np.asarray(rep_lat, float)[None, :], np.asarray(rep_lon, float)[None, :]
    return haversine_km(lat, lon, rep_lat, rep_lon)
