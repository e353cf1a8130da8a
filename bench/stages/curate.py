"""curate: raw events -> typed, validated, de-duplicated, date-partitioned zstd Parquet.

- ``airlake``: :func:`airlake.curate.run_curate` on the ``clickstream`` contract, the raw part and its
  ingest manifest laid out in a :class:`~bench.localstore.LocalStore` exactly as ingest leaves them in
  S3 (the emulator's GET/PUT cost is measured apart, see :mod:`bench.stages.emulator`). It also writes
  the quarantine file and the manifest, and sorts each partition by key. The one raw part is cut into
  pieces parsed by every core (:mod:`airlake.curate.pieces`); the manifest's ``parse_workers`` says how
  many.
- ``duckdb`` (anchor): one ``COPY (SELECT ... QUALIFY row_number() ...) TO ... (FORMAT parquet,
  PARTITION_BY (dt))`` over the same file, DuckDB's default settings (all cores, 80 % of RAM).
- ``airlake_parts`` (informative): the same call with the input cut into raw parts of ~128 MB, as a
  line-based ingest (RawWriter) lands it (each part is cut into pieces too). Plain CSV and JSON Lines
  only.
- ``airlake_sql`` (informative): the project's SQL version of curate (:func:`airlake.curate.curate_sql`,
  meant for Athena CTAS on big inputs) run on DuckDB over the raw JSON lines, rows and rejects.
- ``pyarrow`` (anchor): a streaming CSV/JSON reader, vectorised validation and casts per batch, spill
  per date, then per date a hash de-duplication (``group_by``) and a zstd Parquet write.
- ``pandas`` (baseline): ``read_csv``/``read_json`` of the whole file, ``drop_duplicates``,
  ``to_parquet(partition_cols=["dt"])``.

Every engine applies the same rules (types, NOT NULL, accepted values, one row per ``(dt, event_id)``,
the earliest ``event_time`` kept) and reports how many rows it wrote, which must equal the generator's
expectation. The anchors drop bad rows without writing them to a quarantine file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from bench.generate import COLUMNS, EVENT_TYPES, PLATFORMS

DATASET = "clickstream"
RUN_ID = "bench__2026-11-23T00:00:00+00:00"
INGEST_DATE = date(2026, 11, 23)
Work = Callable[[], dict[str, Any]]
_TIMESTAMP_TEXT = r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})\s*$"
_INTEGER_TEXT = r"^\s*[+-]?\d+\s*$"


def _suffix(fmt: str) -> str:
    return {"csv": ".csv", "csv.gz": ".csv.gz", "jsonl": ".jsonl"}[fmt]


def lay_out_raw(root: Path, source: Path, fmt: str, *, rows: int, sha256: str) -> Any:
    """A LocalStore holding ``source`` as the one raw part of ingest run RUN_ID, with its manifest."""
    return lay_out_parts(root, [(source, rows, sha256)], fmt)


def lay_out_parts(root: Path, parts: list[tuple[Path, int, str]], fmt: str) -> Any:
    """A LocalStore holding ``parts`` (path, rows, sha256) as the raw parts of ingest run RUN_ID."""
    from airlake.lake import manifest_key, raw_run_prefix
    from bench.localstore import LocalStore

    store = LocalStore(root)
    outputs = []
    for index, (source, rows, sha256) in enumerate(parts):
        key = f"{raw_run_prefix(DATASET, INGEST_DATE, RUN_ID)}part-{index:05d}{_suffix(fmt)}"
        target = root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)  # no copy: the stage reads it as it would read its downloaded part
        except OSError:
            import shutil

            shutil.copyfile(source, target)
        outputs.append({"key": key, "bytes": source.stat().st_size, "rows": rows, "sha256": sha256})
    total = sum(rows for _, rows, _ in parts)
    store.put_json(
        manifest_key(DATASET, RUN_ID, "ingest"),
        {
            "dataset": DATASET,
            "run_id": RUN_ID,
            "stage": "ingest",
            "status": "complete",
            "interval": {"start": f"{INGEST_DATE.isoformat()}T00:00:00+00:00", "end": ""},
            "outputs": outputs,
            "rows": {"read": total, "landed": total},
        },
    )
    return store


def _import_curate_modules() -> None:
    """Import what a curate run imports on first use (pyarrow's readers and compute, DuckDB, numpy),
    untimed like the anchors' own imports: a worker process imports them once, not once per run."""
    import duckdb  # noqa: F401
    import numpy  # noqa: F401
    import pyarrow.compute
    import pyarrow.csv
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401

    import airlake.curate.json_vector
    import airlake.curate.merge
    import airlake.curate.parts  # noqa: F401


def prepare_airlake(params: dict[str, Any]) -> Work:
    from airlake.contracts import get_contract
    from airlake.curate import CurateOptions, run_curate

    _import_curate_modules()
    run_dir = Path(params["run_dir"])
    contract = get_contract(DATASET)
    store = lay_out_raw(
        run_dir / "lake",
        Path(params["input"]),
        params["format"],
        rows=params["rows"],
        sha256=params["sha256"],
    )
    options = dict(params.get("options") or {})

    def work() -> dict[str, Any]:
        summary = run_curate(
            contract,
            store,
            run_id=RUN_ID,
            live_location=lambda dt: None,
            work_dir=run_dir / "scratch",
            options=CurateOptions(**options),
        ).summary
        manifest = store.get_json(summary["manifest"])
        return {
            "rows_read": summary["rows"]["read"],
            "rows_written": summary["rows"]["written"],
            "rows_quarantined": summary["rows"]["quarantined"],
            "duplicates_dropped": summary["rows"]["duplicates_dropped"],
            "partitions": len(summary["partitions"]),
            "output_bytes": sum(o["bytes"] for o in manifest["outputs"] if o["kind"] == "curated"),
            "timings": manifest["timings"],
        }

    return work


PART_BYTES = 128 * 1024 * 1024
"""Raw part size of the line-based sources (airlake.ingest.raw_writer.DEFAULT_PART_BYTES)."""


def split_parts(
    source: Path, fmt: str, folder: Path, part_bytes: int = PART_BYTES
) -> list[tuple[Path, int, str]]:
    """``source`` (plain CSV or JSON Lines) cut at line ends into parts of about ``part_bytes`` (at least
    two), each CSV part with the header: the raw parts a line-based ingest writes. Made once, reused."""
    import hashlib
    import json

    done = folder / "parts.json"
    if done.exists():
        return [(Path(p), r, h) for p, r, h in json.loads(done.read_text())]
    folder.mkdir(parents=True, exist_ok=True)
    size = source.stat().st_size
    target = min(part_bytes, max(size // 2 + 1, 1))
    parts: list[tuple[Path, int, str]] = []
    with source.open("rb") as handle:
        header = handle.readline() if fmt == "csv" else b""
        eof = False
        while not eof:
            path = folder / f"part-{len(parts):05d}{_suffix(fmt)}"
            digest, rows, written = hashlib.sha256(), 0, 0
            with path.open("wb") as out:
                if header:
                    out.write(header)
                    digest.update(header)
                while written < target:
                    lines = handle.readlines(4 * 1024 * 1024)
                    if not lines:
                        eof = True
                        break
                    chunk = b"".join(lines)
                    out.write(chunk)
                    digest.update(chunk)
                    rows += len(lines)
                    written += len(chunk)
            if rows:
                parts.append((path, rows, digest.hexdigest()))
            else:
                path.unlink()
    done.write_text(json.dumps([[str(p), r, h] for p, r, h in parts]))
    return parts


def prepare_airlake_parts(params: dict[str, Any]) -> Work:
    """Airlake curate of the same rows landed as raw parts of ~128 MB (what a line-based ingest writes):
    several parts are parsed in parallel worker processes."""
    from airlake.contracts import get_contract
    from airlake.curate import run_curate

    run_dir = Path(params["run_dir"])
    source = Path(params["input"])
    parts = split_parts(source, params["format"], source.parent / f"parts-{params['format']}")
    contract = get_contract(DATASET)
    store = lay_out_parts(run_dir / "lake", parts, params["format"])

    def work() -> dict[str, Any]:
        summary = run_curate(
            contract, store, run_id=RUN_ID, live_location=lambda dt: None, work_dir=run_dir / "scratch"
        ).summary
        manifest = store.get_json(summary["manifest"])
        return {
            "rows_read": summary["rows"]["read"],
            "rows_written": summary["rows"]["written"],
            "rows_quarantined": summary["rows"]["quarantined"],
            "duplicates_dropped": summary["rows"]["duplicates_dropped"],
            "partitions": len(summary["partitions"]),
            "raw_parts": len(parts),
            "output_bytes": sum(o["bytes"] for o in manifest["outputs"] if o["kind"] == "curated"),
            "timings": manifest["timings"],
        }

    return work


def prepare_airlake_sql(params: dict[str, Any]) -> Work:
    """Airlake's own SQL path (:func:`airlake.curate.curate_sql`, the Athena CTAS of big inputs) run
    locally on DuckDB as the project runs it (``to_duckdb``): curated rows and the rejects with their
    reasons, over a view of the raw JSON lines. JSON Lines only (the SQL reads JSON lines)."""
    import duckdb

    from airlake.contracts import get_contract
    from airlake.curate import curate_sql, to_duckdb

    if params["format"] != "jsonl":
        raise ValueError("curate_sql reads raw JSON lines: jsonl input only")
    run_dir = Path(params["run_dir"])
    contract = get_contract(DATASET)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = '{run_dir / 'duckdb-tmp'}'")
    path = str(params["input"]).replace("'", "''")
    con.execute(
        "CREATE VIEW raw_lines AS SELECT line, row_number() OVER () AS seq "
        f"FROM read_csv('{path}', columns = {{'line': 'VARCHAR'}}, delim = '\\t', quote = '', escape = '', "
        "header = false)"
    )
    rows_sql = to_duckdb(curate_sql(contract))
    rejects_sql = to_duckdb(curate_sql(contract, rejects=True))
    out, rejects = run_dir / "out", run_dir / "rejects.jsonl.gz"

    def work() -> dict[str, Any]:
        written = con.execute(
            f"COPY ({rows_sql}) TO '{out}' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)"
        ).fetchall()[0][0]
        rejected = con.execute(
            f"COPY ({rejects_sql}) TO '{rejects}' (FORMAT json, COMPRESSION gzip)"
        ).fetchall()[0][0]
        return {"rows_written": int(written), "rows_quarantined": int(rejected), **_output_of(out)}

    return work


# --------------------------------------------------------------------------------------------------
# DuckDB
# --------------------------------------------------------------------------------------------------


def duckdb_source(path: str, fmt: str) -> str:
    """The raw file as a DuckDB table function, every column read as text (the rules below type it)."""
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in COLUMNS) + "}"
    quoted = "'" + path.replace("'", "''") + "'"
    if fmt == "jsonl":
        return f"read_json({quoted}, format = 'newline_delimited', columns = {columns}, ignore_errors = true)"
    return f"read_csv({quoted}, header = true, columns = {columns}, ignore_errors = true)"


def duckdb_curate_sql(source: str, *, deduplicate: bool = True) -> str:
    """Typed, validated, de-duplicated events with their ``dt`` (the anchor's SELECT); with
    ``deduplicate=False`` every copy of an event is kept (what the parse spills for the merge)."""
    events = ", ".join(f"'{value}'" for value in EVENT_TYPES)
    platforms = ", ".join(f"'{value}'" for value in PLATFORMS)
    return f"""
        WITH typed AS (
            SELECT
                event_id, session_id, user_id AS user_id_text, TRY_CAST(user_id AS BIGINT) AS user_id,
                event_type, product_id, platform, TRY_CAST(event_time AS TIMESTAMPTZ) AS event_time,
                app_version
            FROM {source}
        )
        SELECT
            event_id, session_id, user_id, event_type, product_id, platform, event_time, app_version,
            strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d') AS dt
        FROM typed
        WHERE event_id IS NOT NULL AND session_id IS NOT NULL AND event_time IS NOT NULL
            AND event_type IN ({events}) AND platform IN ({platforms})
            AND (user_id_text IS NULL OR user_id IS NOT NULL)
        {"QUALIFY row_number() OVER (PARTITION BY dt, event_id ORDER BY event_time) = 1" if deduplicate else ""}
    """


def prepare_duckdb(params: dict[str, Any]) -> Work:
    import duckdb

    run_dir = Path(params["run_dir"])
    out = run_dir / "out"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = '{run_dir / 'duckdb-tmp'}'")
    for name, value in (params.get("settings") or {}).items():
        con.execute(f"SET {name} = '{value}'")
    select = duckdb_curate_sql(duckdb_source(params["input"], params["format"]))

    def work() -> dict[str, Any]:
        written = con.execute(
            f"COPY ({select}) TO '{out}' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)"
        ).fetchall()[0][0]
        return {"rows_written": int(written), **_output_of(out)}

    return work


def _output_of(out: Path) -> dict[str, Any]:
    files = [p for p in out.rglob("*.parquet")]
    return {
        "partitions": len({p.parent for p in files}),
        "output_bytes": sum(p.stat().st_size for p in files),
    }


# --------------------------------------------------------------------------------------------------
# pyarrow streaming
# --------------------------------------------------------------------------------------------------

_BATCH_BYTES = 16 * 1024 * 1024


def _arrow_reader(path: str, fmt: str) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    text_schema = pa.schema([(name, pa.string()) for name in COLUMNS])
    if fmt == "jsonl":
        schema = text_schema.set(text_schema.get_field_index("user_id"), pa.field("user_id", pa.int64()))
        return pajson.open_json(
            path,
            read_options=pajson.ReadOptions(block_size=_BATCH_BYTES),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=_BATCH_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
        convert_options=pacsv.ConvertOptions(column_types=text_schema, strings_can_be_null=True),
    )


def _arrow_typed(batch: Any, schema: Any) -> tuple[Any, Any]:
    """(typed batch with a ``dt`` column, the rows that pass every rule) of one raw batch."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = {name: batch.column(name) for name in COLUMNS}
    valid = pc.and_(
        pc.and_(pc.is_valid(columns["event_id"]), pc.is_valid(columns["session_id"])),
        pc.and_(
            pc.is_in(columns["event_type"], value_set=pa.array(EVENT_TYPES)),
            pc.is_in(columns["platform"], value_set=pa.array(PLATFORMS)),
        ),
    )
    stamp_ok = pc.fill_null(pc.match_substring_regex(columns["event_time"], _TIMESTAMP_TEXT), False)
    valid = pc.and_(valid, stamp_ok)
    user = columns["user_id"]
    if pa.types.is_string(user.type):
        user_ok = pc.or_(pc.is_null(user), pc.fill_null(pc.match_substring_regex(user, _INTEGER_TEXT), False))
        valid = pc.and_(valid, user_ok)
        user = pc.if_else(user_ok, user, pa.scalar(None, pa.string()))
    valid = pc.fill_null(valid, False)
    stamps = pc.cast(
        pc.if_else(valid, columns["event_time"], pa.scalar(None, pa.string())),
        schema.field("event_time").type,
    )
    columns["event_time"] = stamps
    columns["user_id"] = pc.cast(user, pa.int64())
    arrays = [columns[name] for name in COLUMNS]
    arrays.append(pc.strftime(stamps, format="%Y-%m-%d"))
    names = [*COLUMNS, "dt"]
    return pa.RecordBatch.from_arrays(arrays, names=names).filter(valid), valid


def prepare_pyarrow(params: dict[str, Any]) -> Work:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from airlake.contracts import get_contract

    run_dir = Path(params["run_dir"])
    spill, out = run_dir / "spill", run_dir / "out"
    contract = get_contract(DATASET)
    schema = pa.schema([pa.field(f.name, f.type) for f in contract.arrow_schema()])

    def work() -> dict[str, Any]:
        spill.mkdir(parents=True)
        writers: dict[str, Any] = {}
        seq = 0
        for batch in _arrow_reader(params["input"], params["format"]):
            typed, _ = _arrow_typed(batch, schema)
            typed = typed.append_column("_seq", pa.array(range(seq, seq + typed.num_rows), pa.int64()))
            seq += typed.num_rows
            for dt in pc.unique(typed.column("dt")).to_pylist():
                part = typed.filter(pc.equal(typed.column("dt"), dt))
                if dt not in writers:
                    writers[dt] = pq.ParquetWriter(spill / f"{dt}.parquet", part.schema, compression="lz4")
                writers[dt].write_batch(part)
        for writer in writers.values():
            writer.close()
        written = 0
        for dt in sorted(writers):
            table = pq.read_table(spill / f"{dt}.parquet")
            table = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
            # earliest event_time per event_id, the earlier line on a tie
            order = table.sort_by([("event_time", "ascending"), ("_seq", "ascending")])
            firsts = order.group_by("event_id", use_threads=False).aggregate([("_row", "first")])
            keep = table.take(firsts.column("_row_first"))
            (out / f"dt={dt}").mkdir(parents=True)
            pq.write_table(
                keep.select(list(COLUMNS)).cast(schema),
                out / f"dt={dt}" / "part-0.parquet",
                compression="zstd",
            )
            written += keep.num_rows
            (spill / f"{dt}.parquet").unlink()
        return {"rows_written": written, **_output_of(out)}

    return work


# --------------------------------------------------------------------------------------------------
# pandas
# --------------------------------------------------------------------------------------------------


def prepare_pandas(params: dict[str, Any]) -> Work:
    import pandas as pd

    run_dir = Path(params["run_dir"])
    out = run_dir / "out"
    path, fmt = params["input"], params["format"]

    def work() -> dict[str, Any]:
        if fmt == "jsonl":
            frame = pd.read_json(path, lines=True, dtype={"user_id": "Int64"})
            user_ok = pd.Series(True, index=frame.index)
            user = frame["user_id"]
        else:
            frame = pd.read_csv(path, dtype=str, on_bad_lines="skip")
            text = frame["user_id"]
            user = pd.to_numeric(text, errors="coerce").astype("Int64")
            user_ok = text.isna() | user.notna()
        stamps = pd.to_datetime(frame["event_time"], utc=True, errors="coerce", format="ISO8601")
        valid = (
            frame["event_id"].notna()
            & frame["session_id"].notna()
            & frame["event_type"].isin(EVENT_TYPES)
            & frame["platform"].isin(PLATFORMS)
            & stamps.notna()
            & user_ok
        )
        frame = frame.assign(user_id=user, event_time=stamps)[valid]
        frame["dt"] = frame["event_time"].dt.strftime("%Y-%m-%d")
        frame = frame.sort_values("event_time", kind="stable").drop_duplicates(
            ["dt", "event_id"], keep="first"
        )
        frame.to_parquet(out, partition_cols=["dt"], compression="zstd", index=False)
        return {"rows_written": len(frame), **_output_of(out)}

    return work


def describe() -> dict[str, str]:
    """One line per engine for the report."""
    return {
        "airlake": "airlake.curate.run_curate (clickstream contract; quarantine + manifest; LocalStore)",
        "airlake_parts": "the same, the input landed as raw parts of ~128 MB (parsed by parallel workers)",
        "airlake_sql": "airlake.curate.curate_sql (the Athena path) on DuckDB: rows + rejects, JSON Lines",
        "duckdb": "DuckDB COPY (SELECT ... QUALIFY row_number()) TO ... (FORMAT parquet, PARTITION_BY (dt))",
        "pyarrow": "pyarrow open_csv/open_json streaming + per-date spill + group_by de-dup",
        "pandas": "pandas read_csv/read_json + drop_duplicates + to_parquet(partition_cols)",
    }
