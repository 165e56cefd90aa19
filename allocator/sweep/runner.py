"""Running the variants of a sweep: one task per variant, in-process, in processes or on Dask.

A task solves one variant into ``DIR/.<id>.tmp-<pid>/`` and renames the folder to ``DIR/<id>/``
only when everything in it is written, so an interruption never leaves half a result: at worst a
stale temporary folder, removed when the next sweep starts (:func:`prepare_out`). Every finished
folder holds ``variant.json`` (the variant's row of ``sweep.csv`` and its scenario hash); a
solved one also holds the :func:`~allocator.report.output.write_plan` outputs with
``manifest.json``.
A re-run takes a variant from its folder (:func:`finished_row`) when the hashes match.

Each backend is a generator of ``(variant id, row)`` pairs in completion order, with ``None``
now and then while it waits, so the caller can refresh its progress line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

from allocator.exceptions import InfeasibleError, ScenarioError
from allocator.io.scenario import Scenario
from allocator.io.settings import SolverSettings

__all__ = [
    "ROW_FILE",
    "Task",
    "finished_row",
    "prepare_out",
    "release_out",
    "remove_stale",
    "run_dask",
    "run_pool",
    "run_serial",
    "run_task",
]

log = logging.getLogger("allocator")

#: Solves a variant and writes its outputs into a folder; returns status, objective, metrics.
SolveInto = Callable[[Scenario, SolverSettings, Path], dict[str, Any]]
Event = tuple[str, dict[str, Any]] | None

ROW_FILE = "variant.json"
MANIFEST = "manifest.json"
LOCK = ".sweep.lock"
TICK = 0.5  # seconds between progress refreshes while waiting
MAX_ATTEMPTS = 2  # a variant whose worker process died is tried once more
_STALE = re.compile(r"^\..+\.(tmp|old)-\d+$")


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one variant (pickled to the worker process)."""

    variant_id: str
    scenario: Scenario
    solver: SolverSettings
    out: str
    solve: SolveInto


# ---------------------------------------------------------------- one variant


def run_task(task: Task) -> dict[str, Any]:
    """Solve one variant into its folder atomically and return its row (never raises an error).

    An infeasible variant is recorded (status ``infeasible``, the message and the diagnosis)
    in a folder of its own, like a solved one; any other failure gives status ``error`` with
    the message and leaves no folder, so the next run tries it again.
    """
    out = Path(task.out)
    final, tmp = out / task.variant_id, out / f".{task.variant_id}.tmp-{os.getpid()}"
    start = time.perf_counter()
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        row = _solve_row(task, tmp)
        row.update(seconds=round(time.perf_counter() - start, 3), hash=task.scenario.hash())
        if row["status"] == "error":
            shutil.rmtree(tmp, ignore_errors=True)
            return row
        text = json.dumps(row, indent=1, sort_keys=True, default=_plain, ensure_ascii=False)
        (tmp / ROW_FILE).write_text(text, encoding="utf-8")
        _publish(tmp, final)
        return row
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit: stop, the folder is gone
        return error_row(task, f"{type(exc).__name__}: {exc}", start=start)


def _solve_row(task: Task, folder: Path) -> dict[str, Any]:
    try:
        return dict(task.solve(task.scenario, task.solver, folder))
    except InfeasibleError as exc:
        head = str(exc).splitlines()[0] if str(exc) else "infeasible"
        return {"status": "infeasible", "message": head, "diagnosis": "; ".join(exc.diagnosis)}
    except Exception as exc:
        log.debug("variant %s failed:\n%s", task.variant_id, traceback.format_exc())
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"}


def _plain(value: Any) -> Any:
    """numpy scalars as python numbers (a resumed row reads back as the solved one), else text."""
    return value.item() if hasattr(value, "item") else str(value)


def error_row(task: Task, message: str, *, start: float | None = None) -> dict[str, Any]:
    """The row of a variant that produced no result."""
    seconds = 0.0 if start is None else round(time.perf_counter() - start, 3)
    return {"status": "error", "message": message, "seconds": seconds, "hash": task.scenario.hash()}


def _publish(tmp: Path, final: Path) -> None:
    """Rename the finished temporary folder to its final name, replacing an outdated one."""
    if not final.exists():
        os.replace(tmp, final)
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def finished_row(out: Path, variant_id: str, scenario: Scenario) -> dict[str, Any] | None:
    """The row of a variant already finished in ``out`` with the same scenario hash, else None.

    Solved variants count when their ``manifest.json`` holds the hash; infeasible ones when
    their ``variant.json`` does.
    """
    folder = out / variant_id
    digest = scenario.hash()
    row = _read_json(folder / ROW_FILE)
    if row is None or row.get("hash") != digest:
        return None
    if row.get("status") == "infeasible":
        return row
    manifest = _read_json(folder / MANIFEST) or {}
    scenario_info = manifest.get("scenario")
    if isinstance(scenario_info, dict) and scenario_info.get("hash") == digest:
        return row
    return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- the output folder


