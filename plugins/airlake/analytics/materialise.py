"""Materialise one view of sql/athena for one day: query, one Parquet version, Glue table + partition.

The result of a view for day ``ds`` is written as a NEW version
``analytics/<view>/dt=<ds>/v=<version>/part-00000.parquet`` (zstd, server-side encrypted), then the Glue
table ``<view>`` is created or brought in step with the result's columns, and its partition
``dt=<ds>`` is pointed at the new version: that move is the atomic publish. Older versions stay where
they are (readers that started on them finish on them).
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.engines import QueryEngine
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

ANALYTICS_PREFIX = "analytics"
PARAM_VIEW = "airlake.view"
PARTITION_COLUMN = "dt"
PART_FILE = "part-00000.parquet"
_VIEW = re.compile(r"^[a-z][a-z0-9_]*$")
_DS = re.compile(r"^\d{4}-\d{2}-\d{2}$")
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
    """``s3://<bucket>/analytics/<view>/``: the table's location (partitions point below it)."""
    return f"s3://{bucket}/{ANALYTICS_PREFIX}/{view}/"


def analytics_version_prefix(view: str, ds: str, version: str) -> str:
    """``analytics/<view>/dt=<ds>/v=<version>/``."""
    return f"{ANALYTICS_PREFIX}/{view}/{PARTITION_COLUMN}={ds}/v={version}/"


def view_columns(schema: pa.Schema) -> list[dict[str, Any]]:
    """Glue columns of a result schema, the partition column ``dt`` left out."""
    from airlake.catalog.glue import arrow_to_glue_type

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


def view_table_input(view: str, bucket: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
    """Glue ``TableInput`` of a view: an external zstd Parquet table partitioned by ``dt`` (string)."""
    from airlake.catalog.glue import parquet_storage_descriptor

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


def ensure_view_table(glue: Any, database: str, table_input: dict[str, Any]) -> str:
    """Create the table or update it when its columns, location or format differ: ``created``,
    ``updated`` or ``unchanged``. A table of the same name that is not this view's is refused."""
    from airlake.catalog.glue import _comparable, _glue_call, create_table, get_table

    name = table_input["Name"]
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
    if _comparable(current) == _comparable(table_input):
        return "unchanged"
    with _glue_call(f"update_table {database}.{name}"):
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

    :param engine: the query engine (DuckDB locally, Athena on AWS).
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
    :return: ``{view, dt, rows, location, bytes_scanned}`` (plus ``version``, ``table_change``,
        ``partition``, ``bytes``).
    """
    import pyarrow.parquet as pq

    from airlake.catalog.glue import ensure_database, live_location_lookup, publish_partitions
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
    result = engine.run(sql)
    data = _drop_partition_column(result, ds)
    columns = view_columns(data.schema)
    if not columns:
        raise MaterialiseError(f"view {view} returns no column besides {PARTITION_COLUMN}")

    ensure_database(glue, database)
    previous = live_location_lookup(glue, database, view)(ds)
    version = new_version_id(after=version_of_location(previous))
    prefix = analytics_version_prefix(view, ds, version)
    key = f"{prefix}{PART_FILE}"
    with tempfile.TemporaryDirectory(prefix=f"airlake-materialise-{view}-") as work_dir:
        path = Path(work_dir) / PART_FILE
        pq.write_table(data, path, compression="zstd")
        size = path.stat().st_size
        store.put_file(key, path)
    location = f"s3://{store.bucket}/{prefix}"
    log.info(
        "Wrote %d row(s) of %s dt=%s to %s%s (%d bytes)", data.num_rows, view, ds, location, PART_FILE, size
    )

    table_input = view_table_input(view, store.bucket, columns)
    table_change = ensure_view_table(glue, database, table_input)
    published = publish_partitions(
        glue,
        database,
        view,
        [{"dt": ds, "location": location, "version": version, "previous_location": previous}],
        table_input["StorageDescriptor"],
    )
    outcome = {
        "view": view,
        "dt": ds,
        "rows": data.num_rows,
        "location": location,
        "bytes_scanned": engine.bytes_scanned,
        "version": version,
        "previous_location": previous,
        "table_change": table_change,
        "bytes": size,
    }
    if run_id:
        from airlake.manifest import Manifest

        manifest = Manifest(dataset=f"{ANALYTICS_PREFIX}_{view}", run_id=run_id, stage="materialise")
        manifest.interval = {"ds": ds}
        manifest.inputs.extend(
            {"table": name, "live_bytes": (estimates or {}).get(name)}
            for name in engine.referenced_tables(sql)
        )
        manifest.outputs.append(
            {"dt": ds, "location": location, "key": key, "bytes": size, "version": version}
        )
        manifest.rows = {"written": data.num_rows}
        manifest.extra.update(
            {
                "database": database,
                "table": view,
                "table_change": table_change,
                "partitions": published,
                "bytes_scanned": engine.bytes_scanned,
                "scan_limit_bytes": scan_limit_bytes,
            }
        )
        outcome["manifest"] = manifest.write(store)
    return outcome
