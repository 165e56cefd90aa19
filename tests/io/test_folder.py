"""allocator/io/folder.py: the claim of an output folder, its staged writes and its refusals.

Unit tests on tiny text files (no solve); the end-to-end cases of issue 14 are in
tests/cli/test_output_folders.py and tests/cli/test_kill.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from allocator.exceptions import OutputError
from allocator.io.folder import LOCK, MANIFEST, MARKER, Owner, claim, is_temporary, read_manifest

PLAN_A = Owner("plan", "hash-a", "a")


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def write(folder: Path, owner: Owner, files: dict[str, str], **kwargs: object) -> None:
    with claim(folder, owner, **kwargs) as c:  # type: ignore[arg-type]
        for name, text in files.items():
            c.write_text(name, text)
        c.commit({"status": "optimal"})


def test_files_appear_together_with_the_manifest_listing_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with claim(out, PLAN_A) as c:
        c.write_text("a.csv", "1\n")
        staged = names(out)
        assert "a.csv" not in staged and MARKER in staged and LOCK in staged
        assert any(is_temporary(n) for n in staged)
        c.commit()
    assert names(out) == ["a.csv", MANIFEST]
    manifest = read_manifest(out)
    assert manifest is not None and set(manifest["files"]) == {"a.csv"}
    assert manifest["kind"] == "plan" and manifest["scenario"]["hash"] == "hash-a"


def test_a_failure_before_the_commit_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, PLAN_A, {"a.csv": "1\n", "b.csv": "2\n"})
    before = {n: (out / n).read_bytes() for n in names(out)}
    with pytest.raises(KeyboardInterrupt), claim(out, PLAN_A) as c:
        c.write_text("a.csv", "changed\n")
        raise KeyboardInterrupt
    assert {n: (out / n).read_bytes() for n in names(out)} == before
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError), claim(fresh, PLAN_A) as c:
        c.write_text("a.csv", "1\n")
        raise RuntimeError("the solve failed")
    assert not fresh.exists()  # made by the run, removed empty


def test_a_rerun_replaces_its_own_result_and_drops_files_it_no_longer_writes(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    write(out, PLAN_A, {"a.csv": "1\n", "weekly.csv": "w\n"})
    (out / "notes.txt").write_text("the planner's")  # not ours: left alone
    write(out, PLAN_A, {"a.csv": "2\n"})
    assert names(out) == ["a.csv", MANIFEST, "notes.txt"]
    assert (out / "a.csv").read_text() == "2\n"


def test_refusals_name_the_owner_and_force_overrides(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, PLAN_A, {"a.csv": "1\n"})
    with pytest.raises(OutputError, match="another scenario named 'a'"):
        claim(out, Owner("plan", "hash-b", "a"))
    with pytest.raises(OutputError, match="holds the plan of scenario 'a', not this comparison"):
        claim(out, Owner("comparison", None, "comparison"))
    write(out, Owner("plan", "hash-b", "a"), {"a.csv": "b\n"}, force=True)
    assert read_manifest(out)["scenario"]["hash"] == "hash-b"  # type: ignore[index]


def test_a_comparison_replaces_a_comparison(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    write(out, Owner("comparison", None, "comparison"), {"comparison.md": "1"})
    write(out, Owner("comparison", None, "comparison"), {"comparison.md": "2"})
    assert (out / "comparison.md").read_text() == "2"


def test_an_infeasible_result_gives_way_to_the_same_name_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with claim(out, PLAN_A) as c:
        c.write_text("report.md", "infeasible")
        c.commit({"status": "infeasible"})
    with pytest.raises(OutputError, match="holds the plan of scenario 'a'"):
        claim(out, Owner("plan", "hash-c", "c"))
    write(out, Owner("plan", "hash-fixed", "a"), {"a.csv": "1\n"})
    assert names(out) == ["a.csv", MANIFEST]


def test_a_file_of_someone_else_in_the_way_is_refused_at_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, PLAN_A, {"a.csv": "1\n"})
    (out / "report.md").write_text("mine")
    with claim(out, PLAN_A) as c, pytest.raises(OutputError, match=r"report\.md: exists and was"):
        c.write_text("report.md", "ours")
    assert (out / "report.md").read_text() == "mine"


def test_a_corrupt_marker_or_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, PLAN_A, {"a.csv": "1\n"})
    (out / MARKER).write_text("{")  # a kill while writing the marker: a leftover
    write(out, PLAN_A, {"a.csv": "2\n"})
    assert MARKER not in names(out)
    (out / MANIFEST).write_text(json.dumps(["not", "an", "object"]))
    with pytest.raises(OutputError, match="corrupt manifest"):
        claim(out, PLAN_A)


def test_a_file_browsers_litter_does_not_make_a_folder_foreign(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".DS_Store").write_bytes(b"\0")
    write(out, PLAN_A, {"a.csv": "1\n"})
    assert names(out) == [".DS_Store", "a.csv", MANIFEST]


def test_a_comparison_folder_of_an_earlier_version_is_taken_as_allocators(
    tmp_path: Path,
) -> None:
    """Before manifests, comparisons wrote comparison.html/.md alone: after an upgrade the
    default output/comparison is not refused, but a planner's file beside them still is."""
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "comparison.md").write_text("old")
    write(out, Owner("comparison", None, "comparison"), {"comparison.md": "new"})
    assert (out / "comparison.md").read_text() == "new"
    other = tmp_path / "other"
    other.mkdir()
    (other / "comparison.md").write_text("old")
    (other / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"notes\.txt"):
        claim(other, Owner("comparison", None, "comparison"))


def test_the_lock_file_is_released_and_a_dead_holder_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK).write_text("99999999")  # left by a process that died: flock is free
    write(out, PLAN_A, {"a.csv": "1\n"})
    assert LOCK not in names(out)
    first = claim(out, PLAN_A)
    try:
        with pytest.raises(OutputError, match=f"process {os.getpid()}"):
            claim(out, PLAN_A)
    finally:
        first.release()


def test_a_plan_folder_read_as_input_says_what_is_wrong(tmp_path: Path) -> None:
    """One reader for serve, track, compare, export and letters: each fault named, InputError."""
    from allocator.exceptions import InputError
    from allocator.io.folder import read_plan_manifest

    def message(folder: Path) -> str:
        with pytest.raises(InputError) as err:
            read_plan_manifest(folder)
        return str(err.value)

    assert "no such output folder" in message(tmp_path / "nowhere")
    (tmp_path / "file.csv").write_text("a\n")
    assert "is a file, not a folder" in message(tmp_path / "file.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "manifest.json: not found" in message(empty)
    assert "not an allocator output folder" in message(empty)
    (empty / MARKER).write_text("{}")
    assert "a run was interrupted while writing this folder" in message(empty)
    (empty / MANIFEST).write_text('{"files": {')
    assert "corrupt or truncated manifest" in message(empty)
    (empty / MANIFEST).write_text('{"files": {}}')
    assert "no 'scenario' block" in message(empty)
    (empty / MANIFEST).write_text('{"scenario": {"hash": "h"}}')
    assert read_plan_manifest(empty)["scenario"]["hash"] == "h"
