"""Scenario files: YAML in, a validated, frozen :class:`Scenario` value out.

A scenario may ``extends:`` another file (chains allowed, cycles reported); the child's keys are
deep-merged over the parent's. Paths under ``data:`` and ``output.dir`` are relative to the file
that names them and are resolved to absolute paths while loading, so a parent's tables are found
wherever the child lives. Two loads of the same content give equal scenarios with the same
:meth:`Scenario.hash`, whatever the key order.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from allocator.exceptions import ScenarioError
from allocator.io.database import resolve_file_url
from allocator.io.settings import (
    ActivitySettings,
    AssignmentSettings,
    DataPaths,
    GeographySettings,
    OutputSettings,
    QuotaSettings,
    SolverSettings,
    StaffingSettings,
    TargetSettings,
    TrackSettings,
)

__all__ = ["Scenario", "deep_merge", "load_scenario", "scenario_from_dict"]


class Scenario(BaseModel):
    """A validated scenario: what to solve, with which data, settings and solver.

    Build one with :func:`load_scenario`; derive variants with :meth:`replace`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "scenario"
    description: str = ""
    data: DataPaths = DataPaths()
    geography: GeographySettings = GeographySettings()
    target: TargetSettings | None = None
    assignment: AssignmentSettings = AssignmentSettings()
    quota: QuotaSettings | None = None
    solver: SolverSettings = SolverSettings()
    output: OutputSettings = OutputSettings()
    sweep: dict[str, Any] | None = None
    track: TrackSettings = TrackSettings()
    activities: ActivitySettings | None = None
    staffing: StaffingSettings = StaffingSettings()

    def hash(self) -> str:
        """Return a stable SHA-256 of the scenario's content (key order does not matter)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def replace(self, changes: dict[str, Any], *, source: str = "<replace>") -> Scenario:
        """Return a new scenario with ``changes`` (nested dict or dotted key paths) merged in.

        ``scenario.replace({"assignment.constraints.balance.tolerance": 0.05})``. A block that
        is off (``None``) is turned on by a change inside it, with defaults for the rest. Paths
        given here are taken as they are (not relative to any file).

        Raises
        ------
        ScenarioError
            When a key is unknown or a value invalid; messages name ``source`` and the key path.
        """
        nested: dict[str, Any] = {}
        for key, value in changes.items():
            deep_merge_into(nested, _unflatten(key, value))
        merged = deep_merge(self.model_dump(mode="json"), nested)
        return scenario_from_dict(merged, source=source)


def _unflatten(key: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return dict(out)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in: dicts recursively, anything else replaced."""
    out = dict(base)
    deep_merge_into(out, override)
    return out


def deep_merge_into(target: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = deep_merge(target[key], value)
        else:
            target[key] = value


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects a key given twice in one mapping (PyYAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if seen.setdefault(key, line) != line:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} is given twice (first on line {seen[key]})",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _read_yaml(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{shown}: scenario file not found") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{shown}: not UTF-8 text") from None
    except OSError as exc:
        raise ScenarioError(f"{shown}: cannot read the scenario file ({exc.strerror})") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{shown}:{where} not valid YAML ({problem})") from None
    if raw is None:
        what = "empty" if not text.strip() else "empty (only comments)"
        raise ScenarioError(
            f"{shown}: the scenario file is {what}; expected keys such as name:, data: "
            "(reps:, accounts:) and assignment: (see docs/scenario.md)"
        )
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        raise ScenarioError(f"{shown}: expected a mapping of keys at the top, got a {kind}")
    return raw


def _resolve(base: Path, value: str) -> str:
    return str((base / Path(value).expanduser()).resolve())


def _resolve_paths(raw: dict[str, Any], base: Path, shown: str) -> dict[str, Any]:
    """Make ``data:`` paths and ``output.dir`` absolute, relative to ``base``."""
    out = dict(raw)
    data = out.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise ScenarioError(f"{shown}: data: expected a mapping of table name to path")
        out["data"] = {k: _resolve_table(base, v) for k, v in data.items()}
    assignment = out.get("assignment")
    if isinstance(assignment, dict) and isinstance(assignment.get("overrides"), str):
        out["assignment"] = {**assignment, "overrides": _resolve(base, assignment["overrides"])}
    output = out.get("output")
    if isinstance(output, dict) and isinstance(output.get("dir"), str):
        out["output"] = output = {**output, "dir": _resolve(base, output["dir"])}
    if isinstance(output, dict) and isinstance(output.get("database"), str):
        out["output"] = {**output, "database": resolve_file_url(output["database"], base)}
    return out


