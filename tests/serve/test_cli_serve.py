"""``allocator serve`` refuses bad usage with one clear message and exit code 2."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from allocator.cli import main


def test_a_busy_port_is_a_clear_error(
    plan_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", str(plan_folder), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"--port {port}" in err and "cannot listen there" in err and "Traceback" not in err


def test_not_a_plan_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(tmp_path), "--port", "0"]) == 2
    assert "manifest.json: not found" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "nothing.yaml"), "--port", "0"]) == 2
    assert "no such plan folder or scenario file" in capsys.readouterr().err