def prepare_out(out: Path, variant_ids: Sequence[str]) -> None:
    """Create ``out``, take its lock, remove stale temporary folders, refuse foreign folders.

    Raises
    ------
    ScenarioError
        When another running sweep holds the folder, or a variant's folder exists but was not
        written by a sweep (it would be replaced).
    """
    out.mkdir(parents=True, exist_ok=True)
    _lock(out)
    remove_stale(out)
    for ident in variant_ids:
        folder = out / ident
        if folder.is_dir() and any(folder.iterdir()) and not (folder / ROW_FILE).exists():
            release_out(out)
            raise ScenarioError(
                f"{folder}: exists and was not written by a sweep: refusing to replace it "
                "(move it away or use another --out)"
            )


def remove_stale(out: Path) -> None:
    """Remove the temporary folders of variants whose solve was interrupted or killed."""
    for entry in out.iterdir():
        if entry.is_dir() and _STALE.match(entry.name):
            log.info("removing the unfinished folder %s", entry)
            shutil.rmtree(entry, ignore_errors=True)


def _lock(out: Path) -> None:
    path = out / LOCK
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            owner = path.read_text().strip() if path.exists() else ""
            if owner.isdigit() and _alive(int(owner)):
                raise ScenarioError(
                    f"{out}: another sweep (process {owner}) is writing into this folder"
                ) from None
            path.unlink(missing_ok=True)  # left by a sweep that was killed
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own stale lock (e.g. a notebook that was interrupted)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_out(out: Path) -> None:
    """Remove the lock taken by :func:`prepare_out`."""
    (out / LOCK).unlink(missing_ok=True)


# ---------------------------------------------------------------- backends


def run_serial(tasks: Sequence[Task]) -> Iterator[Event]:
    """Run the tasks one after the other in this process."""
    for task in tasks:
        yield task.variant_id, run_task(task)


def _mp_context() -> Any:
    """forkserver where it exists (fast, no inherited locks or threads), spawn elsewhere."""
    method = "forkserver" if "forkserver" in get_all_start_methods() else "spawn"
    return get_context(method)


def run_pool(tasks: Sequence[Task], workers: int) -> Iterator[Event]:
    """Run the tasks in a pool of ``workers`` processes; a dead worker's tasks are retried once.

    A worker that dies breaks every unfinished task of its pool, the innocent ones too, so the
    retries run one task per pool: only the task that kills its worker dies a second time.
    """
    attempts: Counter[str] = Counter()
    retry = yield from _run_batch(list(tasks), workers, attempts)
    for task in retry:
        yield from _run_batch([task], 1, attempts)


def _run_batch(
    tasks: list[Task], workers: int, attempts: Counter[str]
) -> Generator[Event, None, list[Task]]:
    """Run ``tasks`` in one pool; return those whose worker died (to be retried)."""
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_mp_context())
    retry: list[Task] = []
    try:
        futures = {pool.submit(run_task, task): task for task in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=TICK, return_when=FIRST_COMPLETED)
            if not done:
                yield None
            for future in done:
                event = _pool_result(future, futures[future], attempts, retry)
                if event is not None:
                    yield event
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return retry


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued tasks and end the running ones, so an interrupted sweep stops now.

    Their temporary folders are removed by the next sweep. Python 3.14 has
    ``terminate_workers``; before it the pool offers no public way to reach its processes.
    """
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


def _pool_result(
    future: Future[dict[str, Any]], task: Task, attempts: Counter[str], retry: list[Task]
) -> Event:
    try:
        return task.variant_id, future.result()
    except BrokenProcessPool:
        attempts[task.variant_id] += 1
        if attempts[task.variant_id] < MAX_ATTEMPTS:
            retry.append(task)
            return None
        message = "the worker process died (killed, or out of memory)"
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
    return task.variant_id, error_row(task, message)


def run_dask(tasks: Sequence[Task], client: Any) -> Iterator[Event]:
    """Run the tasks on a Dask distributed cluster through ``client``.

    The workers must see the data files and the output folder at the same paths as this
    process (one machine, or a shared file system).
    """
    token = uuid.uuid4().hex[:8]  # keys must not collide with another sweep on the cluster
    by_future = {
        client.submit(
            run_task, task, key=f"allocator-sweep-{task.variant_id}-{token}", pure=False
        ): task
        for task in tasks
    }
    pending = set(by_future)
    try:
        while pending:
            done = {f for f in pending if f.done()}
            if not done:
                yield None
                time.sleep(TICK)
                continue
            pending -= done
            for future in done:
                task = by_future[future]
                try:
                    row = future.result()
                except Exception as exc:  # e.g. KilledWorker: the task killed its workers
                    row = error_row(task, f"{type(exc).__name__}: {exc}")
                yield task.variant_id, row
    except BaseException:
        client.cancel(list(pending))
        raise


def dask_slots(client: Any) -> tuple[int, int]:
    """Tasks the cluster runs at once, and solver threads per task so no host is oversubscribed.

    Threads per task: for each host, its cores over the Dask threads of its workers; the
    smallest over the hosts, at least 1.
    """
    workers = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(os.cpu_count)
    hosts: dict[str, list[int]] = {}
    for address, info in workers.items():
        host = hosts.setdefault(str(info.get("host", address)), [0, 0])
        host[0] = max(host[0], int(cores.get(address) or 1))
        host[1] += int(info.get("nthreads", 1))
    slots = sum(n for _, n in hosts.values())
    threads = min((max(1, c // max(n, 1)) for c, n in hosts.values()), default=1)
    return max(slots, 1), threads
