"""Issue 14 fault injection: a solve killed while it writes (SIGINT, SIGTERM, SIGKILL).

The solve runs as a real ``allocator`` process with the test-only hook
``ALLOCATOR_TEST_WRITE_DELAY`` (``allocator/io/folder.py``: a sleep after each staged file), so
a signal lands while the folder is being written. After SIGINT and SIGTERM no temporary file
remains and the folder is as it was; after SIGKILL the temporaries remain and the next run,
without ``--force``, cleans them and completes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from allocator.cli import main
from allocator.demo import generate_company, write_company
from allocator.io.folder import DELAY_ENV, MANIFEST, MARKER, TEMP_PREFIX, is_temporary

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def company(tmp_path: Path) -> Path:
    tables = generate_company(accounts=30, reps=3, regions=3, seed=5)
    return write_company(tables, tmp_path / "co", scenario_name="killed")


def leftovers(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if is_temporary(p.name) or p.name == MARKER)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def start(scenario: Path, out: Path, delay: float) -> subprocess.Popen[str]:
    env = {**os.environ, DELAY_ENV: str(delay)}
    command = [sys.executable, "-m", "allocator.cli", "-q", "solve", str(scenario)]
    return subprocess.Popen(
        [*command, "--out", str(out)], env=env, stderr=subprocess.PIPE, text=True
    )


def wait_for_staging(process: subprocess.Popen[str], out: Path) -> None:
    """Until the process has staged its first file (a temporary file is in ``out``)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if out.exists() and any(p.name.startswith(TEMP_PREFIX) for p in out.iterdir()):
            return
        if process.poll() is not None:
            pytest.fail(f"the solve ended before writing: {process.stderr.read()}")  # type: ignore[union-attr]
        time.sleep(0.05)
    process.kill()
    pytest.fail("the solve never started writing")


def complete(out: Path) -> None:
    """A re-run without --force succeeds and leaves a complete, traced folder."""
    assert main(["-q", "solve", str(out.parent / "co" / "scenario.yaml"), "--out", str(out)]) == 0
    assert leftovers(out) == []
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {MANIFEST}


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_leave_the_previous_plan_and_no_temporary_file(
    company: Path, tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "out"
    assert main(["-q", "solve", str(company), "--out", str(out)]) == 0
    before = snapshot(out)
    process = start(company, out, delay=0.5)
    wait_for_staging(process, out)
    process.send_signal(signum)
    assert process.wait(timeout=120) == code
    assert leftovers(out) == [] and snapshot(out) == before
    complete(out)


def test_sigkill_at_random_moments_then_a_rerun_without_force_completes(
    company: Path, tmp_path: Path
) -> None:
    """Three kills at random moments of the writing (seeded), each followed by a check that
    what is left is recognised: the folder of a killed run is never refused."""
    out = tmp_path / "out"
    rng = random.Random(14)
    for attempt in range(3):
        process = start(company, out, delay=0.2)
        wait_for_staging(process, out)
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
        if attempt == 0:
            assert leftovers(out), "SIGKILL cannot clean up: the next run must"
        if attempt < 2:
            continue
        complete(out)
