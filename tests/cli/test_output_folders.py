"""Issue 14: an output folder is allocator's or nobody's, and every file error is exit 2.

Each test writes its own tiny company (40 accounts, 4 reps) into its own folder, runs the
``allocator`` command in this process, and checks the exit code, that the one-line message
names the culprit, and that every file that existed before is byte-identical afterwards.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import yaml

from allocator.cli import main
from allocator.demo import generate_company, write_company
from allocator.io import folder as folder_module
from allocator.io.files import sha256
from allocator.io.folder import MANIFEST, MARKER, Owner, claim, is_temporary
from allocator.io.tables import Tables

INFEASIBLE = {"assignment": {"constraints": {"max_accounts": {"limit": 2}}}}


@pytest.fixture(scope="module")
def tiny_tables() -> Tables:
    return generate_company(accounts=40, reps=4, regions=4, seed=3)


@pytest.fixture
def company(tiny_tables: Tables, tmp_path: Path) -> Path:
    """``scenario.yaml`` of the tiny company, in ``tmp_path/co`` with its tables."""
    return write_company(tiny_tables, tmp_path / "co", scenario_name="tiny")


def variant(base: Path, name: str, changes: dict, *, file: str | None = None) -> Path:
    """A scenario extending ``base``: ``name:`` and ``changes``, in ``base``'s folder."""
    path = base.parent / f"{file or name}.yaml"
    path.write_text(yaml.safe_dump({"extends": base.name, "name": name, **changes}))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (recursively) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if is_temporary(p.name) or p.name == MARKER]


def solve(*args: str) -> int:
    return main(["-q", "solve", *args])


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------- foreign results


