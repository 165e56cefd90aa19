"""Output folders: each one is allocator's (one result, traced by its manifest) or nobody's.

Every writer of allocator (a plan, an infeasible diagnosis, a comparison, a sweep, tracking,
rebalancing, activities) goes through :func:`claim`, which, before any solving starts:

1. refuses a path that is a file, a folder holding the scenario or its input tables (whatever
   ``force`` says: outputs never land among the inputs), a non-empty folder allocator did not
   write, a folder holding another result (another scenario's hash, whatever its name), a folder
   whose files were edited since its manifest (naming them), or an unreadable manifest;
   ``force`` overrides the last four;
2. takes an exclusive lock (``fcntl.flock`` on ``.allocator.lock``), so two runs cannot write one
   folder; the kernel drops it when a process dies, even by SIGKILL, so no lock goes stale;
3. recognises what an interrupted run left (its temporary files and its in-progress marker
   ``.allocator-writing.json``), and cleans it.

Files are then staged: :meth:`Claim.write` writes each one under a temporary name
(``.~allocator-XXXXXXXX.<name>``) and :meth:`Claim.commit` renames them all into place, removes
the files of the previous result that the new one does not have, and writes ``manifest.json``
last, with SIGINT and SIGTERM held back for those few renames. So a failure before the commit
(disk full, Ctrl-C, an infeasible stage) leaves the folder exactly as it was, and a SIGKILL at
any moment leaves only what the next run recognises and cleans.

Every OS error becomes an :class:`~allocator.exceptions.OutputError` (exit code 2) of one line
naming the folder or file and the cause (:func:`os_cause`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from allocator.exceptions import OutputError

__all__ = [
    "LOCK",
    "MANIFEST",
    "MARKER",
    "Claim",
    "Owner",
    "claim",
    "is_temporary",
    "os_cause",
    "read_manifest",
]

log = logging.getLogger("allocator")

MANIFEST = "manifest.json"
MARKER = ".allocator-writing.json"
LOCK = ".allocator.lock"
TEMP_PREFIX = ".~allocator-"
#: test-only fault injection: seconds to sleep after each staged file (tests/io/test_folder_kill.py)
DELAY_ENV = "ALLOCATOR_TEST_WRITE_DELAY"
_INTERNAL = {MARKER, LOCK}
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # a marker cut short by a kill: the run never reached its commit
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- the state of a folder


@dataclass(frozen=True)
class _State:
    """What a folder holds: its owner's record, the files it traces, the rest."""

    record: dict[str, Any] | None  # the manifest, or the marker of an interrupted commit
    files: dict[str, tuple[str, ...]]  # name -> accepted SHA-256s
    foreign: tuple[str, ...]  # files allocator did not write
    leftovers: tuple[str, ...]  # temporary files and a stale marker


def _inspect(folder: Path) -> _State:
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise OutputError(f"{folder}: cannot read the folder: {os_cause(exc)}") from None
    leftovers = [n for n in names if is_temporary(n)]
    marker = _read_marker(folder) if MARKER in names else None
    record, files = None, {}
    if marker and marker.get("state") == "committing":
        # killed while renaming: the folder holds a mix of the old and the new result
        record = marker
        for key in ("prior", "files"):
            for name, digest in (marker.get(key) or {}).items():
                files[name] = (*files.get(name, ()), str(digest))
    elif MANIFEST in names:
        record = read_manifest(folder)
        files = {n: (str(d),) for n, d in record.get("files", {}).items()}
    if marker is not None:
        leftovers.append(MARKER)
    skip = {*leftovers, *_INTERNAL, MANIFEST, *files}
    foreign = [n for n in names if n not in skip and not (folder / n).is_dir()]
    if record is None:  # a folder of folders (a sweep's variants) is judged by its files
        foreign += [n for n in names if n not in skip and (folder / n).is_dir()]
    return _State(record, files, tuple(foreign), tuple(leftovers))


def _edited(folder: Path, files: Mapping[str, tuple[str, ...]]) -> list[str]:
    edited = []
    for name, digests in files.items():
        path = folder / name
        try:
            if path.is_file() and _sha256(path) not in digests:
                edited.append(name)
        except OSError as exc:
            raise OutputError(f"{path}: cannot read it: {os_cause(exc)}") from None
    return edited


