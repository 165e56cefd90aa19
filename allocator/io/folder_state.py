"""What an output folder holds, and whether a result may be written into it.

The rules of :func:`allocator.io.folder.claim`: the names allocator uses in a folder
(``manifest.json``, the in-progress marker, the lock, temporary names), the manifest read back,
the folder's state (its owner's record, the files it traces, foreign files, leftovers of an
interrupted run) and the refusals, each one line naming the folder or the files.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allocator.exceptions import InputError, OutputError
from allocator.io.files import sha256

__all__ = [
    "DELAY_ENV",
    "INTERNAL",
    "LOCK",
    "MANIFEST",
    "MARKER",
    "TEMP_PREFIX",
    "FolderState",
    "Owner",
    "check_inputs",
    "edited",
    "inspect",
    "is_legacy",
    "is_temporary",
    "os_cause",
    "read_manifest",
    "read_marker",
    "read_plan_manifest",
    "refusal",
]

MANIFEST = "manifest.json"
MARKER = ".allocator-writing.json"
LOCK = ".allocator.lock"
TEMP_PREFIX = ".~allocator-"
#: test-only fault injection: seconds to sleep after each staged file (tests/io/test_folder_kill.py)
DELAY_ENV = "ALLOCATOR_TEST_WRITE_DELAY"
INTERNAL = {MARKER, LOCK}
#: the files that versions before manifests wrote for each kind of result (not ``plan``: a plan
#: always had its manifest), so a folder of theirs is taken as allocator's after an upgrade
LEGACY = {
    "comparison": ("comparison.html", "comparison.md", "comparison_*.png"),
    "track": ("attainment*.csv", "burnup.csv", "rephase*.csv", "actuals.csv", "track.*", "track_*"),
    "rebalance": ("rebalance*.csv", "rebalance.html", "rebalance.md", "rebalance_*.png"),
    "activities": ("activities*.csv",),
}
#: what file browsers leave in any folder they show: never a reason to refuse one
LITTER = {".DS_Store", "Thumbs.db", "desktop.ini"}
# our temporary names, and those of earlier versions: mkstemp's ".name.XXXXXXXX.suffix" and the
# sweep's ".name.tmp-PID"
_TEMP = re.compile(
    r"^(\.~allocator-[a-z0-9]{8}\..+"
    r"|\.(?P<name>.+)\.[a-z0-9_]{8}(?P<suffix>\.[A-Za-z0-9]+)?"
    r"|\..+\.(tmp|old)-\d+)$"
)
_CAUSES = {
    errno.ENOSPC: "disk full (no space left on the device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied (read-only?)",
    errno.EPERM: "permission denied (read-only?)",
    errno.ENOTDIR: "not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "name too long",
}


def os_cause(exc: OSError) -> str:
    """A planner's words for an OS error: ``disk full (no space left on the device)``."""
    return _CAUSES.get(exc.errno or -1) or exc.strerror or str(exc)


def is_temporary(name: str) -> bool:
    """Is ``name`` a temporary file of an allocator writer (this version or an earlier one)?"""
    match = _TEMP.match(name)
    if match is None:
        return False
    suffix = match.group("suffix")
    return match.group("name") is None or not suffix or match.group("name").endswith(suffix)


@dataclass(frozen=True)
class Owner:
    """Whose result a folder holds.

    ``kind`` is ``plan``, ``comparison``, ``sweep``, ``track``, ``rebalance`` or ``activities``;
    ``key`` the scenario hash (None: any result of the same kind may replace it, e.g. a
    comparison); ``name`` is shown in messages. A folder that holds only a failed result (an
    infeasible diagnosis, or a territory whose quota stage failed) may be replaced by a
    scenario of the same name: the usual retry after fixing the YAML.
    """

    kind: str
    key: str | None
    name: str

    def describe(self) -> str:
        return (
            f"{self.kind} of scenario '{self.name}'" if self.kind != "comparison" else "comparison"
        )


def read_manifest(folder: Path, *, required: bool = True) -> dict[str, Any] | None:
    """The ``manifest.json`` of ``folder`` as a dict; None when absent and not ``required``.

    Raises
    ------
    OutputError
        The manifest is absent (when required), unreadable, truncated or not a JSON object.
    """
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return None
        if (folder / MARKER).exists():
            raise OutputError(
                f"{folder}: a run was interrupted while writing this folder: run it again"
            ) from None
        raise OutputError(f"{folder}: not an allocator output folder (no {MANIFEST})") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot read it: {os_cause(exc)}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise OutputError(
            f"{path}: corrupt or truncated manifest ({len(text.encode())} bytes, not valid JSON): "
            "the folder's files cannot be traced; move it away, or use --force to replace it"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("files", {}), dict):
        raise OutputError(f"{path}: corrupt manifest (not the JSON object allocator writes)")
    return data


