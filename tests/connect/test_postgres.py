"""PostgreSQL for real: a throwaway cluster on a loopback port, started and stopped here.

The server binaries come from Debian's ``postgresql`` package (``.ci/setup.d/postgres.sh``
installs it for CI). PostgreSQL refuses to run as root, so as root the cluster runs as the
``postgres`` user (``runuser``) in a temporary folder that user owns. Without the binaries, or
when the server cannot start, the tests skip and say why; under CI (``CI=true``) they fail
instead, since CI installs the server and a skip there would hide a broken setup.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocator.connect.db import list_plans, write_frames
from allocator.io.scenario import load_scenario
from tests.connect.conftest import run

PASSWORD = "pl@n:ner s3cret"  # characters a URL must quote


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL: {reason} (CI installs it with .ci/setup.d/postgres.sh)")
    pytest.skip(f"PostgreSQL: {reason}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A running throwaway server: its URL, the password as ``${ALLOCATOR_TEST_PGPASSWORD}``."""
    bindir = _binaries()
    if bindir is None:
        _unavailable("no server binaries (initdb) found: apt-get install postgresql")
    assert bindir is not None
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="allocator-pg-"))
    if os.geteuid() == 0:
        if (
            shutil.which("runuser") is None
            or subprocess.run(["id", "postgres"], capture_output=True).returncode
        ):
            _unavailable("running as root without a postgres user to run the server as")
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    (pwfile := folder / "pw").write_text(PASSWORD + "\n")
    if as_user:
        shutil.chown(pwfile, "postgres")
    port, data = _free_port(), folder / "data"
    steps = [
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -F",
            "start",
        ],
    ]
    for step in steps:
        done = subprocess.run(as_user + step, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = (folder / "log").read_text() if (folder / "log").exists() else ""
            shutil.rmtree(folder, ignore_errors=True)
            _unavailable(f"{Path(step[0]).name} failed: {(done.stderr or log).strip()[-400:]}")
    os.environ["ALLOCATOR_TEST_PGPASSWORD"] = PASSWORD
    try:
        yield f"postgresql+psycopg://postgres:${{ALLOCATOR_TEST_PGPASSWORD}}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("ALLOCATOR_TEST_PGPASSWORD", None)


def test_postgres_inputs_solve_like_csv_and_plans_append(
    postgres: str, small_company: Path, tmp_path: Path
) -> None:
    source = load_scenario(small_company)
    raw = yaml.safe_load(small_company.read_text())
    names = tuple(raw["data"])  # every table the company has (leaves, splits, managers too)
    assert {"reps", "accounts", "history", "leaves", "account_splits"} <= set(names)
    write_frames(
        postgres,
        {
            f"in_{n}": pd.read_csv(getattr(source.data, n), dtype=str, keep_default_na=False)
            for n in names
        },
    )
    raw["data"] = {n: {"url": postgres, "query": f"SELECT * FROM in_{n} ORDER BY 1"} for n in names}
    raw["data"]["reps"] = {"url": postgres, "table": "in_reps"}
    raw.pop("output", None)
    scenario = tmp_path / "pg.yaml"
    scenario.write_text(yaml.safe_dump(raw))
    csv_out, pg_out = tmp_path / "csv", tmp_path / "pg"
    assert run("solve", str(small_company), "--out", str(csv_out), "--threads", "1") == 0
    for out in (pg_out, tmp_path / "pg-again"):
        assert (
            run("solve", str(scenario), "--out", str(out), "--to-db", postgres, "--threads", "1")
            == 0
        )
    assert (pg_out / "assignments.csv").read_bytes() == (csv_out / "assignments.csv").read_bytes()
    manifest = (pg_out / "manifest.json").read_text()
    assert PASSWORD not in manifest and "${ALLOCATOR_TEST_PGPASSWORD}" in manifest
    inputs = json.loads(manifest)["inputs"]
    assert inputs["reps"]["table"] == "in_reps" and inputs["accounts"]["query"].startswith("SELECT")
    plans = list_plans(postgres)
    assert len(plans) == 2 and plans["plan_id"].is_unique


def test_a_wrong_password_is_one_line_without_the_secret(
    postgres: str, small_company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocator.exceptions import InputError
    from allocator.io.database import read_table

    monkeypatch.setenv("ALLOCATOR_TEST_PGPASSWORD", "wrong-secret")
    with pytest.raises(InputError) as err:
        read_table(postgres, table="in_reps", query=None, key="data.reps")
    text = str(err.value)
    assert "data.reps" in text and "wrong-secret" not in text and "127.0.0.1" in text
