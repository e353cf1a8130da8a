"""Curate's parallel part parsing inside a daemonic process, as a Celery prefork child runs tasks.

The standard library refuses to start children from a daemonic process (whatever the start method), so
before billiard the CeleryExecutor parsed on one core. Here the parser runs inside a daemonic child
started by the standard library, and in a task process forked from a billiard daemonic child (Celery's
prefork pool child, whose Airflow supervisor forks the task), and must use a pool of worker processes
and give the same rows and rejects as parsing in process.
"""

from __future__ import annotations

import gzip
import logging
import multiprocessing
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import billiard
import pyarrow.parquet as pq
import pytest

from airlake.curate.parts import PartResult, PartTask, parse_parts
from tests.plugins.airlake.curate.curate_helpers import jsonl, make_contract

PARTS = 4
ROWS_PER_PART = 50


def widget(widget_id: int) -> dict[str, Any]:
    return {
        "widget_id": widget_id,
        "name": f"w{widget_id}",
        "price": f"{widget_id}.25",
        "event_time": f"2026-11-{20 + widget_id % 2}T10:00:00Z",
    }


def land_parts(root: Path) -> list[Path]:
    """Raw parts on local disk; each part has one bad line (a reject with its reason)."""
    paths = []
    for index in range(PARTS):
        records: list[dict[str, Any] | str] = [widget(index * 1000 + i) for i in range(ROWS_PER_PART)]
        records.insert(7, "not json")
        path = root / f"raw-{index}.jsonl.gz"
        path.write_bytes(jsonl(records))
        paths.append(path)
    return paths


def tasks_for(root: Path) -> list[PartTask]:
    contract = make_contract()
    tasks = []
    for index, raw in enumerate(land_parts(root)):
        out_dir = root / f"part-{index}"
        out_dir.mkdir()
        key = f"raw/widgets/ingest_date=2026-11-20/run_id=r1/part-{index:05d}.jsonl.gz"
        tasks.append(
            PartTask(index=index, key=key, path=raw, out_dir=out_dir, contract=contract, flush_rows=64)
        )
    return tasks


def summary(results: list[PartResult]) -> dict[str, Any]:
    """Rows of every spill file by partition, and rejects, in part order: what the curate merges."""
    rows: dict[str, list[dict[str, Any]]] = {}
    rejects = []
    for result in results:
        for dt, files in sorted(result.spill_files.items()):
            for path in files:
                rows.setdefault(dt, []).extend(pq.read_table(path).to_pylist())
        assert result.rejects_path is not None
        rejects.append(gzip.decompress(result.rejects_path.read_bytes()))
    return {
        "rows": rows,
        "rejects": rejects,
        "counts": [(r.index, r.rows_read, r.rows_by_dt, r.rejects_rows, r.reasons) for r in results],
    }


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _parse_and_report(root: str, queue: Any) -> None:
    logger = logging.getLogger("airlake.curate.parts")
    handler = _Records()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        results = parse_parts(iter(tasks_for(Path(root))), 2)
        queue.put(
            {
                "daemon": multiprocessing.current_process().daemon,
                "pid": os.getpid(),
                "summary": summary(results),
                "log": handler.messages,
                "leftover_children": len(billiard.active_children()),
            }
        )
    except BaseException as problem:  # reported to the test, which fails with it
        queue.put({"error": repr(problem)})


def parse_in_daemon(root: str, queue: Any, fork_task: bool) -> None:
    """Body of the daemonic child: parse with 2 workers, report what it got and how.

    With ``fork_task`` the parse runs in a process forked from the daemonic child, as Airflow 3's Celery
    worker runs a task: the prefork child's supervisor forks the task process (which inherits its
    daemonic process object)."""
    if not fork_task:
        _parse_and_report(root, queue)
        return
    pid = os.fork()
    if pid == 0:
        try:
            _parse_and_report(root, queue)
            queue.close()
            queue.join_thread()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


STARTERS: list[Any] = [
    pytest.param(multiprocessing.get_context("spawn"), False, id="stdlib-daemon"),
    pytest.param(billiard.get_context("spawn"), True, id="billiard-daemon-forked-task-as-celery"),
]


@pytest.mark.parametrize(("context", "fork_task"), STARTERS)
def test_parts_parse_in_a_worker_pool_from_a_daemonic_process(
    context: Any, fork_task: bool, tmp_path: Path
) -> None:
    reference_root = tmp_path / "in-process"
    reference_root.mkdir()
    expected = summary(parse_parts(iter(tasks_for(reference_root)), 1))
    assert sum(len(rows) for rows in expected["rows"].values()) == PARTS * ROWS_PER_PART
    assert [count[3] for count in expected["counts"]] == [1] * PARTS

    daemon_root = tmp_path / "daemon"
    daemon_root.mkdir()
    queue = context.Queue()
    child: Callable[..., Any] = context.Process
    process = child(target=parse_in_daemon, args=(str(daemon_root), queue, fork_task), daemon=True)
    process.start()
    try:
        got = queue.get(timeout=180)
    finally:
        process.join(timeout=60)
    assert "error" not in got, got.get("error")
    assert got["daemon"] is True
    assert got["pid"] != process.pid if fork_task else got["pid"] == process.pid
    assert got["summary"] == expected
    # The pool: two worker processes started from the daemonic parent (which only hands out the
    # parts), every part parsed in one of them, and gone once it returned.
    pool_lines = [line for line in got["log"] if "worker processes" in line]
    assert len(pool_lines) == 1, got["log"]
    found = re.fullmatch(
        r"parsed (\d+) parts in a pool of (\d+) worker processes "
        r"\((\d+) of them busy; billiard, daemonic parent\)",
        pool_lines[0],
    )
    assert found, pool_lines[0]
    parts, pool, busy = map(int, found.groups())
    assert (parts, pool) == (PARTS, 2)
    assert 1 <= busy <= 2
    assert got["leftover_children"] == 0
    assert process.exitcode == 0