def _shown(names: Iterable[str], limit: int = 5) -> str:
    names = list(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _refusal(folder: Path, state: _State, owner: Owner) -> str | None:
    """Why ``owner`` may not write into ``folder`` (None: it may)."""
    hint = "use another --out, or --force to replace them"
    if state.record is None:
        if state.foreign:
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
    edited = _edited(folder, state.files)
    if edited:
        return (
            f"{folder}: {_shown(edited)} changed since allocator wrote "
            f"{'it' if len(edited) == 1 else 'them'} (the SHA-256 in {MANIFEST} differs): "
            f"refusing to overwrite hand edits (move them away, or use --force)"
        )
    return None


def _check_inputs(folder: Path, inputs: Iterable[str | Path]) -> None:
    here = folder.resolve()
    among = [Path(p) for p in inputs if Path(p).resolve().parent == here]
    if among:
        raise OutputError(
            f"{folder}: is the folder of the inputs ({_shown(p.name for p in among)}): "
            "outputs go to a folder of their own (set output.dir or --out to a new folder)"
        )


# ---------------------------------------------------------------- the lock


def _lock(folder: Path) -> int:
    """Take the folder's exclusive lock; return its file descriptor.

    The lock file is removed on release, so after taking the lock we make sure that the file
    we locked is still the one at the path (a releasing run may have just removed it).
    """
    path = folder / LOCK
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot write into the folder: {os_cause(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputError(
                f"{folder}: another allocator run (process {holder}) is writing into this "
                "folder: wait for it to end, or use another --out"
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            return fd
        os.close(fd)


def _unlock(folder: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        (folder / LOCK).unlink()
    os.close(fd)


# ---------------------------------------------------------------- claiming and writing


@dataclass
class Claim:
    """A folder this run may write: locked, checked, cleaned. Use :func:`claim` to get one."""

    path: Path
    owner: Owner
    force: bool
    _fd: int
    _state: _State
    _created: bool
    _staged: dict[str, tuple[Path, str]] = field(default_factory=dict)  # name -> (tmp, sha)
    committed: bool = False

    def write(self, name: str, write: Callable[[Path], Any]) -> Path:
        """Stage ``name``: call ``write(tmp)`` on a temporary file of this folder.

        The file appears under ``name`` at :meth:`commit`. Returns the final path.

        Raises
        ------
        OutputError
            ``name`` is a file allocator did not write (without ``force``), or the OS refused
            (disk full, read-only): the temporary file is removed.
        """
        final = self.path / name
        if name in self._state.foreign and not self.force:
            raise OutputError(
                f"{final}: exists and was not written by allocator: refusing to overwrite it "
                "(move it away, or use --force)"
            )
        if not self._staged:
            self._mark("writing")
        tmp = self.path / f"{TEMP_PREFIX}{secrets.token_hex(4)}.{name}"
        try:
            write(tmp)
            os.chmod(tmp, 0o644)
            digest = _sha256(tmp)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"{final}: cannot write it: {os_cause(exc)}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        old = self._staged.pop(name, None)
        if old is not None:
            old[0].unlink(missing_ok=True)
        self._staged[name] = (tmp, digest)
        if os.environ.get(DELAY_ENV):
            time.sleep(float(os.environ[DELAY_ENV]))  # test-only: see DELAY_ENV
        return final

    def write_text(self, name: str, text: str) -> Path:
        """Stage a UTF-8 text file."""
        return self.write(name, lambda p: p.write_text(text, encoding="utf-8"))

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Stage a binary file."""
        return self.write(name, lambda p: p.write_bytes(data))

    @property
    def staged(self) -> list[str]:
        """Names staged so far, in order."""
        return list(self._staged)

    def commit(self, record: Mapping[str, Any] | None = None) -> Path:
        """Put every staged file in place and write ``manifest.json`` (``record`` + files).

        Files of the previous result that this one does not have are removed (when unedited).
        SIGINT and SIGTERM wait until the manifest is written.
        """
        files = {name: digest for name, (_, digest) in self._staged.items()}
        manifest = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **(record or {}),
            "kind": self.owner.kind,
            "files": files,
        }
        manifest.setdefault("scenario", {"name": self.owner.name, "hash": self.owner.key})
        text = json.dumps(manifest, indent=2, sort_keys=True, default=_jsonable) + "\n"
        with _signals_held():
            try:
                self._mark("committing", files)
                (self.path / MANIFEST).unlink(missing_ok=True)
                for name, (tmp, _) in self._staged.items():
                    os.replace(tmp, self.path / name)
                self._remove_stale(files)
                tmp = self.path / f"{TEMP_PREFIX}{secrets.token_hex(4)}.{MANIFEST}"
                tmp.write_text(text, encoding="utf-8")
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.path / MANIFEST)
                (self.path / MARKER).unlink(missing_ok=True)
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot finish writing: {os_cause(exc)}") from None
        self._staged.clear()
        self.committed = True
        return self.path / MANIFEST

    def _remove_stale(self, files: Mapping[str, str]) -> None:
        for name, digests in self._state.files.items():
            path = self.path / name
            if name not in files and path.is_file() and _sha256(path) in digests:
                path.unlink()

    def _mark(self, state: str, files: Mapping[str, str] | None = None) -> None:
        prior = {n: d[-1] for n, d in self._state.files.items()}
        marker = {
            "state": state,
            "pid": os.getpid(),
            "kind": self.owner.kind,
            "scenario": {"name": self.owner.name, "hash": self.owner.key},
            "prior": prior,
            "files": dict(files or {}),
        }
        tmp = self.path / f"{TEMP_PREFIX}{secrets.token_hex(4)}{MARKER}"
        try:
            tmp.write_text(json.dumps(marker, indent=1), encoding="utf-8")
            os.replace(tmp, self.path / MARKER)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(
                f"{self.path}: cannot write into the folder: {os_cause(exc)}"
            ) from None

    def abandon(self) -> None:
        """Remove every staged file and the marker: the folder is as it was before."""
        for tmp, _ in self._staged.values():
            tmp.unlink(missing_ok=True)
        self._staged.clear()
        if not self.committed:
            with contextlib.suppress(OSError):
                marker = _read_marker(self.path)
                if marker is not None and marker.get("state") == "writing":
                    (self.path / MARKER).unlink()

    def release(self) -> None:
        """Abandon what is not committed, unlock, and remove the folder if this run made it
        and left it empty."""
        self.abandon()
        _unlock(self.path, self._fd)
        if self._created:
            with contextlib.suppress(OSError):
                self.path.rmdir()  # only when empty

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim(
    path: str | Path,
    owner: Owner,
    *,
    force: bool = False,
    inputs: Iterable[str | Path] = (),
) -> Claim:
    """Check, create, lock and clean the output folder ``path`` for ``owner``'s result.

    Call it before solving; write with :meth:`Claim.write`, finish with :meth:`Claim.commit`,
    and always :meth:`Claim.release` (or use the claim as a context manager).

    Raises
    ------
    OutputError
        ``path`` is a file, unwritable (read-only, disk full), the folder of ``inputs``, held by
        another run, or (without ``force``) holds another result, edited files, files allocator
        did not write, or a corrupt manifest. The message names the folder or the files.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder: choose another --out")
    _check_inputs(folder, inputs)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder: {os_cause(exc)}") from None
    fd = _lock(folder)
    try:
        state = _inspect_or_force(folder, force)
        why = _refusal(folder, state, owner)
        if why is not None and not force:
            raise OutputError(why)
        _clean(folder, state)
    except BaseException:
        _unlock(folder, fd)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return Claim(folder, owner, force, fd, state, created)


def _inspect_or_force(folder: Path, force: bool) -> _State:
    try:
        return _inspect(folder)
    except OutputError:
        if not force:
            raise
        names = [n for n in os.listdir(folder) if n not in _INTERNAL and n != MANIFEST]
        return _State(None, {}, tuple(n for n in names if not is_temporary(n)), ())


def _clean(folder: Path, state: _State) -> None:
    for name in state.leftovers:
        log.info("%s: removing %s, left by an interrupted run", folder, name)
        path = folder / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(f"{path}: cannot remove it: {os_cause(exc)}") from None


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (main thread only) while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _jsonable(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)
