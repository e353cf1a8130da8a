"""One curated partition merged alone: the merge's CPU and its file, to compare two checkouts.

    .venv/bin/python -m bench.stages.merge_partition [--size 4M] [--rounds 3] [--pieces 8]

The busiest day of the generated week (:mod:`bench.generate`, made once in the bench's work folder) is
typed from its CSV by DuckDB as the parse would spill it (the contract's types plus ``_seq``, bad rows
left out, duplicates kept), written as ``--pieces`` plain spill files as the parse workers write them,
and merged by :class:`airlake.curate.merge.PartitionMerger` with one DuckDB thread (as each of a run's
two merging threads has) ``--rounds`` times in this process. Each round prints one JSON line: thread
CPU seconds, wall seconds, rows kept and the bytes written. Run it on two checkouts alternately; the
first round pays for imports and caches.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generate import DEFAULT_SEED, EVENT_TYPES, PLATFORMS, dataset
from bench.harness import ROOT
from bench.runner import parse_rows
from bench.stages.curate import duckdb_source


def spill_of_busiest_day(csv: Path, folder: Path, pieces: int) -> tuple[str, list[Path]]:
    """(the day, its spill files): the rows of the day with the most events, typed and checked."""
    import duckdb
    import pyarrow.parquet as pq

    from airlake.contracts import get_contract
    from airlake.curate.spill import spill_schema

    schema = spill_schema(get_contract("clickstream").arrow_schema())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    events = ", ".join(f"'{value}'" for value in EVENT_TYPES)
    platforms = ", ".join(f"'{value}'" for value in PLATFORMS)
    con.execute(
        "CREATE TEMP TABLE typed AS SELECT event_id, session_id, TRY_CAST(user_id AS BIGINT) AS user_id, "
        "event_type, product_id, platform, TRY_CAST(event_time AS TIMESTAMPTZ) AS event_time, app_version, "
        "row_number() OVER () AS _seq, "
        f"user_id AS user_id_text FROM {duckdb_source(str(csv), 'csv')}"
    )
    checked = (
        "event_id IS NOT NULL AND session_id IS NOT NULL AND event_time IS NOT NULL "
        f"AND event_type IN ({events}) AND platform IN ({platforms}) "
        "AND (user_id_text IS NULL OR user_id IS NOT NULL)"
    )
    day = con.execute(
        f"SELECT strftime(event_time, '%Y-%m-%d') AS dt FROM typed WHERE {checked} "
        "GROUP BY dt ORDER BY count(*) DESC, dt LIMIT 1"
    ).fetchall()[0][0]
    rows = con.sql(
        f"SELECT * EXCLUDE (user_id_text) FROM typed WHERE {checked} "
        f"AND strftime(event_time, '%Y-%m-%d') = '{day}' ORDER BY _seq"
    ).to_arrow_table()
    rows = rows.select(schema.names).cast(schema)
    step = -(-rows.num_rows // pieces)
    files = []
    for index in range(pieces):
        path = folder / f"dt={day}-{index:05d}.parquet"
        with pq.ParquetWriter(
            path, schema, compression="none", use_dictionary=False, write_statistics=False
        ) as writer:
            for batch in rows.slice(index * step, step).to_batches(max_chunksize=8192):
                writer.write_batch(batch)
        files.append(path)
    return day, files


def measure(files: list[Path], folder: Path, rounds: int) -> list[dict[str, Any]]:
    from airlake.contracts import get_contract
    from airlake.curate.merge import PartitionMerger

    merger = PartitionMerger(get_contract("clickstream"), folder / "merge", threads=1)
    results = []
    try:
        for index in range(rounds):
            cpu, wall = time.thread_time(), time.monotonic()
            merged = merger.merge(files, [], folder / f"out-{index}")
            results.append(
                {
                    "round": index + 1,
                    "cpu_s": round(time.thread_time() - cpu, 3),
                    "wall_s": round(time.monotonic() - wall, 3),
                    "rows": merged.rows,
                    "bytes": sum(part.bytes for part in merged.parts),
                }
            )
            shutil.rmtree(folder / f"out-{index}", ignore_errors=True)
    finally:
        merger.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="4M", help="generated events (default 4M: 557k rows a day)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pieces", type=int, default=8, help="spill files of the day (default 8)")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "airlake-bench")
    args = parser.parse_args(argv)
    if str(ROOT / "plugins") not in sys.path:  # this checkout's project, as python -m bench sets it
        sys.path.insert(0, str(ROOT / "plugins"))
    data = dataset(args.work_dir, parse_rows(args.size), ("csv",), seed=DEFAULT_SEED)
    folder = Path(tempfile.mkdtemp(prefix="airlake-bench-merge-"))
    try:
        day, files = spill_of_busiest_day(data.path("csv"), folder, args.pieces)
        for result in measure(files, folder, args.rounds):
            print(json.dumps({"dt": day, **result}))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
