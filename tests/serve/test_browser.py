"""``allocator serve`` in a real browser: Playwright driving Debian's Chromium.

The test starts the server as a user would (``python -m allocator.cli serve FOLDER --port 0``:
a free loopback port, printed on stdout), then edits the plan through the page: a move that
overloads a rep, undo, a feasible move, two locks, a background re-optimisation accepted from
its diff, and a save. ``allocator compare`` must then show exactly the moves made, and the
folder the server was opened on must be byte-identical.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from allocator.cli import main
from allocator.io.data import load_inputs
from allocator.io.files import sha256
from allocator.io.scenario import scenario_from_dict
from allocator.report.comparison import compare
from allocator.territory.check import check_assignment
from tests.browser import ARGS, MISSING, chromium_executable

playwright = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
pytestmark = pytest.mark.skipif(chromium_executable() is None, reason=MISSING)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def server(folder: Path) -> Iterator[str]:
    """``allocator serve FOLDER --port 0`` in a subprocess; yields its address; stops it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "allocator.cli", "serve", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        url, seen = "", []
        while not url:
            line = lines.get(timeout=60)
            seen.append(line)
            if line.startswith("serving "):
                url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:"), seen
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def picks(plan_folder: Path) -> dict[str, str]:
    """Accounts and reps for the edits, chosen with the independent checker.

    ``heavy`` to ``tight`` breaks capacity[tight] and nothing else is asked of it; ``easy`` to
    ``roomy`` breaks no rule; ``lock1``/``lock2`` are two other free accounts.
    """
    manifest = pd.read_json(plan_folder / "manifest.json", typ="series")
    scenario = scenario_from_dict(manifest["scenario"]["settings"])
    tables = load_inputs(scenario)
    owners = pd.read_csv(plan_folder / "assignments.csv", dtype=str).set_index("account_id")[
        "rep_id"
    ]
    reps = pd.read_csv(plan_folder / "reps.csv", dtype={"rep_id": str}).set_index("rep_id")
    acc = tables.active_accounts.set_index("account_id")
    free = acc.index[~acc["locked"]]
    slack = reps["capacity"] - reps["workload"]

    def violations(account: str, rep: str) -> tuple[str, ...]:
        moved = owners.copy()
        moved[account] = rep
        frame = pd.DataFrame({"account_id": moved.index, "rep_id": moved.to_numpy()})
        return check_assignment(tables, scenario.assignment, frame).violations

    tight = str(slack.idxmin())
    heavy = next(
        a
        for a in acc.loc[free].sort_values("workload", ascending=False).index
        if owners[a] != tight
        and any(v.startswith(f"capacity[{tight}]") for v in violations(a, tight))
    )
    roomy = str(slack.idxmax())
    easy = next(a for a in free if owners[a] != roomy and not violations(a, roomy))
    rest = [a for a in free if a not in (heavy, easy)]
    return {"tight": tight, "heavy": heavy, "roomy": roomy, "easy": easy,
            "lock1": rest[0], "lock2": rest[-1], "from": owners[heavy]}  # fmt: skip


def test_review_edit_reoptimise_save_compare(plan_folder: Path, tmp_path: Path) -> None:
    before = digest(plan_folder)
    p = picks(plan_folder)
    saved = tmp_path / "edited"
    errors: list[str] = []
    with server(plan_folder) as url, playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_executable(), args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.goto(url)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=30_000)
        assert page.inner_text("#violations").startswith("none")

        def cell(rep: str, column: str) -> str:
            return page.inner_text(f"#reps tr[data-rep='{rep}'] td.{column}")

        def wait_version(v: int) -> None:
            page.wait_for_function(f"document.getElementById('version').textContent === '{v}'")

        def select(ids: list[str]) -> None:
            page.fill("#select-ids", ",".join(ids))
            page.click("#select")

        n_tight, n_from = int(cell(p["tight"], "accounts")), int(cell(p["from"], "accounts"))
        # 2. a move that overloads the tightest rep: totals change, capacity flagged
        select([p["heavy"]])
        page.select_option("#rep", p["tight"])
        page.fill("#who", "Ana")
        page.fill("#why", "customer asked for her")
        page.click("#move")
        wait_version(1)
        assert int(cell(p["tight"], "accounts")) == n_tight + 1
        assert int(cell(p["from"], "accounts")) == n_from - 1
        assert "capacity" in cell(p["tight"], "flags")
        assert f"capacity[{p['tight']}]" in page.inner_text("#violations")
        # 3. undo
        page.click("#undo")
        wait_version(2)
        assert int(cell(p["tight"], "accounts")) == n_tight
        assert cell(p["tight"], "flags") == ""
        assert page.inner_text("#violations").startswith("none")
        # a bad request gets a clear message in the page
        select(["NO-SUCH-ACCOUNT"])
        page.click("#lock")
        page.wait_for_selector("#message.error")
        assert "unknown account id(s): NO-SUCH-ACCOUNT" in page.inner_text("#message")
        # a feasible move, then 4. two locks and a re-optimisation
        select([p["easy"]])
        page.select_option("#rep", p["roomy"])
        page.click("#move")
        wait_version(3)
        select([p["lock1"], p["lock2"]])
        page.click("#lock")
        wait_version(4)
        page.click("#reoptimise")
        page.wait_for_selector("#job-accept:not([hidden])", timeout=90_000)
        diff = {
            row[0]: (row[1], row[2])
            for row in page.eval_on_selector_all(
                "table.diff-moves tr",
                "rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent))",
            )
        }
        page.click("#job-accept")
        wait_version(5)
        # 5. save into a new folder
        page.fill("#save-folder", str(saved))
        page.click("#save")
        page.wait_for_function("document.getElementById('message').dataset.saved", timeout=90_000)
        page.screenshot(path=str(tmp_path / "serve.png"))
        browser.close()
    assert errors == []
    # 6. compare: exactly the moves made in the page
    original = pd.read_csv(plan_folder / "assignments.csv", dtype=str).set_index("account_id")[
        "rep_id"
    ]
    expected = original.copy()
    expected[p["easy"]] = p["roomy"]
    for account, (_, to) in diff.items():
        expected[account] = to
    moves = {a: r for a, r in expected.items() if r != original[a]}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert (
            main(["-q", "compare", str(plan_folder), str(saved), "--out", str(tmp_path / "cmp")])
            == 0
        )
    assert f"accounts that change owner: {len(moves)}" in out.getvalue()
    table = compare([plan_folder, saved]).owners
    assert dict(zip(table["account_id"], table.iloc[:, 2], strict=True)) == moves
    kept = pd.read_csv(saved / "assignments.csv", dtype=str).set_index("account_id")["rep_id"]
    for account in (p["lock1"], p["lock2"]):
        assert kept[account] == original[account]
    assert kept[p["easy"]] == p["roomy"]
    overrides = pd.read_csv(saved / "overrides.csv", dtype=str).set_index("account_id")
    assert overrides.loc[[p["easy"], p["lock1"], p["lock2"]], "locked"].tolist() == ["true"] * 3
    assert (saved / "manifest.json").exists() and (saved / "quotas.csv").exists()
    # 7. the folder the server was opened on is byte-identical
    assert digest(plan_folder) == before
