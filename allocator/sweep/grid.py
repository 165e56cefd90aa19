"""The variants of a sweep: a grid of key paths x lists of values, and/or named variants.

A sweep block maps dotted key paths of the scenario to lists of values; the grid is their
product. The reserved key ``variants:`` maps a variant name to a mapping of key path -> value.
When both are given, every named variant is crossed with every grid point (the grid is applied
on top of the variant, so one key path may not appear in both). Each variant is a full
:class:`~allocator.io.scenario.Scenario` made with :meth:`Scenario.replace`, without ``sweep`` and
named ``<base name>/<variant id>``; the id is readable and safe as a folder name
(``max_moved_share=0.1__tolerance=0.05``, ``low-travel__tolerance=0.05``).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from allocator.exceptions import ScenarioError
from allocator.io.scenario import Scenario

__all__ = ["VARIANTS_KEY", "Variant", "check_key_path", "expand_sweep", "split_sweep_block"]

#: The reserved key of a ``sweep:`` block that holds named variants.
VARIANTS_KEY = "variants"
#: Top-level keys a sweep may not change: they identify the sweep itself.
RESERVED_TOP = ("name", "sweep")
MAX_ID = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")


@dataclass(frozen=True)
class Variant:
    """One scenario of a sweep: its id (a folder name), its name, its parameters, its scenario."""

    id: str
    scenario: Scenario
    params: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""


def split_sweep_block(
    block: Mapping[str, Any] | None, *, source: str = "sweep"
) -> tuple[dict[str, list[Any]], dict[str, dict[str, Any]]]:
    """Split a ``sweep:`` block into the grid (key path -> values) and the named variants.

    Raises
    ------
    ScenarioError
        When a grid entry is not a non-empty list, or ``variants`` is not a mapping of
        mappings.
    """
    grid: dict[str, list[Any]] = {}
    variants: dict[str, dict[str, Any]] = {}
    for key, values in (block or {}).items():
        if key == VARIANTS_KEY:
            variants = _named_variants(values, source)
        else:
            grid[str(key)] = _value_list(str(key), values, source)
    return grid, variants


def _value_list(key: str, values: Any, source: str) -> list[Any]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
        raise ScenarioError(f"{source}: sweep.{key}: expected a list of values, got {values!r}")
    if not values:
        raise ScenarioError(f"{source}: sweep.{key}: the list of values is empty")
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ScenarioError(f"{source}: sweep.{key}: the value {value!r} is listed twice")
    return list(values)


def _named_variants(values: Any, source: str) -> dict[str, dict[str, Any]]:
    if not isinstance(values, Mapping) or not values:
        raise ScenarioError(f"{source}: sweep.variants: expected a mapping of name -> changes")
    out = {}
    for name, changes in values.items():
        name = str(name)
        if not _NAME.match(name) or len(name) > MAX_ID:
            raise ScenarioError(
                f"{source}: sweep.variants.{name}: a variant name is a folder name: letters, "
                "digits and . _ = + - only, not starting with . or -"
            )
        if not isinstance(changes, Mapping):
            raise ScenarioError(
                f"{source}: sweep.variants.{name}: expected a mapping of key path -> value, "
                f"got {changes!r}"
            )
        out[name] = {str(k): v for k, v in changes.items()}
    return out


def check_key_path(path: str, *, source: str = "sweep") -> None:
    """Check that a dotted key path names a scenario setting.

    Raises
    ------
    ScenarioError
        When a part of the path is not a key of the block above it (with a suggestion).
    """
    parts = path.split(".")
    if parts[0] in RESERVED_TOP or not all(parts):
        raise ScenarioError(f"{source}: {path}: a sweep cannot change this key")
    model: type[BaseModel] | None = Scenario
    for depth, part in enumerate(parts):
        if model is None:
            above = ".".join(parts[:depth])
            raise ScenarioError(f"{source}: {path}: unknown key path ({above} holds a value)")
        fields = model.model_fields
        if part not in fields:
            close = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.6)
            hint = (
                f" (did you mean '{close[0]}'?)"
                if close
                else f" (expected one of: {', '.join(fields)})"
            )
            raise ScenarioError(f"{source}: {path}: unknown key path: no key '{part}'{hint}")
        annotation = fields[part].annotation
        if _is_mapping(annotation):
            return  # free keys below, e.g. assignment.constraints.experience.A
        model = _model_of(annotation)


def _is_mapping(annotation: Any) -> bool:
    if getattr(annotation, "__origin__", None) is dict:
        return True
    return any(_is_mapping(arg) for arg in getattr(annotation, "__args__", ()))


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def expand_sweep(
    base: Scenario,
    grid: Mapping[str, Sequence[Any]] | None = None,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    source: str = "sweep",
) -> list[Variant]:
    """Every variant of the sweep, in order: named variants (given order) x grid points.

    Raises
    ------
    ScenarioError
        When there is nothing to sweep, a key path is unknown, a value is invalid for its key
        (the message names the variant and the key path), a key path is both in a named
        variant and in the grid, or two variants would get the same id.
    """
    grid = {k: _value_list(k, v, source) for k, v in (grid or {}).items()}
    named = _named_variants(variants, source) if variants else {"": {}}
    if not grid and named == {"": {}}:
        raise ScenarioError(f"{source}: nothing to sweep: give a grid of key paths or variants")
    for path in [*grid, *(k for changes in named.values() for k in changes)]:
        check_key_path(path, source=source)
    labels = _labels(list(grid))
    out: list[Variant] = []
    for name, changes in named.items():
        both = sorted(set(changes) & set(grid))
        if both:
            raise ScenarioError(f"{source}: sweep.variants.{name}: {both[0]} is also in the grid")
        for point in itertools.product(*grid.values()):
            params = dict(zip(grid, point, strict=True))
            ident = _variant_id(name, [(labels[k], v) for k, v in params.items()])
            out.append(_make(base, ident, name, {**changes, **params}, source))
    _check_unique(out, source)
    return out


def _make(base: Scenario, ident: str, name: str, params: dict[str, Any], source: str) -> Variant:
    changes = {"sweep": None, "name": f"{base.name}/{ident}", **params}
    scenario = base.replace(changes, source=f"{source}: sweep variant '{ident}'")
    return Variant(id=ident, scenario=scenario, params=params, name=name)


def _labels(paths: list[str]) -> dict[str, str]:
    """The shortest unambiguous suffix of each key path: ``tolerance``, ``balance.tolerance``."""
    depth = 1
    while True:
        labels = {p: ".".join(p.split(".")[-depth:]) for p in paths}
        if len(set(labels.values())) == len(paths):
            return labels
        depth += 1


def format_value(value: Any) -> str:
    """A value as it appears in a variant id."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, int | str):
        text = str(value)
    else:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text


def _variant_id(name: str, items: list[tuple[str, Any]]) -> str:
    parts = [name] if name else []
    parts += [f"{label}={format_value(value)}" for label, value in items]
    ident = _UNSAFE.sub("-", "__".join(parts)).lstrip(".-") or "variant"
    if len(ident) > MAX_ID:
        digest = hashlib.sha1(ident.encode()).hexdigest()[:8]
        ident = f"{ident[: MAX_ID - 9]}-{digest}"
    return ident


def _check_unique(variants: list[Variant], source: str) -> None:
    seen: dict[str, Variant] = {}
    for variant in variants:
        key = variant.id.lower()  # folders of case-insensitive file systems must differ too
        if key in seen:
            raise ScenarioError(
                f"{source}: two variants get the same id '{variant.id}' ({seen[key].params} "
                f"and {variant.params}): make the values differ in letters or digits"
            )
        seen[key] = variant