def read_plan_manifest(folder: str | Path) -> dict[str, Any]:
    """The ``manifest.json`` of a folder given as an *input* (a plan to serve, track, compare,
    export): a dict with a ``scenario`` block.

    The one reader of a plan folder's manifest for the commands that read results (``serve``,
    ``track``, ``compare``, ``export``, ``letters``); the output guard uses
    :func:`read_manifest`, which raises :class:`OutputError` instead.

    Raises
    ------
    InputError
        No such folder; no manifest (naming an interrupted run when its marker is there); an
        unreadable, truncated or foreign manifest.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "no such output folder"
        raise InputError([f"{folder}: {what} (expected a folder written by allocator solve)"])
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        why = (
            "a run was interrupted while writing this folder: run it again"
            if (folder / MARKER).exists()
            else "not an allocator output folder"
        )
        raise InputError([f"{path}: not found; {folder}: {why}"]) from None
    except OSError as exc:
        raise InputError([f"{path}: cannot read it: {os_cause(exc)}"]) from None
    except ValueError:
        raise InputError([f"{path}: corrupt or truncated manifest (not valid JSON)"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("scenario"), dict):
        raise InputError([f"{path}: not an allocator manifest (no 'scenario' block)"])
    return data


def read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # a marker cut short by a kill: the run never reached its commit
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- the state of a folder


@dataclass(frozen=True)
class FolderState:
    """What a folder holds: its owner's record, the files it traces, the rest."""

    record: dict[str, Any] | None  # the manifest, or the marker of an interrupted commit
    files: dict[str, tuple[str, ...]]  # name -> accepted SHA-256s
    foreign: tuple[str, ...]  # files allocator did not write
    leftovers: tuple[str, ...]  # temporary files and a stale marker


def inspect(folder: Path) -> FolderState:
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise OutputError(f"{folder}: cannot read the folder: {os_cause(exc)}") from None
    leftovers = [n for n in names if is_temporary(n)]
    marker = read_marker(folder) if MARKER in names else None
    record: dict[str, Any] | None = None
    files: dict[str, tuple[str, ...]] = {}
    if marker and marker.get("state") == "committing":
        # killed while renaming: the folder holds a mix of the old and the new result
        record = marker
        for key in ("prior", "files"):
            for name, digest in (marker.get(key) or {}).items():
                files[name] = (*files.get(name, ()), str(digest))
    elif MANIFEST in names:
        record = read_manifest(folder) or {}
        files = {n: (str(d),) for n, d in record.get("files", {}).items()}
    if marker is not None:
        leftovers.append(MARKER)
    skip = {*leftovers, *INTERNAL, *LITTER, MANIFEST, *files}
    foreign = [n for n in names if n not in skip and not (folder / n).is_dir()]
    if record is None:  # a folder of folders (a sweep's variants) is judged by its files
        foreign += [n for n in names if n not in skip and (folder / n).is_dir()]
    return FolderState(record, files, tuple(foreign), tuple(leftovers))


def edited(folder: Path, files: Mapping[str, tuple[str, ...]]) -> list[str]:
    edited = []
    for name, digests in files.items():
        path = folder / name
        try:
            if path.is_file() and sha256(path) not in digests:
                edited.append(name)
        except OSError as exc:
            raise OutputError(f"{path}: cannot read it: {os_cause(exc)}") from None
    return edited


def _shown(names: Iterable[str], limit: int = 5) -> str:
    names = list(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def is_legacy(names: Iterable[str], kind: str) -> bool:
    """All ``names`` are files that an earlier version (no manifest) wrote for ``kind``."""
    patterns = LEGACY.get(kind, ())
    return all(any(fnmatch.fnmatchcase(n, p) for p in patterns) for n in names)


def refusal(folder: Path, state: FolderState, owner: Owner) -> str | None:
    """Why ``owner`` may not write into ``folder`` (None: it may)."""
    hint = "use another --out, or --force to replace them"
    if state.record is None:
        if state.foreign and not is_legacy(state.foreign, owner.kind):
            return (
                f"{folder}: holds files allocator did not write ({_shown(state.foreign)}): "
                f"refusing to write into it ({hint})"
            )
        return None
    kind = str(state.record.get("kind", "plan"))
    scenario = state.record.get("scenario") or {}
    theirs = Owner(kind, scenario.get("hash"), str(scenario.get("name", "?")))
    failed = state.record.get("status") == "infeasible" or state.record.get("failed_stage")
    failed = bool(failed) and theirs.name == owner.name
    if kind != owner.kind or (owner.key is not None and theirs.key != owner.key and not failed):
        if kind == owner.kind and theirs.name == owner.name:
            what = (
                f"the {kind} of another scenario named '{owner.name}' (its settings differ: "
                f"scenario hash {str(theirs.key)[:12]}, this one {str(owner.key)[:12]})"
            )
        else:
            what = f"the {theirs.describe()}, not this {owner.describe()}"
        return f"{folder}: holds {what}: refusing to overwrite it ({hint})"
    changed = edited(folder, state.files)
    if changed:
        return (
            f"{folder}: {_shown(changed)} changed since allocator wrote "
            f"{'it' if len(changed) == 1 else 'them'} (the SHA-256 in {MANIFEST} differs): "
            f"refusing to overwrite hand edits (move them away, or use --force)"
        )
    return None


def check_inputs(folder: Path, inputs: Iterable[str | Path]) -> None:
    here = folder.resolve()
    among = [Path(p) for p in inputs if Path(p).resolve().parent == here]
    if among:
        raise OutputError(
            f"{folder}: is the folder of the inputs ({_shown(p.name for p in among)}): "
            "outputs go to a folder of their own (set output.dir or --out to a new folder)"
        )
