"""Plan the measurements of a bench run, run them, check their counts and collect the results.

A run is a list of :class:`~bench.harness.Task` per stage and case (input format and size). Each task
runs ``repeat`` times, each time in a fresh process with a fresh scratch folder; the fastest run is
the one reported (best of N: on a shared machine the slower runs measure the neighbours), and every
run's numbers are kept in the JSON.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import generate
from bench.harness import ROOT, Run, Task, TaskFailed, machine, run_task, worker_env
from bench.stack import Stack

log = logging.getLogger("bench")

STAGES = ("curate", "ingest", "emulator", "views", "load", "parse", "dagparse")
CURATE_ENGINES = (
    ("airlake", "airlake"),
    ("airlake_parts", "info"),
    ("airlake_sql", "info"),
    ("duckdb", "anchor"),
    ("pyarrow", "anchor"),
    ("pandas", "baseline"),
)
INGEST_ENGINES = (("airlake", "airlake"), ("boto3", "anchor"))
EMULATOR_ENGINES = (("moto_get", "airlake"), ("local_copy", "anchor"))
VIEWS_ENGINES = (("airlake", "airlake"), ("duckdb", "anchor"))
LOAD_ENGINES = (("airlake", "airlake"), ("psql", "anchor"), ("psql_sql", "info"))
DEFAULT_SIZES = (1_000_000, 4_000_000)
QUICK_ROWS = 100_000
DEFAULT_CONTRACTS = (1, 10, 100)
CURATED_FORMAT = "csv"
"""The input whose Airlake curate output feeds the views and load stages."""


def parse_rows(text: str) -> int:
    """``20k``, ``1M``, ``1.5M``, ``250000`` -> rows."""
    value = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(value[-1:], 1)
    number = value[:-1] if scale > 1 else value
    rows = int(float(number) * scale)
    if rows <= 0:
        raise ValueError(f"a size must be a positive number of rows, not {text!r}")
    return rows


def size_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


@dataclass
class Options:
    sizes: tuple[int, ...] = DEFAULT_SIZES
    stages: tuple[str, ...] = STAGES
    formats: tuple[str, ...] = generate.FORMATS
    contracts: tuple[int, ...] = DEFAULT_CONTRACTS
    repeat: int = 2
    engines: tuple[str, ...] | None = None
    """Only these engines, Airlake's included (all when None)."""
    stage_sizes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Per-stage sizes overriding ``sizes`` (e.g. curate up to 16M, the others up to 4M)."""
    work_dir: Path = Path(tempfile.gettempdir()) / "airlake-bench"
    seed: int = generate.DEFAULT_SEED
    quick: bool = False
    dag_files: tuple[str, ...] | None = None
    """Parse only these DAG files (names in dags/); all when None."""
    profile_dir: Path | None = None
    """When set, every run is profiled with cProfile and its top functions written here."""

    def sizes_of(self, stage: str) -> tuple[int, ...]:
        return self.stage_sizes.get(stage, self.sizes)


@dataclass
class Measurement:
    """All runs of one task and the numbers reported for it."""

    stage: str
    engine: str
    role: str
    case: str
    format: str | None
    size: str | None
    rows: int
    input_bytes: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    check: str = ""
    error: str | None = None

    @property
    def best(self) -> dict[str, Any] | None:
        return min(self.runs, key=lambda run: run["seconds"]) if self.runs else None

    def summary(self) -> dict[str, Any]:
        best = self.best
        data = asdict(self)
        if best is None:
            return data
        seconds = best["seconds"]
        data.update(
            seconds=round(seconds, 4),
            seconds_worst=round(max(run["seconds"] for run in self.runs), 4),
            mb_per_s=round(self.input_bytes / 1e6 / seconds, 2) if seconds > 0 and self.input_bytes else None,
            rows_per_s=round(self.rows / seconds) if seconds > 0 else None,
            peak_memory_mb=round(max(run["memory_mb"] for run in self.runs), 1),
            best_run_memory_mb=round(best["memory_mb"], 1),
            services_mb=best.get("services_mb") or {},
        )
        return data


class Bench:
    """One invocation of ``python -m bench run``."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.work = options.work_dir
        self.work.mkdir(parents=True, exist_ok=True)
        self.stack = Stack(state_dir=self.work / "stack")
        self.airflow_home = Path(tempfile.mkdtemp(prefix="airlake-bench-airflow-"))
        self.measurements: list[Measurement] = []
        self.notes: list[str] = []
        self._datasets: dict[int, generate.Dataset] = {}

    # -- environment ----------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return worker_env(
            {
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home / 'airflow.db'}",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                "AIRFLOW_VAR_AIRLAKE_BUCKET": "airlake-bench",
                "AIRFLOW_VAR_AIRLAKE_QUERY_ENGINE": "duckdb",
                "AWS_ACCESS_KEY_ID": "moto-local",
                "AWS_SECRET_ACCESS_KEY": "moto-local",
                "AWS_DEFAULT_REGION": "us-east-1",
                **self.stack.env(),
            }
        )

    def dataset(self, rows: int) -> generate.Dataset:
        if rows not in self._datasets:
            started = time.monotonic()
            formats = (*self.options.formats, CURATED_FORMAT)
            self._datasets[rows] = generate.dataset(self.work, rows, formats, seed=self.options.seed)
            log.info("inputs of %s rows ready in %.0f s", size_label(rows), time.monotonic() - started)
        return self._datasets[rows]

    # -- running --------------------------------------------------------------------------------------

    def measure(self, task: Task, fmt: str | None, size: str | None) -> Measurement:
        measurement = Measurement(
            stage=task.stage,
            engine=task.engine,
            role=task.role,
            case=task.case,
            format=fmt,
            size=size,
            rows=task.rows,
            input_bytes=task.input_bytes,
        )
        if self.options.engines and task.engine not in self.options.engines:
            return measurement  # not recorded
        self.measurements.append(measurement)
        for attempt in range(self.options.repeat):
            run_dir = (
                self.work / "runs" / f"{task.stage}-{task.engine}-{task.case.replace(' ', '-')}-{attempt}"
            )
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            task.params["run_dir"] = str(run_dir)
            env = self.env()
            if self.options.profile_dir is not None:
                self.options.profile_dir.mkdir(parents=True, exist_ok=True)
                name = f"{task.stage}-{task.engine}-{task.case}".replace(" ", "-").replace("/", "-")
                env["AIRLAKE_BENCH_PROFILE"] = str(self.options.profile_dir / f"{name}.txt")
            try:
                run = run_task(task, env=env, services=self.stack.pids())
            except TaskFailed as exc:
                log.error("%s", exc)
                measurement.error = str(exc)[-2000:]
                break
            finally:
                shutil.rmtree(run_dir, ignore_errors=True)
            measurement.runs.append(_run_record(run))
            log.info(
                "%-8s %-10s %-18s run %d: %7.2f s, %6.0f MB",
                task.stage,
                task.engine,
                task.case,
                attempt + 1,
                run.seconds,
                run.memory_mb,
            )
        best = measurement.best
        measurement.result = dict(best["result"]) if best else {}
        return measurement

    def setup(self, task: Task) -> dict[str, Any]:
        """An untimed preparation in a worker process (its result only)."""
        run = run_task(task, env=self.env(), services=self.stack.pids())
        return run.result

    def run(self) -> dict[str, Any]:
        options = self.options
        started = datetime.now(UTC)
        load_before = [round(x, 2) for x in os.getloadavg()]
        needs_moto = bool({"ingest", "emulator", "views"} & set(options.stages))
        needs_pg = "load" in options.stages
        try:
            if needs_moto or needs_pg:
                self.stack.start(moto=needs_moto, postgres=needs_pg)
            for stage in options.stages:
                getattr(self, f"stage_{stage}")()
        finally:
            self.stack.stop()
            shutil.rmtree(self.airflow_home, ignore_errors=True)
        info = machine()
        info["load_average_before"] = load_before
        return {
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": self.command_line(),
            "machine": info,
            "code": code_revision(),
            "method": {
                "repeat": options.repeat,
                "reported_run": "best of the repeats (lowest wall time); peak memory: highest of the repeats",
                "seed": options.seed,
                "quick": options.quick,
                "profiled": options.profile_dir is not None,
                "work_dir": str(self.work),
            },
            "datasets": {size_label(rows): _dataset_summary(d) for rows, d in sorted(self._datasets.items())},
            "notes": self.notes,
            "measurements": [m.summary() for m in self.measurements],
        }

    def command_line(self) -> str:
        o = self.options
        parts = ["python -m bench run"]
        if o.quick:
            parts.append("--quick")
        parts.append("--sizes " + ",".join(size_label(s) for s in o.sizes))
        for stage, sizes in sorted(o.stage_sizes.items()):
            parts.append(f"--stage-sizes {stage}=" + ",".join(size_label(s) for s in sizes))
        parts.append("--stages " + ",".join(o.stages))
        parts.append("--formats " + ",".join(o.formats))
        parts.append("--contracts " + ",".join(str(c) for c in o.contracts))
        parts.append(f"--repeat {o.repeat}")
        if o.engines:
            parts.append("--engines " + ",".join(o.engines))
        return " ".join(parts)

    # -- stages ---------------------------------------------------------------------------------------

    def stage_curate(self) -> None:
        for rows in self.options.sizes_of("curate"):
            data = self.dataset(rows)
            for fmt in self.options.formats:
                case = f"{fmt} {size_label(rows)}"
                file = data.files[fmt]
                for engine, role in CURATE_ENGINES:
                    if engine == "airlake_parts" and fmt == "csv.gz":
                        continue  # parts are cut from plain text
                    if engine == "airlake_sql" and fmt != "jsonl":
                        continue  # curate_sql reads JSON lines
                    task = Task(
                        "curate",
                        engine,
                        role,
                        case,
                        rows,
                        file["bytes"],
                        {"input": file["path"], "format": fmt, "rows": rows, "sha256": file["sha256"]},
                    )
                    m = self.measure(task, fmt, size_label(rows))
                    m.check = _check_curate(m, data)

    def stage_ingest(self) -> None:
        for rows in self.options.sizes_of("ingest"):
            data = self.dataset(rows)
            for fmt in self.options.formats:
                case = f"{fmt} {size_label(rows)}"
                file = data.files[fmt]
                for engine, role in INGEST_ENGINES:
                    task = Task(
                        "ingest",
                        engine,
                        role,
                        case,
                        rows,
                        file["bytes"],
                        {"input": file["path"], "format": fmt},
                    )
                    m = self.measure(task, fmt, size_label(rows))
                    if engine == "airlake" and m.runs:
                        landed = m.result.get("rows_landed")
                        m.check = "ok" if landed == rows else f"landed {landed} rows, generated {rows}"
                    elif m.runs:
                        m.check = "ok" if m.result.get("output_bytes") == file["bytes"] else "size differs"

    def stage_emulator(self) -> None:
        for rows in self.options.sizes_of("emulator"):
            data = self.dataset(rows)
            for fmt in self.options.formats:
                file = data.files[fmt]
                for engine, role in EMULATOR_ENGINES:
                    task = Task(
                        "emulator",
                        engine,
                        role,
                        f"{fmt} {size_label(rows)}",
                        rows,
                        file["bytes"],
                        {"input": file["path"], "format": fmt},
                    )
                    m = self.measure(task, fmt, size_label(rows))
                    if m.runs:
                        m.check = "ok" if m.result.get("output_bytes") == file["bytes"] else "size differs"

    def curated(self, rows: int) -> dict[str, Any]:
        """The Airlake curate output of the ``rows`` CSV, kept in the work folder (made once)."""
        from airlake.lake import manifest_key
        from bench.stages.curate import DATASET, RUN_ID

        data = self.dataset(rows)
        folder = self.work / "curated" / f"events-{rows}-{self.options.seed}"
        manifest = manifest_key(DATASET, RUN_ID, "curate")
        if not (folder / "lake" / manifest).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            file = data.files[CURATED_FORMAT]
            self.setup(
                Task(
                    "curate",
                    "airlake",
                    "setup",
                    f"setup {size_label(rows)}",
                    rows,
                    file["bytes"],
                    {
                        "input": file["path"],
                        "format": CURATED_FORMAT,
                        "rows": rows,
                        "sha256": file["sha256"],
                        "run_dir": str(folder),
                    },
                )
            )
            shutil.rmtree(folder / "scratch", ignore_errors=True)
        lake = folder / "lake"
        document = _read_json(lake / manifest)
        files = [o for o in document["outputs"] if o["kind"] == "curated"]
        return {
            "lake_root": str(lake),
            "manifest": manifest,
            "folder": folder,
            "rows": sum(o["rows"] for o in files),
            "bytes": sum(o["bytes"] for o in files),
        }

    def stage_views(self) -> None:
        from bench.stages.views import VIEWS

        for rows in self.options.sizes_of("views"):
            curated = self.curated(rows)
            cache = curated["folder"] / "views-cache"
            shutil.rmtree(cache, ignore_errors=True)
            ready = self.setup(
                Task(
                    "views",
                    "setup",
                    "setup",
                    f"setup {size_label(rows)}",
                    rows,
                    0,
                    {
                        "lake_root": curated["lake_root"],
                        "manifest": curated["manifest"],
                        "cache_dir": str(cache),
                        "run_dir": str(curated["folder"]),
                    },
                )
            )
            sizes = ready["table_bytes"]
            scanned = ready.get("scanned") or {
                "funnel_daily": sizes["clickstream"],
                "product_popularity_weekly": sizes["clickstream"] + sizes["products"],
            }
            for view in VIEWS:
                outputs = {}
                for engine, role in VIEWS_ENGINES:
                    task = Task(
                        "views",
                        engine,
                        role,
                        f"{view} {size_label(rows)}",
                        curated["rows"],
                        scanned[view],
                        {"view": view, "cache_dir": str(cache)},
                    )
                    m = self.measure(task, "parquet", size_label(rows))
                    outputs[engine] = m.result.get("rows_out") if m.runs else None
                for m in self.measurements[-len(VIEWS_ENGINES) :]:
                    m.check = (
                        "ok"
                        if len(set(outputs.values())) == 1 and None not in outputs.values()
                        else (f"result rows differ: {outputs}")
                    )

    def stage_load(self) -> None:
        for rows in self.options.sizes_of("load"):
            curated = self.curated(rows)
            csv = curated["folder"] / "rows.csv"
            if not csv.exists():
                self.setup(
                    Task(
                        "load",
                        "setup",
                        "setup",
                        f"setup {size_label(rows)}",
                        rows,
                        0,
                        {
                            "lake_root": curated["lake_root"],
                            "manifest": curated["manifest"],
                            "csv": str(csv),
                            "run_dir": str(curated["folder"]),
                        },
                    )
                )
            for engine, role in LOAD_ENGINES:
                task = Task(
                    "load",
                    engine,
                    role,
                    f"parquet {size_label(rows)}",
                    curated["rows"],
                    curated["bytes"],
                    {"lake_root": curated["lake_root"], "manifest": curated["manifest"], "csv": str(csv)},
                )
                m = self.measure(task, "parquet", size_label(rows))
                if m.runs:
                    loaded = m.result.get("rows_loaded")
                    m.check = (
                        "ok" if loaded == curated["rows"] else f"loaded {loaded}, curated {curated['rows']}"
                    )

    def stage_parse(self) -> None:
        from bench.stages.parse import dag_files

        wanted = self.options.dag_files
        for dag_file in dag_files():
            if wanted and dag_file.name not in wanted:
                continue
            for count in self.options.contracts:
                task = Task(
                    "parse",
                    "airlake",
                    "airlake",
                    f"{dag_file.name} {count} contracts",
                    count,
                    0,
                    {"dag_file": str(dag_file), "contracts": count},
                )
                m = self.measure(task, None, None)
                if m.runs and dag_file.name == "airlake_datasets.py":
                    dags = m.result.get("dags")
                    m.check = "ok" if dags == count else f"{dags} DAGs for {count} contracts"
                elif m.runs:
                    m.check = "ok"

    def stage_dagparse(self) -> None:
        """Every DAG file as the DAG processor parses it and in a fresh interpreter (bench/stages/dagparse.py):
        one worker per engine and contract set; the project's contracts always, the generated counts for
        the contract-driven files (not in --quick)."""
        from bench.stages.dagparse import CONTRACT_DRIVEN, PROJECT_CONTRACTS, check, dag_files

        wanted = self.options.dag_files
        files = [f for f in dag_files() if not wanted or f.name in wanted]
        project = len(list(PROJECT_CONTRACTS.glob("*.yaml")))
        cases: list[tuple[str, int | str, list[Path]]] = [(f"{project} project contracts", "project", files)]
        if not self.options.quick:
            driven = [f for f in files if f.name in CONTRACT_DRIVEN]
            cases += [(f"{count} contracts", count, driven) for count in self.options.contracts if driven]
        for label, count, chosen in cases:
            expected = {"airlake_datasets.py": project if count == "project" else int(count)}
            for engine, role in (("processor", "airlake"), ("fresh", "info")):
                task = Task(
                    "dagparse",
                    engine,
                    role,
                    label,
                    project if count == "project" else int(count),
                    0,
                    {"dag_files": [str(f) for f in chosen], "contracts": count},
                )
                m = self.measure(task, None, None)
                if m.runs:
                    m.check = check(m.result, expected)


