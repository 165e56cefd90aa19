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
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from allocator.exceptions import ScenarioError
from allocator.settings import (
    AssignmentSettings,
    DataPaths,
    OutputSettings,
    QuotaSettings,
    SolverSettings,
    TargetSettings,
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
    target: TargetSettings | None = None
    assignment: AssignmentSettings = AssignmentSettings()
    quota: QuotaSettings | None = None
    solver: SolverSettings = SolverSettings()
    output: OutputSettings = OutputSettings()
    sweep: dict[str, list[Any]] | None = None

    def hash(self) -> str:
        """Return a stable SHA-256 of the scenario's content (key order does not matter)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def replace(self, changes: dict[str, Any], *, source: str = "<replace>") -> Scenario:
        """Return a new scenario with ``changes`` (nested dict or dotted key paths) merged in.

        ``scenario.replace({"assignment.constraints.balance.tolerance": 0.05})``
        """
        nested: dict[str, Any] = {}
        for key, value in changes.items():
            deep_merge_into(nested, _unflatten(key, value))
        merged = deep_merge(self.model_dump(mode="json", exclude_none=True), nested)
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


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{path}:{where}: not valid YAML ({problem})") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a mapping of keys at the top, got {type(raw).__name__}")
    return raw


def _resolve_paths(raw: dict[str, Any], base: Path, path: Path) -> dict[str, Any]:
    """Make ``data:`` paths and ``output.dir`` absolute, relative to ``base``."""
    out = dict(raw)
    data = out.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: data: expected a mapping of table name to path")
        out["data"] = {
            k: str((base / v).resolve()) if isinstance(v, str) else v for k, v in data.items()
        }
    output = out.get("output")
    if isinstance(output, dict) and isinstance(output.get("dir"), str):
        out["output"] = {**output, "dir": str((base / output["dir"]).resolve())}
    return out


def _load_chain(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        cycle = " -> ".join(str(p) for p in (*seen, path))
        raise ScenarioError(f"{seen[-1]}: extends: cycle of scenarios: {cycle}")
    raw = _resolve_paths(_read_yaml(path), path.parent, path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: expected a file path, got {parent!r}")
    parent_path = path.parent / parent
    if not parent_path.exists():
        raise ScenarioError(f"{path}: extends: file not found: {parent_path}")
    return deep_merge(_load_chain(parent_path, (*seen, path)), raw)


def load_scenario(path: str | Path) -> Scenario:
    """Load, merge (``extends``) and validate a scenario file.

    Raises
    ------
    ScenarioError
        When the file is missing, not YAML, extends a missing file or a cycle, or a key is
        unknown or holds a bad value; the message names the file and the key path.
    """
    path = Path(path)
    merged = _load_chain(path, ())
    return scenario_from_dict(merged, source=str(path))


def scenario_from_dict(raw: dict[str, Any], *, source: str = "<dict>") -> Scenario:
    """Validate a (merged) scenario mapping; errors name ``source`` and the key path."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, source)) from None


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-after")]
        key = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{source}: {key}: unknown key{_did_you_mean(loc)}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f", got {got!r}"
            lines.append(f"{source}: {key}: {msg}{shown}")
    return "\n".join(lines)


def _did_you_mean(loc: list[str]) -> str:
    model: Any = Scenario
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return ""
        model = _model_of(field.annotation)
        if model is None:
            return ""
    names = list(getattr(model, "model_fields", {}))
    close = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of: {', '.join(names)})" if names else ""


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
