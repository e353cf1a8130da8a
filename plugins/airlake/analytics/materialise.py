"""Materialise one view of sql/athena for one day: query, one Parquet version, Glue table + partition.

The result of a view for day ``ds`` is written as a NEW version
``analytics/<view>/dt=<ds>/v=<version>/part-NNNNN.parquet`` (zstd, server-side encrypted), then the Glue
table ``<view>`` is created or brought in step with the result's columns, and its partition
``dt=<ds>`` is pointed at the new version: that move is the atomic publish. Older versions stay where
they are (readers that started on them finish on them).

Two ways to write the version, both typed as the SQL's result:

- an engine with an ``unload`` method (Athena) writes the files itself: ``UNLOAD (SELECT ...) TO
  '<version>/_unload/' WITH (format = 'PARQUET', compression = 'ZSTD', partitioned_by = ARRAY['dt'])``,
  then the files are copied server-side to ``part-NNNNN.parquet`` and the staging folder removed. The
  Glue columns come from the written files' Parquet footers: the types readers will parse, whatever
  Athena's result metadata says (GetQueryResults would hand back decimals and dates as strings, 1,000
  rows a page, through the worker); no row passes through the worker.
- any other engine (DuckDB locally) returns the rows as Arrow, written here as ``part-00000.parquet``
  with the Arrow types as Glue columns.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from airlake.lake import ANALYTICS, DEFAULT_PARTITION_COLUMN, analytics_prefix, analytics_version_prefix

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.engines import QueryEngine
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

ANALYTICS_PREFIX = ANALYTICS
PARAM_VIEW = "airlake.view"
PARTITION_COLUMN = DEFAULT_PARTITION_COLUMN
"""The views' partition column: a view table is partitioned by the day it was materialised for."""
PART_FILE = "part-00000.parquet"
UNLOAD_FOLDER = "_unload/"
"""Staging folder of Athena's UNLOAD inside the version prefix (readers skip ``_`` names); removed after."""
_VIEW = re.compile(r"^[a-z][a-z0-9_]*$")
_DS = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GLUE_TYPE = re.compile(
    r"^(boolean|tinyint|smallint|int|bigint|float|double|date|timestamp|binary|string|decimal\(\d+,\d+\))$"
)


class MaterialiseError(RuntimeError):
    """A view result cannot be materialised (bad name, unsupported column type, wrong dt values)."""


def check_view_name(view: str) -> str:
    if not isinstance(view, str) or not _VIEW.match(view):
        raise MaterialiseError(f"view name {view!r} must match {_VIEW.pattern}")
    return view


def analytics_location(bucket: str, view: str) -> str:
    """``s3://<bucket>/analytics/<view>/``: the table's location (partitions point below it; the
    prefixes are :mod:`airlake.lake`'s, ``analytics_version_prefix`` included)."""
    return f"s3://{bucket}/{analytics_prefix(view)}"


def view_columns(schema: pa.Schema) -> list[dict[str, Any]]:
    """Glue columns of a result schema, the partition column ``dt`` left out."""
    from airlake.catalog import arrow_to_glue_type

    columns: list[dict[str, Any]] = []
    for field in schema:
        if field.name == PARTITION_COLUMN:
            continue
        glue_type = arrow_to_glue_type(field.type)
        if not _GLUE_TYPE.match(glue_type):
            raise MaterialiseError(
                f"column {field.name!r} has Arrow type {field.type} with no Glue type: cast it in the SQL"
            )
        columns.append({"Name": field.name, "Type": glue_type})
    return columns


def part_file(index: int) -> str:
    """``part-00000.parquet``, ``part-00001.parquet``, ...: the files of one version."""
    return f"part-{index:05d}.parquet"


def result_column_names(sql: str) -> list[str]:
    """
    The output column names of a view's SQL, in order, from its final SELECT (sqlglot).

    Every column must be named: a column reference or an alias (Athena would call an unnamed
    expression ``_col<n>``, and UNLOAD needs the names to put ``dt`` last).
    """
    from sqlglot import exp

    from airlake.engines.base import SQL_DIALECT, QueryEngineError, parse_query

    try:
        statements = parse_query(sql)  # the tree the engine plans the query with
    except QueryEngineError as exc:
        raise MaterialiseError(f"cannot parse the view's SQL as {SQL_DIALECT}: {exc}") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise MaterialiseError("a view's SQL must be exactly one SELECT")
    names: list[str] = []
    for projection in statements[0].selects:
        if isinstance(projection, exp.Alias | exp.Column) and not isinstance(projection, exp.Star):
            name = projection.alias_or_name
        else:
            name = ""
        if not name or name == "*" or not _COLUMN.match(name):
            raise MaterialiseError(
                f"the view's output column {projection.sql(dialect=SQL_DIALECT)!r} needs a plain name "
                "(a column or an alias): name every column of the final SELECT"
            )
        names.append(name)
    if len(set(names)) != len(names):
        raise MaterialiseError(f"the view's output columns repeat a name: {names}")
    return names