def _run_record(run: Run) -> dict[str, Any]:
    return {
        "seconds": round(run.seconds, 4),
        "process_seconds": round(run.process_seconds, 3),
        "memory_mb": round(run.memory_mb, 1),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "maxrss_mb": round(run.maxrss_mb, 1),
        "services_mb": run.services_mb,
        "result": run.result,
    }


def _check_curate(m: Measurement, data: generate.Dataset) -> str:
    if not m.runs:
        return ""
    problems = []
    if m.result.get("rows_written") != data.written:
        problems.append(f"wrote {m.result.get('rows_written')} rows, expected {data.written}")
    if m.engine == "airlake_sql":  # the SQL path reports rows written and rejects only
        if m.result.get("rows_quarantined") != data.bad:
            problems.append(f"quarantined {m.result.get('rows_quarantined')}, expected {data.bad}")
    elif m.engine.startswith("airlake"):
        expected = {
            "rows_read": data.rows,
            "rows_quarantined": data.bad,
            "duplicates_dropped": data.duplicates,
        }
        problems += [f"{k} {m.result.get(k)} != {v}" for k, v in expected.items() if m.result.get(k) != v]
    if m.result.get("partitions") != len(generate.DATES):
        problems.append(f"{m.result.get('partitions')} partitions, expected {len(generate.DATES)}")
    return "; ".join(problems) or "ok"


def _dataset_summary(data: generate.Dataset) -> dict[str, Any]:
    return {
        "rows": data.rows,
        "bad": data.bad,
        "duplicates": data.duplicates,
        "written": data.written,
        "bad_by_kind": data.bad_by_kind,
        "bytes": {fmt: file["bytes"] for fmt, file in data.files.items()},
    }


def _read_json(path: Path) -> Any:
    import json

    return json.loads(path.read_text())


def code_revision() -> dict[str, Any]:
    """The commit measured and whether the working tree differed from it (others edit it too)."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return result.stdout.strip()

    changed = [
        line[3:] for line in git("status", "--porcelain").splitlines() if not line[3:].startswith("bench/")
    ]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_files_outside_bench": len(changed)}
