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

from bench.generate import DEFAULT_SEED, dataset
from bench.harness import ROOT
from bench.runner import parse_rows
from bench.stages.curate import duckdb_curate_sql, duckdb_source


def spill_of_busiest_day(csv: Path, folder: Path, pieces: int) -> tuple[str, list[Path]]:
    """(the day, its spill files): the rows of the day with the most events, typed and checked by the
    DuckDB anchor's rules, duplicates kept, written by the parse's own spill (one per piece)."""
    import duckdb

    from airlake.contracts import get_contract
    from airlake.curate.spill import SEQ_COLUMN, PartitionSpill

    schema = get_contract("clickstream").arrow_schema()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows_sql = duckdb_curate_sql(duckdb_source(str(csv), "csv"), deduplicate=False)
    con.execute(
        f"CREATE TEMP TABLE typed AS SELECT *, row_number() OVER () AS {SEQ_COLUMN} FROM ({rows_sql})"
    )
    day = con.execute("SELECT dt FROM typed GROUP BY dt ORDER BY count(*) DESC, dt LIMIT 1").fetchall()[0][0]
    rows = con.sql(
        f"SELECT * FROM typed WHERE dt = $day ORDER BY {SEQ_COLUMN}", params={"day": day}
    ).to_arrow_table()
    step = -(-rows.num_rows // pieces)
    files = []
    for index in range(pieces):
        spill = PartitionSpill(folder / f"piece-{index}", schema)
        batches = rows.slice(index * step, step).select(spill.schema.names).cast(spill.schema)
        for batch in batches.to_batches(max_chunksize=8192):
            spill._writer(day).write_batch(batch)  # as vector.write_block writes a typed block
        files += spill.close()[day]
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