def view_table_input(view: str, bucket: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
    """Glue ``TableInput`` of a view: an external zstd Parquet table partitioned by ``dt`` (string)."""
    from airlake.catalog import parquet_storage_descriptor

    return {
        "Name": view,
        "Description": f"Airlake analytics view {view}: sql/athena/{view}.sql materialised per day",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "EXTERNAL": "TRUE",
            "parquet.compression": "ZSTD",
            PARAM_VIEW: view,
        },
        "PartitionKeys": [{"Name": PARTITION_COLUMN, "Type": "string", "Comment": "Partition: the day (ds)"}],
        "StorageDescriptor": parquet_storage_descriptor(columns, analytics_location(bucket, view)),
    }


_NOT_READ: Any = object()


def ensure_view_table(
    glue: Any, database: str, table_input: dict[str, Any], current: dict[str, Any] | None = _NOT_READ
) -> str:
    """Create the table or update it when its columns, location or format differ: ``created``,
    ``updated`` or ``unchanged``. A table of the same name that is not this view's is refused.

    ``current``: the table as this run already read it (None: absent), to spare Glue a second
    get_table of the same answer; not given: read now."""
    from airlake.catalog import comparable_table, create_table, get_table, glue_call

    name = table_input["Name"]
    if current is _NOT_READ:
        current = get_table(glue, database, name)
    if current is None:
        create_table(glue, database, table_input)  # a lost reply's resend that finds it as wanted is fine
        return "created"
    owner = (current.get("Parameters") or {}).get(PARAM_VIEW)
    if owner != name:
        raise MaterialiseError(
            f"Glue table {database}.{name} exists and is not the materialised view {name!r} "
            f"(parameter {PARAM_VIEW}={owner!r}): choose another database or view name"
        )
    if comparable_table(current) == comparable_table(table_input):
        return "unchanged"
    with glue_call(f"update_table {database}.{name}"):
        glue.update_table(DatabaseName=database, TableInput=table_input)
    log.info("Updated Glue table %s.%s", database, name)
    return "updated"


def _drop_partition_column(result: pa.Table, ds: str) -> pa.Table:
    """The result without ``dt``; every ``dt`` value must be ``ds`` (the partition it is written to)."""
    import pyarrow.compute as pc

    if PARTITION_COLUMN not in result.column_names:
        return result
    values = result.column(PARTITION_COLUMN).cast("string")
    others = pc.unique(values.filter(pc.invert(pc.equal(values, ds)))).to_pylist() if len(values) else []
    if values.null_count or others:
        shown = sorted({str(v) for v in others} | ({"NULL"} if values.null_count else set()))
        raise MaterialiseError(f"the result's dt column holds {shown[:5]}, not only {ds!r}")
    return result.drop_columns([PARTITION_COLUMN])


