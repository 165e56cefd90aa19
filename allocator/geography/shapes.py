"""Region polygons from the files planners have: GeoJSON, GeoPackage, Shapefile.

:func:`read_shapes` reads one polygon layer with geopandas (pyogrio engine) and returns the
region attributes (one row per feature: ``region_id``, ``name``, ``lat``/``lon`` and every other
property) and the polygons as a :class:`geopandas.GeoDataFrame` indexed by ``region_id`` in
EPSG:4326 (lon/lat degrees): the shape ``Tables.shapes`` documents. ``lat``/``lon`` that the
file leaves blank become the polygon's representative point (a point guaranteed inside the
polygon, unlike the centroid of a crescent-shaped county or of an archipelago).

Every problem with the file (unreadable, no features, missing id property, blank or repeated
ids, empty or non-polygon geometries, projected coordinates without a coordinate system) is
raised as ONE :class:`~allocator.exceptions.InputError` naming the file and the features.
"""

from __future__ import annotations

import difflib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import InputError

__all__ = ["POLYGON_SUFFIXES", "WGS84", "RegionShapes", "is_polygon_file", "read_shapes"]

log = logging.getLogger("allocator")

#: File types read as polygons (a Shapefile is named by its ``.shp``, with ``.dbf``/``.prj``).
POLYGON_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".shp")

#: The coordinate system of ``Tables.shapes``: lon/lat degrees.
WGS84 = "EPSG:4326"

_POLYGONAL = ("Polygon", "MultiPolygon")
_SHOWN = 5  # features named in one problem line before "and N more"


@dataclass(frozen=True)
class RegionShapes:
    """A polygon layer as allocator uses it.

    ``attributes``: one row per feature in file order: ``region_id`` (str), ``name`` (str),
    ``lat``, ``lon`` (degrees: the file's own values, else the representative point) and the
    file's other properties as read. ``shapes``: a ``GeoDataFrame`` indexed by ``region_id``
    with one column ``geometry`` (Polygon or MultiPolygon, EPSG:4326).
    """

    attributes: pd.DataFrame
    shapes: Any  # geopandas.GeoDataFrame; geopandas is imported lazily (slow to import)


def is_polygon_file(path: str | Path) -> bool:
    """True when ``path`` names a polygon file by its suffix (:data:`POLYGON_SUFFIXES`)."""
    return Path(path).suffix.lower() in POLYGON_SUFFIXES


def read_shapes(
    path: str | Path,
    *,
    id_column: str = "region_id",
    name_column: str = "name",
    layer: str | None = None,
) -> RegionShapes:
    """Read the polygon layer ``path`` (GeoJSON, GeoPackage or Shapefile) as regions.

    ``id_column``/``name_column`` name the properties holding the region id and the name
    (without a name property the names are the ids); ``layer`` picks a GeoPackage layer
    (default: the first). Geometries are reprojected to EPSG:4326; a file without a coordinate
    system is taken as lon/lat when its coordinates fit, else rejected. Invalid polygons
    (self-crossing rings) are repaired with ``shapely.make_valid``, keeping the polygonal part.

    Raises
    ------
    InputError
        One error listing every problem of the file, each naming the file and the features
        (``feature n`` counts from 1 in file order).
    """
    where = str(path)
    frame = _read(Path(path), layer, where)
    problems: list[str] = []
    ids = _ids(frame, id_column, where, problems)
    _check_geometry(frame, where, problems)
    if problems:
        raise InputError(problems)
    frame = _to_wgs84(frame, where)
    geometry = _repaired(frame.geometry, where)
    attributes = _attributes(frame, ids, id_column, name_column)
    _fill_points(attributes, geometry)
    shapes = type(frame)(
        {"geometry": geometry.to_numpy()}, index=pd.Index(ids, name="region_id"), crs=WGS84
    )
    log.debug("read %d region polygons from %s", len(shapes), where)
    return RegionShapes(attributes, shapes)


def _read(path: Path, layer: str | None, where: str) -> Any:
    import geopandas as gpd
    import pyogrio

    if not path.is_file():
        raise InputError([f"{where}: file not found"])
    try:
        if layer is not None:
            layers = [str(row[0]) for row in pyogrio.list_layers(path)]
            if layer not in layers:
                raise InputError(
                    [
                        f"{where}: no layer '{layer}' (layers: {', '.join(layers)}; "
                        "set geography.layer to one of them)"
                    ]
                )
        frame = gpd.read_file(path, engine="pyogrio", layer=layer)
    except InputError:
        raise
    except (RuntimeError, ValueError, OSError) as exc:  # pyogrio's errors are RuntimeErrors
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            [
                f"{where}: cannot read the region polygons ({reason}); expected a GeoJSON, "
                "GeoPackage or Shapefile of region outlines"
            ]
        ) from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.empty:
        raise InputError([f"{where}: no features (expected one polygon per region)"])
    return frame


