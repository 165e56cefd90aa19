"""Output folders: each one is allocator's (one result, traced by its manifest) or nobody's.

Every writer of allocator (a plan, an infeasible diagnosis, a comparison, a sweep, tracking,
rebalancing, activities) goes through :func:`claim`, which, before any solving starts:

1. refuses a path that is a file, a folder holding the scenario or its input tables (whatever
   ``force`` says: outputs never land among the inputs), a non-empty folder allocator did not
   write, a folder holding another result (another scenario's hash, whatever its name), a folder
   whose files were edited since its manifest (naming them), or an unreadable manifest;
   ``force`` overrides the last four;
2. takes an exclusive lock (``fcntl.flock`` on ``.allocator.lock``), so two runs cannot write one
   folder; the kernel drops it when a process dies, even by SIGKILL, so no lock goes stale (the
   pid file the sweep used before could, and pid reuse fooled it). The standard library's
   ``flock`` is enough here: the ``filelock`` package would add a dependency for the same call,
   and we need the holder's pid in the message and the lock file removed on release (with the
   inode check in :func:`_lock`), which it leaves to us anyway;
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
import dataclasses
import fcntl
import json
import logging
import os
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
from allocator.io.folder_state import (
    DELAY_ENV,
    INTERNAL,
    LOCK,
    MANIFEST,
    MARKER,
    TEMP_PREFIX,
    FolderState,
    Owner,
    check_inputs,
    inspect,
    is_legacy,
    is_temporary,
    os_cause,
    read_manifest,
    read_marker,
    read_plan_manifest,
    refusal,
    sha256,
)

__all__ = [
    "DELAY_ENV",
    "LOCK",
    "MANIFEST",
    "MARKER",
    "TEMP_PREFIX",
    "Claim",
    "Owner",
    "claim",
    "is_temporary",
    "os_cause",
    "read_manifest",
    "read_plan_manifest",
]

log = logging.getLogger("allocator")

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
    _state: FolderState
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
            digest = sha256(tmp)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"{final}: cannot write it: {os_cause(exc)}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with _signals_held():  # the staged file is known to abandon() before a signal lands
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
                try:
                    tmp.write_text(text, encoding="utf-8")
                    os.chmod(tmp, 0o644)
                    os.replace(tmp, self.path / MANIFEST)
                finally:
                    tmp.unlink(missing_ok=True)
                (self.path / MARKER).unlink(missing_ok=True)
                self._staged.clear()
                self.committed = True  # before the held signals are let through
            except OSError as exc:
                # the marker ("committing") lists old and new files: the next run resumes
                raise OutputError(f"{self.path}: cannot finish writing: {os_cause(exc)}") from None
        return self.path / MANIFEST

    def _remove_stale(self, files: Mapping[str, str]) -> None:
        for name, digests in self._state.files.items():
            path = self.path / name
            if name not in files and path.is_file() and sha256(path) in digests:
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
        # a signal between the write and the rename would leave the temporary marker behind
        with _signals_held():
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
                marker = read_marker(self.path)
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
    check_inputs(folder, inputs)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder: {os_cause(exc)}") from None
    fd = _lock(folder)
    try:
        state = _inspect_or_force(folder, force)
        why = refusal(folder, state, owner)
        if why is not None and not force:
            raise OutputError(why)
        if state.record is None and is_legacy(state.foreign, owner.kind):
            state = dataclasses.replace(state, foreign=())  # an earlier version's: ours
        _clean(folder, state)
    except BaseException:
        _unlock(folder, fd)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return Claim(folder, owner, force, fd, state, created)


def _inspect_or_force(folder: Path, force: bool) -> FolderState:
    try:
        return inspect(folder)
    except OutputError:
        if not force:
            raise
        names = [n for n in os.listdir(folder) if n not in INTERNAL and n != MANIFEST]
        return FolderState(None, {}, tuple(n for n in names if not is_temporary(n)), ())


def _clean(folder: Path, state: FolderState) -> None:
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