def _resolve_table(base: Path, value: Any) -> Any:
    """A file path made absolute; a database table's SQLite/DuckDB file likewise."""
    if isinstance(value, str):
        return _resolve(base, value)
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return {**value, "url": resolve_file_url(value["url"], base)}
    return value


Origins = dict[tuple[str, ...], str]


def _key_paths(raw: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in raw.items():
        path = (*prefix, str(key))
        out.append(path)
        if isinstance(value, dict):
            out.extend(_key_paths(value, path))
    return out


def _load_chain(path: Path, shown: str, seen: tuple[Path, ...]) -> tuple[dict[str, Any], Origins]:
    """The merged mapping of ``path`` and its ``extends`` ancestors, and the file of each key."""
    path = path.resolve()
    if path in seen:
        cycle = " -> ".join(str(p) for p in (*seen, path))
        raise ScenarioError(f"{seen[-1]}: extends: cycle of scenarios: {cycle}")
    raw = _resolve_paths(_read_yaml(path, shown), path.parent, shown)
    parent = raw.pop("extends", None)
    origins = dict.fromkeys(_key_paths(raw), shown)
    if parent is None:
        return raw, origins
    if not isinstance(parent, str):
        raise ScenarioError(f"{shown}: extends: expected a file path, got {parent!r}")
    parent_path = (path.parent / Path(parent).expanduser()).resolve()
    if not parent_path.is_file():
        raise ScenarioError(f"{shown}: extends: file not found: {parent_path}")
    base, base_origins = _load_chain(parent_path, str(parent_path), (*seen, path))
    return deep_merge(base, raw), {**base_origins, **origins}


def load_scenario(path: str | Path) -> Scenario:
    """Load, merge (``extends``) and validate a scenario file.

    Raises
    ------
    ScenarioError
        When the file is missing, not YAML, extends a missing file or a cycle, or a key is
        unknown or holds a bad value; the message names the file that set the key (a parent's
        key is reported in the parent) and the key path.
    """
    merged, origins = _load_chain(Path(path), str(path), ())
    return scenario_from_dict(merged, source=str(path), origins=origins)


def scenario_from_dict(
    raw: dict[str, Any], *, source: str = "<dict>", origins: Origins | None = None
) -> Scenario:
    """Validate a (merged) scenario mapping; errors name the file and the key path.

    ``origins`` maps key paths to the file that set them (from an ``extends`` chain); keys not
    in it are reported in ``source``.

    Raises
    ------
    ScenarioError
        One line per unknown key or bad value.
    """
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, source, origins or {})) from None


def _origin(loc: list[str], source: str, origins: Origins) -> str:
    for n in range(len(loc), 0, -1):
        found = origins.get(tuple(loc[:n]))
        if found is not None:
            return found
    return source


def _format_errors(exc: ValidationError, source: str, origins: Origins) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-after")]
        if loc and loc[-1] == "str" and isinstance(err.get("input"), dict):
            continue  # the text branch of a table that is a {url: ...} mapping: not the problem
        loc = [p for p in loc if p != "DatabaseTable"]
        key, where = ".".join(loc) or "(top level)", _origin(loc, source, origins)
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: {key}: unknown key{_did_you_mean(loc)}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f", got {got!r}"
            lines.append(f"{where}: {key}: {msg}{shown}")
    return "\n".join(lines)


def _did_you_mean(loc: list[str]) -> str:
    annotation: Any = Scenario
    for part in loc[:-1]:
        annotation = _step(annotation, part)
    model = _model_of(annotation)
    names = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of: {', '.join(names)})" if names else ""


def _step(annotation: Any, part: str) -> Any:
    """The annotation of ``part`` inside ``annotation`` (a model field or a dict's values)."""
    for option in (annotation, *get_args(annotation)):
        if get_origin(option) is dict:
            return get_args(option)[1]
        if isinstance(option, type) and issubclass(option, BaseModel):
            field = option.model_fields.get(part)
            return None if field is None else field.annotation
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for option in (annotation, *get_args(annotation)):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None
