"""The results of a bench run as Markdown: machine, inputs, one table per stage, the targets.

Ratios are ``Airlake rows/s ÷ engine rows/s`` on the same input in the same run (1.00 = as fast as the
engine; the curate and load targets ask for >= 0.70 of DuckDB and of psql's ``\\copy``).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

CURATE_TARGET = 0.70
LOAD_TARGET = 0.70
MEMORY_FLAT = 1.20
PARSE_BUDGET_MS = 100.0
STAGE_TITLES = {
    "curate": "curate: raw -> typed, de-duplicated, date-partitioned Parquet",
    "ingest": "ingest: landing file -> raw zone (moto S3)",
    "emulator": "emulator: the moto GET a stage would add (kept out of curate and load)",
    "views": "views: materialised views (sql/athena) over the curated Parquet",
    "load": "load: curated Parquet -> PostgreSQL warehouse table",
    "dagparse": "dagparse: DAG files as Airflow's DAG processor parses them, and in a fresh interpreter",
}


def _mb(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _rate(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def merge(previous: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` on top of ``previous``: measurements of the same stage, engine and case are replaced."""
    key = lambda m: (m["stage"], m["engine"], m["case"])  # noqa: E731
    replaced = {key(m) for m in new["measurements"]}
    merged = dict(new)
    merged["measurements"] = [m for m in _stamped(previous) if key(m) not in replaced] + _stamped(new)
    merged["datasets"] = {**previous.get("datasets", {}), **new.get("datasets", {})}
    merged["notes"] = list(dict.fromkeys([*previous.get("notes", []), *new.get("notes", [])]))
    merged["runs"] = [*previous.get("runs", [_run_info(previous)]), _run_info(new)]
    merged["started_at"] = previous.get("started_at", new["started_at"])
    return merged


