"""Our own output files: written atomically, hashed for the manifest, read back as strings."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import InputError

__all__ = ["atomic_write", "read_output_csv", "sha256"]


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    The rename is atomic on one file system: readers see the old file or the new one, never
    a half-written one. The file gets the usual 0644 permissions (mkstemp makes 0600).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_output_csv(path: Path, columns: list[str]) -> pd.DataFrame | None:
    """A table of an output folder as strings (ids stay ids); None when the file is absent.

    Raises
    ------
    InputError
        When the file cannot be read or lacks one of ``columns``.
    """
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError([f"{path}: cannot read it ({exc})"]) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError([f"{path}: missing column(s) {', '.join(missing)}"])
    return frame