def _id_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a numeric id field stored as a float: 12.0 -> "12"
    return str(value).strip()


def _features(mask: pd.Series) -> str:
    """``feature 3``, ``features 3, 7`` or ``features 3, 7, ... (12 in all)`` (1-based)."""
    where = [int(i) + 1 for i in mask.to_numpy().nonzero()[0]]
    shown = ", ".join(str(n) for n in where[:_SHOWN])
    more = f", ... ({len(where)} in all)" if len(where) > _SHOWN else ""
    return f"feature{'s' if len(where) > 1 else ''} {shown}{more}"


def _ids(frame: Any, id_column: str, where: str, problems: list[str]) -> pd.Series:
    if id_column not in frame.columns:
        props = [str(c) for c in frame.columns if c != frame.geometry.name]
        close = difflib.get_close_matches(id_column, props, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(
            f"{where}: no property '{id_column}' holding the region ids{hint} "
            f"(properties: {', '.join(props) or 'none'}; set geography.id_column to the right one)"
        )
        return pd.Series([""] * len(frame), dtype=object)
    ids = frame[id_column].map(_id_text).astype(str).reset_index(drop=True)
    blank = ids == ""
    if blank.any():
        problems.append(f"{where}: {_features(blank)}: property '{id_column}': empty region id")
    repeated = ids.duplicated(keep=False) & ~blank
    for value in ids[repeated].unique()[:_SHOWN]:
        problems.append(
            f"{where}: {_features(ids == value)}: property '{id_column}': region id "
            f"'{value}' is given more than once (expected one polygon per region; merge them "
            "into one MultiPolygon)"
        )
    return ids


def _check_geometry(frame: Any, where: str, problems: list[str]) -> None:
    geometry = frame.geometry.reset_index(drop=True)
    missing = geometry.isna() | geometry.is_empty
    kinds = geometry.geom_type
    wrong = ~missing & ~kinds.isin(_POLYGONAL)
    if missing.any():
        problems.append(f"{where}: {_features(missing)}: no geometry (expected a polygon)")
    if wrong.any():
        kind = kinds[wrong].iloc[0]
        problems.append(
            f"{where}: {_features(wrong)}: {kind} geometry (expected Polygon or MultiPolygon "
            "region outlines; points belong in a regions table with lat and lon)"
        )


def _to_wgs84(frame: Any, where: str) -> Any:
    if frame.crs is None:
        minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
        if max(abs(minx), abs(maxx)) <= 180 and max(abs(miny), abs(maxy)) <= 90:
            log.warning("%s: no coordinate system; taken as lon/lat degrees (EPSG:4326)", where)
            return frame.set_crs(WGS84)
        raise InputError(
            [
                f"{where}: no coordinate system, and the coordinates are not lon/lat degrees "
                f"(x from {minx:g} to {maxx:g}); put the .prj file beside the .shp, or save the "
                "layer with its coordinate system"
            ]
        )
    return frame if frame.crs.to_epsg() == 4326 else frame.to_crs(WGS84)


def _polygonal(geom: Any) -> Any:
    import shapely

    if geom.geom_type in _POLYGONAL:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
    return shapely.union_all(parts)


def _repaired(geometry: Any, where: str) -> Any:
    import shapely

    geometry = geometry.reset_index(drop=True)
    invalid = ~geometry.is_valid
    if invalid.any():
        log.info("%s: %s: invalid polygons repaired", where, _features(invalid))
        fixed = [_polygonal(shapely.make_valid(g)) for g in geometry[invalid]]
        geometry = geometry.copy()
        geometry[invalid] = fixed
    return geometry


def _attributes(frame: Any, ids: pd.Series, id_column: str, name_column: str) -> pd.DataFrame:
    props = pd.DataFrame(frame.drop(columns=frame.geometry.name)).reset_index(drop=True)
    names = props.pop(name_column).map(_id_text) if name_column in props else ids
    props = props.drop(columns=[c for c in (id_column, "region_id", "name") if c in props])
    props.insert(0, "region_id", ids.to_numpy())
    props.insert(1, "name", names.to_numpy())
    return props


def _fill_points(attributes: pd.DataFrame, geometry: Any) -> None:
    """Blank or absent ``lat``/``lon`` take the representative point of the polygon."""
    points = geometry.representative_point()
    for column, values in (("lat", points.y), ("lon", points.x)):
        given = (
            attributes[column] if column in attributes else pd.Series(None, index=attributes.index)
        )
        blank = given.isna() | (given.astype(str).str.strip() == "")
        attributes[column] = given.astype(object).mask(blank, values.to_numpy())