def materialise_view(
    engine: QueryEngine,
    glue: Any,
    store: LakeStore,
    *,
    database: str,
    view: str,
    sql: str,
    ds: str,
    scan_limit_bytes: int | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """
    Run a view's rendered SQL for day ``ds`` and publish the result as partition ``dt=<ds>`` of the
    Glue table ``<database>.<view>``, at a new version.

    :param engine: the query engine (DuckDB locally, Athena on AWS). One with an ``unload(select,
        location, *, partitioned_by, encryption)`` method (:meth:`~airlake.engines.athena.AthenaEngine.unload`)
        writes the version's files itself; the rows of any other are written here.
    :param glue: a boto3 Glue client.
    :param store: the lake bucket (every put is server-side encrypted).
    :param database: the Glue database of the view table (and of bare table names in the SQL).
    :param view: the view name (``^[a-z][a-z0-9_]*$``): table name and ``analytics/<view>/`` prefix.
    :param sql: the rendered Athena SQL.
    :param ds: the day, ``YYYY-MM-DD``; a ``dt`` column of the result must hold only this value.
    :param scan_limit_bytes: refuse (:class:`~airlake.engines.ScanBudgetExceeded`) before running when
        the live partitions the query selects (its ``dt`` predicates) of the tables read are larger,
        and pass it to the engine's own cutoff (:meth:`~airlake.engines.QueryEngine.apply_scan_limit`);
        None: no check.
    :param run_id: when given, ``_manifests/analytics_<view>/<run_id>/materialise.json`` is written.
    :return: ``{view, dt, rows, location, bytes_scanned}`` (plus ``version``, ``previous_location``,
        ``table_change``, ``bytes``, ``files``).
    """
    from airlake.catalog import (
        ensure_database,
        get_partitions,
        get_table,
        partition_location,
        publish_partitions,
    )
    from airlake.curate.versions import new_version_id, version_of_location
    from airlake.engines import check_scan_budget

    check_view_name(view)
    if not _DS.match(ds or ""):
        raise MaterialiseError(f"ds must be YYYY-MM-DD, got {ds!r}")

    estimates: dict[str, int] | None = None
    if scan_limit_bytes is not None:
        # sized on the partitions the query's dt predicates select (what it reads), then the
        # engine's own cutoff where it has one (Athena: the workgroup's bytes-scanned cutoff)
        estimates = check_scan_budget(engine, sql, int(scan_limit_bytes))
        engine.apply_scan_limit(int(scan_limit_bytes))

    view_table: dict[str, Any] | None = None
    current: dict[str, str | None] = {}

    def read_view() -> tuple[dict[str, Any] | None, str | None]:
        """The view's Glue table (None: absent) and the location of its partition ``dt=<ds>`` (None: no
        such partition, ``""``: one without a location); read once, for the new version, the table's
        update and the publish after (publish_partitions is handed it and does not ask again)."""
        table = get_table(glue, database, view)
        if table is None:  # no table, no partition
            return None, None
        found = get_partitions(glue, database, view, [ds]).get(ds)
        return table, None if found is None else partition_location(found) or ""

    def new_version(read: tuple[dict[str, Any] | None, str | None]) -> tuple[str | None, str, str]:
        """(live location, new version, its prefix) of the view's partition ``dt=<ds>``, from
        :func:`read_view`'s answer. When the view's table exists, so does its database."""
        nonlocal view_table
        view_table, current[ds] = read
        if view_table is None:
            ensure_database(glue, database)
        live = current[ds] or None
        made = new_version_id(after=version_of_location(live))
        return live, made, analytics_version_prefix(view, ds, made)

    unloaded = callable(getattr(engine, "unload", None))
    if unloaded:  # Athena writes the files itself, typed
        previous, version, prefix = new_version(read_view())
        columns, written, rows, bytes_scanned = _unload_version(engine, store, sql=sql, ds=ds, prefix=prefix)
    else:  # the rows come back as Arrow (DuckDB): one file written here
        from concurrent.futures import ThreadPoolExecutor

        # the view's two Glue reads wait for Glue while the query runs (it releases the GIL); they
        # are still taken before the version is written, as the Athena path does
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="airlake-view-read") as pool:
            view_read = pool.submit(read_view)
            data = _drop_partition_column(engine.run(sql), ds)
            read = view_read.result()
        bytes_scanned = engine.bytes_scanned
        columns = view_columns(data.schema)
        if not columns:
            raise MaterialiseError(f"view {view} returns no column besides {PARTITION_COLUMN}")
        previous, version, prefix = new_version(read)
        written = [_write_part(store, data, f"{prefix}{PART_FILE}")]
        rows = data.num_rows
    size = sum(item_size for _, item_size in written)
    location = f"s3://{store.bucket}/{prefix}"
    log.info(
        "Wrote %d row(s) of %s dt=%s to %s in %d file(s) (%d bytes)",
        rows,
        view,
        ds,
        location,
        len(written),
        size,
    )

    table_input = view_table_input(view, store.bucket, columns)
    table_change = ensure_view_table(glue, database, table_input, view_table)
    published = publish_partitions(
        glue,
        database,
        view,
        [{"dt": ds, "location": location, "version": version, "previous_location": previous}],
        table_input["StorageDescriptor"],
        # the partition as read just before the PUT (rows path); after an UNLOAD, which can take minutes,
        # publish reads it again so that a version published meanwhile is logged
        current_locations=None if unloaded else current,
    )
    outcome = {
        "view": view,
        "dt": ds,
        "rows": rows,
        "location": location,
        "bytes_scanned": bytes_scanned,
        "version": version,
        "previous_location": previous,
        "table_change": table_change,
        "bytes": size,
        "files": len(written),
    }
    if run_id:
        from airlake.manifest import Manifest

        manifest = Manifest(dataset=f"{ANALYTICS_PREFIX}_{view}", run_id=run_id, stage="materialise")
        manifest.interval = {"ds": ds}
        manifest.inputs.extend(
            {"table": name, "live_bytes": (estimates or {}).get(name)}
            for name in engine.referenced_tables(sql)
        )
        manifest.outputs.extend(
            {"dt": ds, "location": location, "key": key, "bytes": key_size, "version": version}
            for key, key_size in written
        )
        manifest.rows = {"written": rows}
        manifest.extra.update(
            {
                "database": database,
                "table": view,
                "table_change": table_change,
                "partitions": published,
                "bytes_scanned": bytes_scanned,
                "scan_limit_bytes": scan_limit_bytes,
            }
        )
        outcome["manifest"] = manifest.write(store)
    return outcome


