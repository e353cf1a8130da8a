"""The load against ``psql \\copy`` in interleaved pairs: a ratio the shared machine's drift cannot bias.

``python -m bench run`` measures all of an engine's repeats, then the next engine's: on a machine whose
load average moves between 4 and 40 within minutes, one engine can get a quiet window the other never
sees (measured: ``\\copy`` 3.4 s in one run, 5.5-8.6 s in the next). This runs the same two workers
(:func:`bench.stages.load.prepare_airlake`, :func:`bench.stages.load.prepare_psql`, each in a fresh
``bench.worker`` process) in pairs, alternating which goes first, and reports each pair's ratio
(``\\copy`` s / Airlake s), their median, best against best, CPU seconds and the load average.

    python -m bench.stages.load_interleaved --sizes 1M,4M --pairs 4
    python -m bench.stages.load_interleaved --sizes 1M --engines airlake,airlake_csv  # binary vs CSV

It uses the curated inputs a ``python -m bench run --stages load`` left in the work folder, and starts
its own PostgreSQL there (``stack-interleaved``), stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

SIZES = {"100k": 100_000, "1M": 1_000_000, "4M": 4_000_000, "16M": 16_000_000}


def _curated(work: Path, rows: int) -> dict[str, Any]:
    from airlake.lake import manifest_key
    from bench.stages.curate import DATASET, RUN_ID

    folders = sorted((work / "curated").glob(f"events-{rows}-*"))
    manifest = manifest_key(DATASET, RUN_ID, "curate")
    for folder in folders:
        if (folder / "lake" / manifest).exists() and (folder / "rows.csv").exists():
            return {"lake_root": str(folder / "lake"), "manifest": manifest, "csv": str(folder / "rows.csv")}
    raise SystemExit(f"no curated {rows} rows in {work}: run python -m bench run --stages load first")


def _pair(
    size: str, rows: int, curated: dict[str, Any], env: dict[str, str], engines: tuple[str, str], first: str
) -> dict[str, Any]:
    from bench.harness import Task, run_task

    order = engines if first == engines[0] else engines[::-1]
    runs: dict[str, Any] = {}
    for engine in order:
        with tempfile.TemporaryDirectory(prefix="airlake-bench-load-") as run_dir:
            params = {**curated, "run_dir": run_dir}
            runs[engine] = run_task(
                Task("load", engine, "airlake", f"parquet {size}", rows, 0, params), env=env
            )
    return {
        "first": first,
        "load_average": round(os.getloadavg()[0], 1),
        **{f"{e}_s": round(r.seconds, 2) for e, r in runs.items()},
        **{f"{e}_cpu_s": r.result.get("cpu_seconds") for e, r in runs.items()},
        "rows": {e: r.result.get("rows_loaded") for e, r in runs.items()},
        "ratio": round(runs[engines[1]].seconds / runs[engines[0]].seconds, 2),
    }


def main(argv: list[str] | None = None) -> None:
    import sys

    from bench.harness import ROOT, worker_env
    from bench.stack import Stack

    if str(ROOT / "plugins") not in sys.path:  # the project's package, as python -m bench sets it
        sys.path.insert(0, str(ROOT / "plugins"))

    parser = argparse.ArgumentParser(prog="python -m bench.stages.load_interleaved", description=__doc__)
    parser.add_argument("--sizes", default="1M,4M")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument(
        "--engines",
        default="airlake,psql",
        help="the two engines of bench.stages.load (e.g. airlake,airlake_csv); ratio = second s / first s",
    )
    parser.add_argument("--work-dir", default=str(Path(tempfile.gettempdir()) / "airlake-bench"))
    parser.add_argument("--out", help="write the pairs as JSON here")
    options = parser.parse_args(argv)
    work = Path(options.work_dir)
    a, b = options.engines.split(",")
    stack = Stack(work / "stack-interleaved")
    stack.start(moto=False, postgres=True)
    report: dict[str, Any] = {}
    try:
        env = worker_env(stack.env())
        for size in options.sizes.split(","):
            rows = SIZES[size]
            curated = _curated(work, rows)
            pairs = []
            for index in range(options.pairs):
                pair = _pair(size, rows, curated, env, (a, b), a if index % 2 == 0 else b)
                print(f"load {size} pair {index + 1}: {json.dumps(pair)}", flush=True)
                pairs.append(pair)
            best = min(p[f"{b}_s"] for p in pairs) / min(p[f"{a}_s"] for p in pairs)
            summary = {
                "median_ratio": round(statistics.median(p["ratio"] for p in pairs), 2),
                "worst_ratio": min(p["ratio"] for p in pairs),
                "best_vs_best": round(best, 2),
                **{
                    f"{e}_s": [min(p[f"{e}_s"] for p in pairs), max(p[f"{e}_s"] for p in pairs)]
                    for e in (a, b)
                },
            }
            print(f"load {size}: {json.dumps(summary)}", flush=True)
            report[size] = {"pairs": pairs, "summary": summary}
    finally:
        stack.stop()
    if options.out:
        Path(options.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