def no_solving(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any solve fail the test: the refusal must come before solving."""

    def solve_scenario(*args: object, **kwargs: object) -> None:
        raise AssertionError("solved before the output folder was checked")

    monkeypatch.setattr("allocator.plan.solve_scenario", solve_scenario)


def test_an_infeasible_solve_into_another_plans_folder_is_refused_before_solving(
    company: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "O"
    assert solve(str(company), "--out", str(out)) == 0
    before = snapshot(out)
    bad = variant(company, "bad", INFEASIBLE)
    capsys.readouterr()
    no_solving(monkeypatch)
    assert solve(str(bad), "--out", str(out)) == 2
    line = one_line(capsys.readouterr().err)
    assert str(out) in line and "plan of scenario 'tiny'" in line
    assert snapshot(out) == before


def test_output_dir_dot_never_puts_a_report_among_the_inputs(
    company: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``output.dir: .`` is the scenario's folder: refused even with --force (it would replace
    the input reps.csv with the output reps.csv, and the planner's own report.md)."""
    (company.parent / "report.md").write_text("# my own notes\n")
    bad = variant(company, "bad-here", {**INFEASIBLE, "output": {"dir": "."}})
    before = snapshot(company.parent)
    no_solving(monkeypatch)
    for force in ([], ["--force"]):
        assert solve(str(bad), *force) == 2
        line = one_line(capsys.readouterr().err)
        assert str(company.parent) in line and "folder of the inputs" in line
        assert snapshot(company.parent) == before


def test_a_copied_scenario_with_the_same_name_does_not_replace_the_plan(
    company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "O"
    assert solve(str(company), "--out", str(out)) == 0
    before = snapshot(out)
    copy = variant(company, "tiny", {"solver": {"gap": 0.01}}, file="copy")
    capsys.readouterr()
    assert solve(str(copy), "--out", str(out)) == 2
    line = one_line(capsys.readouterr().err)
    assert "another scenario named 'tiny'" in line and "settings differ" in line
    assert snapshot(out) == before
    assert solve(str(copy), "--out", str(out), "--force") == 0  # --force overrides
    assert json.loads((out / MANIFEST).read_text())["scenario"]["name"] == "tiny"


def test_hand_edits_are_named_and_kept_unless_forced(
    company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "O"
    assert solve(str(company), "--out", str(out)) == 0
    with (out / "assignments.csv").open("a") as fh:
        fh.write("# moved A0001 to R2 by hand\n")
    before = snapshot(out)
    capsys.readouterr()
    assert solve(str(company), "--out", str(out)) == 2
    line = one_line(capsys.readouterr().err)
    assert "assignments.csv changed since allocator wrote it" in line and "--force" in line
    assert snapshot(out) == before
    assert solve(str(company), "--out", str(out), "--force") == 0
    assert b"by hand" not in (out / "assignments.csv").read_bytes()


def test_a_folder_allocator_did_not_write_is_refused(
    company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "budget.xlsx").write_bytes(b"not ours")
    assert solve(str(company), "--out", str(out)) == 2
    line = one_line(capsys.readouterr().err)
    assert "budget.xlsx" in line and "did not write" in line
    assert snapshot(out) == {"budget.xlsx": b"not ours"}


def test_a_failed_run_does_not_block_the_fixed_retry(
    company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Infeasible into O writes the diagnosis with a manifest; the fixed YAML (same name, other
    hash) may replace it; the plan of the fixed run may not then be replaced by a third one."""
    out = tmp_path / "O"
    path = company.parent / "plan.yaml"
    path.write_text(yaml.safe_dump({"extends": company.name, "name": "retry", **INFEASIBLE}))
    assert solve(str(path), "--out", str(out)) == 1
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["status"] == "infeasible" and "report.html" in manifest["files"]
    assert json.loads((out / "metrics.json").read_text())["status"] == "infeasible"
    path.write_text(yaml.safe_dump({"extends": company.name, "name": "retry"}))  # fixed
    assert solve(str(path), "--out", str(out)) == 0
    assert (out / "assignments.csv").exists()
    capsys.readouterr()
    other = variant(company, "other", {})
    assert solve(str(other), "--out", str(out)) == 2


# ---------------------------------------------------------------- OS errors


def test_out_naming_a_file_is_one_line(
    company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("keep me\n")
    assert solve(str(company), "--out", str(target)) == 2
    line = one_line(capsys.readouterr().err)
    assert str(target) in line and "is a file, not a folder" in line
    assert target.read_text() == "keep me\n"


def test_a_read_only_folder_is_one_line(
    company: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: refuse writes in this folder as the OS would
        real = os.open

        def refuse(path: str | os.PathLike[str], flags: int, *args: object) -> int:
            if Path(path).parent == out and flags & (os.O_WRONLY | os.O_RDWR):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real(path, flags, *args)

        monkeypatch.setattr(folder_module.os, "open", refuse)
    else:
        out.chmod(0o555)
    try:
        assert solve(str(company), "--out", str(out)) == 2
    finally:
        out.chmod(0o755)
    line = one_line(capsys.readouterr().err)
    assert str(out) in line and "permission denied (read-only?)" in line
    assert list(out.iterdir()) == []


def test_a_full_disk_keeps_the_previous_plan_intact(
    company: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ENOSPC while writing report.html, after the tables were staged: exit 2 naming the file
    and the cause; the previous plan is byte-identical and no temporary file is left."""
    out = tmp_path / "O"
    assert solve(str(company), "--out", str(out)) == 0
    before = snapshot(out)
    real = folder_module.Claim.write

    def full(self: folder_module.Claim, name: str, write: object) -> Path:
        if name == "report.html":

            def fill(tmp: Path) -> None:
                tmp.write_bytes(b"<html>" * 100)
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

            return real(self, name, fill)
        return real(self, name, write)  # type: ignore[arg-type]

    monkeypatch.setattr(folder_module.Claim, "write", full)
    capsys.readouterr()
    assert solve(str(company), "--out", str(out), "--force") == 2
    line = one_line(capsys.readouterr().err)
    assert str(out / "report.html") in line and "disk full" in line
    assert snapshot(out) == before and temporaries(out) == []


def test_a_truncated_manifest_is_exit_2_in_solve_and_compare(
    company: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = company.parent / "output"  # the generated scenario's output.dir
    assert solve(str(company)) == 0
    manifest = out / MANIFEST
    manifest.write_bytes(manifest.read_bytes()[:100])
    before = snapshot(out)
    capsys.readouterr()
    assert solve(str(company)) == 2
    line = one_line(capsys.readouterr().err)
    assert str(manifest) in line and "corrupt or truncated manifest" in line
    for sources in ([str(out), str(out)], [str(company), str(out)]):
        assert main(["-q", "compare", *sources, "--out", str(tmp_path / "cmp")]) == 2
        err = capsys.readouterr().err
        one_line(err)  # one error, no traceback; compare reads the folder as input data
        assert str(manifest) in err and "corrupt or truncated manifest" in err
    assert snapshot(out) == before
    assert not (tmp_path / "cmp").exists()


# ---------------------------------------------------------------- interrupted runs and locks


def test_an_interrupted_runs_leftovers_are_cleaned_and_the_folder_reused(
    company: Path, tmp_path: Path
) -> None:
    """What a killed run leaves (staged files, its marker, temporary files of earlier versions)
    is recognised: the re-run without --force cleans it and completes."""
    out = tmp_path / "O"
    assert solve(str(company), "--out", str(out)) == 0
    (out / ".~allocator-0a1b2c3d.assignments.csv").write_text("half")
    (out / ".mix.csv._kuud3uk.csv").write_text("half")  # mkstemp's name, allocator <= 0.9
    (out / MARKER).write_text('{"state": "writ')  # cut short by the kill
    assert solve(str(company), "--out", str(out)) == 0
    assert temporaries(out) == []
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {MANIFEST}


def test_a_run_killed_while_committing_is_recognised(company: Path, tmp_path: Path) -> None:
    """A kill between the renames of the commit leaves a mix of old and new files and a
    'committing' marker that lists both: the next run takes the folder as the scenario's."""
    out = tmp_path / "O"
    assert solve(str(company), "--out", str(out)) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    marker = {"state": "committing", "scenario": manifest["scenario"], "kind": "plan"}
    marker |= {"prior": manifest["files"], "files": {"reps.csv": "0" * 64}}
    (out / MARKER).write_text(json.dumps(marker))
    (out / MANIFEST).unlink()
    (out / "reps.csv").write_text("the new reps.csv, renamed before the kill\n")
    assert solve(str(company), "--out", str(out)) == 2  # reps.csv matches neither hash: edited
    marker["files"] = {"reps.csv": sha256(out / "reps.csv")}
    (out / MARKER).write_text(json.dumps(marker))
    assert solve(str(company), "--out", str(out)) == 0
    assert temporaries(out) == [] and (out / MANIFEST).exists()


def test_two_runs_cannot_write_one_folder(
    company: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "O"
    with claim(out, Owner("plan", "someone-else", "tiny")):
        assert solve(str(company), "--out", str(out)) == 2
    line = one_line(capsys.readouterr().err)
    assert f"process {os.getpid()}" in line and "is writing into this folder" in line
    assert not out.exists()  # the holder made it, and removed it empty
    assert solve(str(company), "--out", str(out)) == 0  # the lock went with its holder


# ---------------------------------------------------------------- every path checks first


def test_compare_checks_its_folder_before_solving(
    company: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    no_solving(monkeypatch)
    cmp = tmp_path / "cmp"
    cmp.mkdir()
    (cmp / "notes.md").write_text("mine")
    other = variant(company, "other", {})
    assert main(["-q", "compare", str(company), str(other), "--out", str(cmp)]) == 2
    assert "notes.md" in one_line(capsys.readouterr().err)
    assert not (company.parent / "output").exists()  # nothing was solved


def test_track_checks_the_plan_folder_before_solving(
    company: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    no_solving(monkeypatch)
    plan_folder = company.parent / "output"  # the generated scenario's output.dir
    plan_folder.mkdir(parents=True)
    (plan_folder / "todo.txt").write_text("mine")
    args = ["-q", "track", str(company), "--simulate", "--as-of", "2027-03-31"]
    assert main(args) == 2
    assert "todo.txt" in one_line(capsys.readouterr().err)
    assert snapshot(plan_folder) == {"todo.txt": b"mine"}


def test_rebalance_checks_its_folder_before_solving(
    company: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    no_solving(monkeypatch)
    changes = tmp_path / "changes.csv"
    changes.write_text("rep_id,change\nR001,leave\n")
    out = tmp_path / "reb"
    out.write_text("a file")
    assert (
        main(["-q", "rebalance", str(company), "--changes", str(changes), "--out", str(out)]) == 2
    )
    assert "is a file, not a folder" in one_line(capsys.readouterr().err)
    assert not (company.parent / "output").exists()  # the plan was not solved


def test_sweep_checks_its_folder_before_solving(
    company: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A sweep into a plan's folder is refused before any variant is solved."""
    out = tmp_path / "O"
    assert solve(str(company), "--out", str(out)) == 0
    before = snapshot(out)
    grid = {"sweep": {"assignment.constraints.balance.tolerance": [0.2, 0.3]}}
    path = variant(company, "grid", grid)
    monkeypatch.setattr("allocator.sweep.run.solve_into", None)  # any solve would fail
    capsys.readouterr()
    assert main(["-q", "sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    line = one_line(capsys.readouterr().err)
    assert str(out) in line and "holds the plan of scenario 'tiny', not this sweep" in line
    assert snapshot(out) == before
