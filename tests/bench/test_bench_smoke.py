"""Smoke test of the bench harness: a tiny run of the curate and parse stages, counts checked, no timings.

It runs what CI would (``python -m bench run --quick``), narrowed to what needs no local services: curate
of 20k generated events (Airlake and its anchors) and the parse of the dataset DAG file with one contract.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.generate import dataset
from bench.runner import parse_rows, size_label

ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        pytest.param("20k", 20_000, id="k"),
        pytest.param("1M", 1_000_000, id="M"),
        pytest.param("1.5M", 1_500_000, id="fraction"),
        pytest.param("250000", 250_000, id="plain"),
    ],
)
def test_sizes(text: str, rows: int) -> None:
    assert parse_rows(text) == rows
    assert parse_rows(size_label(rows)) == rows


def test_generator_is_deterministic_and_counts_what_it_writes(tmp_path: Path) -> None:
    first = dataset(tmp_path / "a", 3_000, ("csv", "csv.gz", "jsonl"))
    second = dataset(tmp_path / "b", 3_000, ("csv", "csv.gz", "jsonl"))
    for fmt in ("csv", "csv.gz", "jsonl"):
        assert first.files[fmt]["sha256"] == second.files[fmt]["sha256"]
    assert first.written == first.rows - first.bad - first.duplicates
    assert first.bad > 0 and first.duplicates > 0
    assert sum(first.written_by_dt.values()) == first.written
    with Path(first.files["csv"]["path"]).open() as csv_file:
        assert sum(1 for _ in csv_file) == first.rows + 1  # header
    with Path(first.files["jsonl"]["path"]).open() as json_lines:
        assert sum(1 for _ in json_lines) == first.rows


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("bench")
    command = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--quick",
        "--sizes",
        size_label(ROWS),
        "--stages",
        "curate,parse",
        "--formats",
        "csv",
        "--contracts",
        "1",
        "--dag-files",
        "airlake_datasets.py",
        "--work-dir",
        str(work / "work"),
        "--out",
        str(work / "results"),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (work / "results.md").read_text().startswith("# Airlake bench results")
    return json.loads((work / "results.json").read_text())


def _measurements(results: dict, stage: str) -> list[dict]:
    return [m for m in results["measurements"] if m["stage"] == stage]


def test_machine_is_described(results: dict) -> None:
    machine = results["machine"]
    assert machine["logical_cores"] >= 1
    assert machine["memory_gb"] > 0


def test_curate_rows_bytes_and_ratios(results: dict) -> None:
    expected = results["datasets"][size_label(ROWS)]
    assert expected["rows"] == ROWS
    measurements = _measurements(results, "curate")
    assert {m["engine"] for m in measurements} == {"airlake", "airlake_parts", "duckdb", "pyarrow", "pandas"}
    for m in measurements:
        assert m["error"] is None, m["error"]
        assert m["check"] == "ok", m["check"]
        assert m["rows"] == ROWS
        assert m["input_bytes"] == expected["bytes"]["csv"] > 0
        assert m["seconds"] > 0 and m["mb_per_s"] > 0 and m["rows_per_s"] > 0
        assert 10 < m["peak_memory_mb"] < 64 * 1024
        assert len(m["runs"]) == 1
        assert m["result"]["rows_written"] == expected["written"]
        assert m["result"]["partitions"] == 7
    airlake = next(m for m in measurements if m["engine"] == "airlake")
    assert airlake["ratio"] is None
    assert airlake["result"]["rows_read"] == ROWS
    assert airlake["result"]["rows_quarantined"] == expected["bad"]
    assert airlake["result"]["duplicates_dropped"] == expected["duplicates"]
    for m in measurements:
        if m["engine"] != "airlake":
            assert m["ratio"] > 0  # Airlake rows/s over this engine's, same input


def test_parse_of_the_dataset_dag_file(results: dict) -> None:
    (parse,) = _measurements(results, "parse")
    assert parse["error"] is None, parse["error"]
    assert parse["case"] == "airlake_datasets.py 1 contracts"
    assert parse["result"]["dags"] == 1
    assert parse["check"] == "ok"
    assert parse["seconds"] > 0