SINGLE_PUT_BYTES = 8 * 1024 * 1024
"""Result files up to this size are written in memory and sent in one PutObject (what ``upload_file``
sends below its multipart threshold, 8 MiB, without its transfer threads and a temporary file);
larger ones go through a temporary file and ``upload_file`` (multipart)."""


def _write_part(store: LakeStore, data: pa.Table, key: str) -> tuple[str, int]:
    """One zstd Parquet file of ``data`` at ``key`` (server-side encrypted as every lake write); (key, bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(data, sink, compression="zstd")
    body = sink.getvalue()
    if body.size <= SINGLE_PUT_BYTES:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=body.to_pybytes(), **store.sse)
        return key, body.size
    with tempfile.TemporaryDirectory(prefix="airlake-materialise-") as work_dir:
        path = Path(work_dir) / PART_FILE
        path.write_bytes(body)
        store.put_file(key, path)
    return key, body.size


def _footer(store: LakeStore, key: str) -> Any:
    """The Parquet footer (FileMetaData: schema and rows) of one object, from a ranged GET of its tail."""
    from airlake.catalog import read_parquet_metadata

    return read_parquet_metadata(store.client, store.bucket, key)


def _unload_version(
    engine: Any, store: LakeStore, *, sql: str, ds: str, prefix: str
) -> tuple[list[dict[str, Any]], list[tuple[str, int]], int, int | None]:
    """
    Have the engine UNLOAD the view's result as Parquet into ``<prefix>_unload/`` (``dt`` as the
    partition folder), check that ``dt`` held only ``ds``, take the Glue columns from the files'
    footers, copy the files to ``<prefix>part-NNNNN.parquet`` and remove the staging folder.

    :return: (Glue columns, [(key, bytes)] written, rows, bytes scanned by the UNLOAD).
    """
    from airlake.engines.athena import lake_encryption

    names = result_column_names(sql)
    has_dt = PARTITION_COLUMN in names
    others = [name for name in names if name != PARTITION_COLUMN]
    if not others:
        raise MaterialiseError(f"the view returns no column besides {PARTITION_COLUMN}: {names}")
    ordered = others + ([PARTITION_COLUMN] if has_dt else [])  # UNLOAD: partition columns last
    body = sql.strip().rstrip(";").rstrip()
    listed = ", ".join(f'"{name}"' for name in ordered)
    select = f"select {listed}\nfrom (\n{body}\n) as view_result"
    staging = f"{prefix}{UNLOAD_FOLDER}"
    written: list[tuple[str, int]] = []
    try:
        engine.unload(
            select,
            f"s3://{store.bucket}/{staging}",
            partitioned_by=[PARTITION_COLUMN] if has_dt else [],
            encryption=lake_encryption(store),
        )
        bytes_scanned = engine.bytes_scanned
        files = []
        folders: set[str] = set()
        for item in store.list(staging):
            folder, _, name = item.key[len(staging) :].rpartition("/")
            if name and not name.startswith(("_", ".")):
                folders.add(folder)
                files.append(item)
        expected_folder = f"{PARTITION_COLUMN}={ds}" if has_dt else ""
        if folders - {expected_folder}:
            shown = sorted(
                unquote(f.partition("=")[2]).replace("__HIVE_DEFAULT_PARTITION__", "NULL")
                for f in folders
                if f != expected_folder
            )
            raise MaterialiseError(f"the result's dt column holds {shown[:5]}, not only {ds!r}")
        columns: list[dict[str, Any]] | None = None
        rows = 0
        for item in files:
            footer = _footer(store, item.key)
            file_columns = view_columns(footer.schema.to_arrow_schema())
            if columns is not None and file_columns != columns:
                raise MaterialiseError(
                    f"UNLOAD wrote files of different schemas: {columns} and {file_columns} ({item.key})"
                )
            columns = file_columns
            rows += footer.num_rows
        if columns is None:  # no row, no file: the columns from the result metadata of the SELECT
            empty = _drop_partition_column(engine.run(f"{select}\nlimit 0"), ds)
            columns = view_columns(empty.schema)
            written.append(_write_part(store, empty, f"{prefix}{PART_FILE}"))
        for index, item in enumerate(files):
            key = f"{prefix}{part_file(index)}"
            store.copy(item.key, key)  # server-side, re-encrypted as the lake's other writes
            written.append((key, item.size))
    except BaseException:
        store.delete([key for key, _ in written])  # files of a version that will not be published
        raise
    finally:
        # staged files go, also those of a failed or stopped UNLOAD (Athena leaves them behind)
        store.delete([item.key for item in store.list(staging)])
    return columns, written, rows, bytes_scanned