def _stamped(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The measurements of ``results``, each with the start of the run that measured it (kept through
    later merges: a run is listed as long as one of its measurements is)."""
    started = results.get("started_at")
    return [{**m, "run_started_at": m.get("run_started_at", started)} for m in results["measurements"]]


def _run_info(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "command": results.get("command"),
        "started_at": results.get("started_at"),
        "finished_at": results.get("finished_at"),
        "load_average_before": results.get("machine", {}).get("load_average_before"),
        "load_average_after": results.get("machine", {}).get("load_average"),
        "code": results.get("code"),
    }


def with_ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Add ``ratio`` (Airlake rows/s ÷ this engine's rows/s, same stage and case) to every measurement."""
    by_case: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for m in results["measurements"]:
        by_case[(m["stage"], m["case"])].append(m)
    for group in by_case.values():
        airlake = next((m for m in group if m["role"] == "airlake" and m.get("rows_per_s")), None)
        for m in group:
            m["cpu_seconds"] = (m.get("result") or {}).get("cpu_seconds")
            if m["role"] == "airlake" or airlake is None or not m.get("rows_per_s"):
                m["ratio"] = m["cpu_ratio"] = None
                continue
            m["ratio"] = round(airlake["rows_per_s"] / m["rows_per_s"], 3)
            mine, theirs = (airlake.get("result") or {}).get("cpu_seconds"), m["cpu_seconds"]
            # only where all the work is in the measured processes: moto's and PostgreSQL's is not
            in_process = m["stage"] == "curate"
            m["cpu_ratio"] = round(theirs / mine, 3) if in_process and mine and theirs else None
    return results


_FORMAT_ORDER = ("csv", "csv.gz", "jsonl", "parquet")
_ENGINE_ORDER = (
    "airlake",
    "airlake_parts",
    "airlake_sql",
    "duckdb",
    "pyarrow",
    "pandas",
    "boto3",
    "moto_get",
    "local_copy",
    "psql",
    "psql_sql",
)


def _order(m: dict[str, Any]) -> tuple[Any, ...]:
    """Tables read by size, then format (or view), then Airlake first and its anchors after it."""
    fmt = m.get("format")
    if m["stage"] == "parse":  # case "<file> <n> contracts", rows = n
        return (m["stage"], 0, 0, m["case"].split(" ")[0], m["rows"])
    return (
        m["stage"],
        m["rows"],
        _FORMAT_ORDER.index(fmt) if fmt in _FORMAT_ORDER else len(_FORMAT_ORDER),
        m["case"],
        _ENGINE_ORDER.index(m["engine"]) if m["engine"] in _ENGINE_ORDER else len(_ENGINE_ORDER),
    )


def _stage_table(measurements: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| case | engine | role | s (best / worst) | CPU s | MB/s | rows/s | peak MB | Airlake ÷ engine "
        "| by CPU | check |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in measurements:
        if m.get("error"):
            lines.append(
                f"| {m['case']} | {m['engine']} | {m['role']} | — | — | — | — | — | — | — | {m['error'][:80]} |"
            )
            continue
        cpu = m.get("cpu_seconds")
        lines.append(
            f"| {m['case']} | {m['engine']} | {m['role']} | {m['seconds']:.2f} / {m['seconds_worst']:.2f} | "
            f"{'—' if cpu is None else f'{cpu:.1f}'} | "
            f"{_rate(m.get('mb_per_s'))} | {_mb(m.get('rows_per_s'))} | {_mb(m.get('peak_memory_mb'))} | "
            f"{_ratio(m.get('ratio'))} | {_ratio(m.get('cpu_ratio'))} | {m.get('check') or ''} |"
        )
    return lines


def _fit(points: list[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Least squares ``y = a + b x``: (a, b, r²)."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in points)
    b = sxy / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in points)
    return a, b, 1 - ss_res / ss_tot if ss_tot else 1.0


def _parse_section(measurements: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    lines = [
        "| DAG file | contracts | ms per file (best / worst) | ms per contract | module-level DAGs | peak MB | check |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    by_file: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for m in measurements:
        name, count = m["case"].split(" ")[0], int(m["rows"])
        if m.get("error"):
            lines.append(f"| {name} | {count} | — | — | — | — | {m['error'][:80]} |")
            continue
        ms = m["seconds"] * 1000
        by_file[name].append((count, ms))
        lines.append(
            f"| {name} | {count} | {ms:.0f} / {m['seconds_worst'] * 1000:.0f} | {ms / count:.1f} | "
            f"{m['result'].get('dags', '—')} | {_mb(m.get('peak_memory_mb'))} | {m.get('check') or ''} |"
        )
    verdicts = []
    for name, points in sorted(by_file.items()):
        worst = max(ms for _, ms in points)
        fit = _fit(points)
        line = f"- `{name}`: slowest {worst:.0f} ms per file ({'met' if worst < PARSE_BUDGET_MS else 'MISSED'} < {PARSE_BUDGET_MS:.0f} ms)"
        if fit and name == "airlake_datasets.py":
            a, b, r2 = fit
            line += f"; least squares {a:.0f} ms + {b:.2f} ms x contracts"
            if len(points) >= 3:
                line += f", r² = {r2:.3f} ({'linear' if r2 >= 0.98 else 'not linear'})"
        verdicts.append(line)
    return lines, verdicts


def _targets(results: dict[str, Any]) -> list[str]:
    ms = [m for m in results["measurements"] if not m.get("error") and m.get("rows_per_s")]
    lines: list[str] = []
    curate = [m for m in ms if m["stage"] == "curate"]
    for m in curate:
        if m["engine"] == "duckdb" and m.get("ratio") is not None:
            verdict = "met" if m["ratio"] >= CURATE_TARGET else "MISSED"
            lines.append(
                f"- curate {m['case']}: Airlake at {m['ratio']:.2f} of DuckDB's throughput "
                f"({verdict}, target >= {CURATE_TARGET:.2f})"
            )
    airlake_curate = [m for m in curate if m["role"] == "airlake"]
    for fmt in sorted({m["format"] for m in airlake_curate}):
        runs = sorted((m for m in airlake_curate if m["format"] == fmt), key=lambda m: m["rows"])
        if len(runs) >= 2:
            low, high = runs[0], runs[-1]
            growth = high["peak_memory_mb"] / low["peak_memory_mb"]
            verdict = "met" if growth <= MEMORY_FLAT else "MISSED"
            lines.append(
                f"- curate {fmt} peak memory {low['size']} -> {high['size']}: {low['peak_memory_mb']:.0f} -> "
                f"{high['peak_memory_mb']:.0f} MB, x{growth:.2f} ({verdict}, flat = within "
                f"{(MEMORY_FLAT - 1) * 100:.0f} %)"
            )
    for m in ms:
        if m["stage"] == "load" and m["engine"] == "psql" and m.get("ratio") is not None:
            verdict = "met" if m["ratio"] >= LOAD_TARGET else "MISSED"
            lines.append(
                f"- load {m['case']}: Airlake at {m['ratio']:.2f} of psql \\copy ({verdict}, target >= {LOAD_TARGET:.2f})"
            )
    return lines


def render(results: dict[str, Any], analysis: str | None = None) -> str:
    results = with_ratios(results)
    info = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
    runs = results.get("runs") or [_run_info(results)]
    kept = {m.get("run_started_at", results["started_at"]) for m in results["measurements"]}
    superseded = [run for run in runs if run.get("started_at") not in kept]
    runs = [run for run in runs if run.get("started_at") in kept]
    repeats = results["method"]["repeat"] if len(runs) <= 1 else "each run's `--repeat` (below)"
    out = [
        f"# Airlake bench results ({results['started_at'][:10]})",
        "",
        "## Machine and method",
        "",
        f"- {info['logical_cores']} logical cores ({info.get('physical_cores')} physical), "
        f"{info['cpu_model']}; {info['memory_gb']} GB memory; {info['platform']}",
        f"- {versions}",
        "- Shared machine: other engineers' jobs ran at the same time, so timings are noisy; every run "
        "is repeated and the best (lowest wall time) is reported, with the worst beside it.",
        f"- Repeats per measurement: {repeats}; {results['method']['reported_run']}.",
        "- Peak memory: the largest resident set of the measured process tree (sampled every 20 ms, and "
        "the kernel's ru_maxrss), each run in its own process; moto and PostgreSQL are not counted.",
        "- Throughput: input bytes / wall seconds of the work only (imports and setup untimed); rows/s: "
        "input rows / seconds. Ratio: Airlake rows/s ÷ the engine's rows/s on the same input, same run "
        "(the targets use it). CPU s: user + system time of the work (all threads and waited-for child "
        "processes) in the reported run; 'by CPU' = the engine's CPU seconds ÷ Airlake's: how much of "
        "Airlake's CPU the engine needs for the same work, far less sensitive to other jobs than wall time "
        "(curate only: in ingest, views and load part of the work runs in moto or PostgreSQL, whose CPU "
        "is not counted).",
    ]
    for run in runs:
        code = run.get("code") or {}
        out.append(
            f"- Run `{run.get('command')}` ({run.get('started_at')} -> {run.get('finished_at')}), load average "
            f"before {run.get('load_average_before')}, after {run.get('load_average_after')}; commit "
            f"{code.get('commit')}, {code.get('uncommitted_files_outside_bench')} uncommitted file(s) outside "
            "bench/ (the working tree is shared)"
        )
    if superseded:
        out.append(
            f"- {len(superseded)} earlier run(s) were measured again (under a high load average); only the "
            "later measurements are kept: "
            + "; ".join(f"`{run.get('command')}` at {run.get('started_at')}" for run in superseded)
        )
    out += [
        "",
        "## Inputs",
        "",
        "| size | rows | bad | duplicates | expected written | CSV MB | gzip CSV MB | JSONL MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, data in results.get("datasets", {}).items():
        sizes = data["bytes"]
        out.append(
            f"| {label} | {data['rows']:,} | {data['bad']:,} | {data['duplicates']:,} | {data['written']:,} | "
            + " | ".join(_mb(sizes[f] / 1e6) if f in sizes else "—" for f in ("csv", "csv.gz", "jsonl"))
            + " |"
        )
    out += [
        "",
        "Clickstream events (contract include/contracts/clickstream.yaml), one ISO week (7 dt partitions), "
        "2 % exact duplicates and 0.5 % bad rows (event type not accepted, bad timestamp, null session id; "
        "in CSV also a non-integer user id and a row with an extra field), generated with a fixed seed.",
    ]
    targets = _targets(results)
    by_stage: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in sorted(results["measurements"], key=_order):
        by_stage[m["stage"]].append(m)
    parse_verdicts: list[str] = []
    for stage in ("curate", "ingest", "emulator", "views", "load", "parse", "dagparse"):
        if stage not in by_stage:
            continue
        out += ["", f"## {STAGE_TITLES.get(stage, 'parse: DAG files, fresh interpreter per parse')}", ""]
        if stage == "parse":
            table, parse_verdicts = _parse_section(by_stage[stage])
            out += table
        elif stage == "dagparse":
            from bench.stages.dagparse import section

            table, verdicts = section(by_stage[stage])
            out += table
            parse_verdicts += verdicts
        else:
            out += _stage_table(by_stage[stage])
    out += ["", "## Targets (measured, not asserted)", "", *targets, *parse_verdicts]
    if results.get("notes"):
        out += ["", "## Notes", "", *(f"- {note}" for note in results["notes"])]
    if analysis:
        out += ["", analysis.strip()]
    return "\n".join(out) + "\n"


def write(results: dict[str, Any], stem: Path, analysis: str | None = None) -> tuple[Path, Path]:
    """``<stem>.json`` and ``<stem>.md``."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    results = with_ratios(results)
    json_path.write_text(json.dumps(results, indent=2, sort_keys=False, default=_default) + "\n")
    md_path.write_text(render(results, analysis))
    return json_path, md_path


def _default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)
