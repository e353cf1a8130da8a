"""Load curated Parquet files into the warehouse table of a contract, in one transaction.

PostgreSQL (the offline stand-in for Redshift) through psycopg 3:

1. :func:`ensure_target_table` creates the target from the contract and adds new nullable columns;
2. :func:`load_partitions` creates a TEMP staging table like the target, streams every file into it
   with ``COPY ... FROM STDIN`` (whole-object download, then pyarrow batches as CSV chunks),
   de-duplicates it by the contract's rule and applies the warehouse mode (merge, append,
   partition_replace). Any error rolls the whole load back: the target is left unchanged.
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.sql_text import quote_identifier, render_sql

if TYPE_CHECKING:
    import psycopg

    from airlake.contracts import Column, Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

SEQ_COLUMN = "airlake_seq"
"""Staging-only column: the arrival order of a row across the loaded files (ties of the dedup rule)."""
BATCH_ROWS = 50_000
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^'\\\s]+$")
_IAM_ROLE = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/\-]{1,512}$")


@dataclass(frozen=True)
class LoadResult:
    """Row counts of one load."""

    table: str
    mode: str
    files: int
    staged: int
    deduplicated: int
    """Rows left after de-duplication of the staged rows (the rows applied to the target)."""
    duplicates: int
    inserted: int
    updated: int
    deleted: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# SQL pieces
# --------------------------------------------------------------------------------------------------


def _warehouse(contract: Contract) -> Any:
    if contract.warehouse is None:
        raise ValueError(f"dataset {contract.name!r} has no warehouse target in its contract")
    return contract.warehouse


def _column_definition(column: Column, *, redshift: bool) -> str:
    type_name = column.redshift_type if redshift else column.postgres_type
    return f"{quote_identifier(column.name)} {type_name}" + ("" if column.nullable else " not null")


def _names(names: Any, prefix: str = "") -> str:
    return ", ".join(prefix + quote_identifier(name) for name in names)


def _key_condition(keys: Any) -> str:
    return " and ".join(f"tgt.{quote_identifier(k)} = src.{quote_identifier(k)}" for k in keys)


def _event_date(contract: Contract) -> str:
    """SQL expression of the UTC event date of a row (the ``dt`` of its curated partition)."""
    column = contract.column(contract.event_time)
    name = quote_identifier(column.name)
    base = column.column_type.base
    if base == "date":
        return name
    if base == "timestamptz":
        return f"cast({name} at time zone 'UTC' as date)"
    return f"cast({name} as date)"


def create_table_sql(contract: Contract, *, redshift: bool = False) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the contract's warehouse table (primary key on the keys for merge)."""
    warehouse = _warehouse(contract)
    elements = [_column_definition(column, redshift=redshift) for column in contract.columns]
    if warehouse.mode == "merge" and warehouse.keys:
        elements.append(f"primary key ({_names(warehouse.keys)})")
    options = ""
    if redshift:
        parts = []
        if warehouse.dist_key:
            parts.append(f"diststyle key distkey ({quote_identifier(warehouse.dist_key)})")
        if warehouse.sort_key:
            parts.append(f"compound sortkey ({_names(warehouse.sort_key)})")
        options = " ".join(parts)
    return render_sql(
        "redshift/create_table.sql",
        target=quote_identifier(warehouse.table),
        table_elements=",\n    ".join(elements),
        table_options=options,
    )


def redshift_copy_sql(table: str, manifest_s3_uri: str, iam_role: str) -> str:
    """Redshift ``COPY`` of exactly the Parquet files listed in a manifest (the AWS path).

    ``table`` is quoted as an identifier; the manifest URI and the role ARN are checked and rendered
    as string literals (COPY takes no bind parameters)."""
    if not _S3_URI.match(manifest_s3_uri):
        raise ValueError(f"not an s3:// manifest URI: {manifest_s3_uri!r}")
    if not _IAM_ROLE.match(iam_role):
        raise ValueError(f"not an IAM role ARN: {iam_role!r}")
    return render_sql(
        "redshift/copy_manifest.sql",
        target=quote_identifier(table),
        manifest_uri=f"'{manifest_s3_uri}'",
        iam_role=f"'{iam_role}'",
    )


# --------------------------------------------------------------------------------------------------
# Target table
# --------------------------------------------------------------------------------------------------


def _existing_columns(conn: psycopg.Connection[Any], table: str) -> dict[str, bool] | None:
    """``name -> nullable`` of the table's columns, None if it does not exist."""
    row = conn.execute("select to_regclass(%s)", (quote_identifier(table),)).fetchone()
    if row is None or row[0] is None:
        return None
    rows = conn.execute(
        "select attname, not attnotnull from pg_attribute "
        "where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped",
        (quote_identifier(table),),
    ).fetchall()
    return {str(r[0]): bool(r[1]) for r in rows}


def ensure_target_table(conn: psycopg.Connection[Any], contract: Contract) -> list[str]:
    """Create the warehouse table of the contract if missing, else add the contract's new columns.

    Only nullable columns can be added (existing rows get NULL); a new NOT NULL column, or a target
    column the contract no longer has, is an error for a human (no destructive change here).
    Returns the names of the columns added (empty when the table was created or is up to date).
    """
    warehouse = _warehouse(contract)
    added: list[str] = []
    with conn.transaction():
        existing = _existing_columns(conn, warehouse.table)
        if existing is None:
            conn.execute(create_table_sql(contract))
            log.info("Created warehouse table %s", warehouse.table)
            return added
        wanted = set(contract.column_names)
        extra = sorted(set(existing) - wanted)
        if extra:
            log.warning("Table %s has columns the contract does not list: %s", warehouse.table, extra)
        for column in contract.columns:
            if column.name in existing:
                continue
            if not column.nullable:
                raise ValueError(
                    f"{warehouse.table}: new column {column.name!r} is NOT NULL; only nullable columns "
                    "can be added to an existing table"
                )
            conn.execute(
                render_sql(
                    "redshift/add_column.sql",
                    target=quote_identifier(warehouse.table),
                    column_definition=_column_definition(column, redshift=False),
                )
            )
            added.append(column.name)
            log.info("Added column %s to %s", column.name, warehouse.table)
    return added


# --------------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------------


def _copy_file(
    conn: psycopg.Connection[Any], staging: str, contract: Contract, path: Path, seq_start: int
) -> int:
    """Stream one Parquet file into the staging table; the number of rows copied."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    present = [name for name in contract.column_names if name in parquet.schema_arrow.names]
    missing_required = [c.name for c in contract.columns if c.name not in present and not c.nullable]
    if missing_required:
        raise ValueError(f"{path.name}: required column(s) missing from the Parquet file: {missing_required}")
    columns = [*present, SEQ_COLUMN]
    statement = f"copy {quote_identifier(staging)} ({_names(columns)}) from stdin with (format csv)"
    options = pacsv.WriteOptions(include_header=False)
    rows = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=present):
            seq = pa.array(range(seq_start + rows, seq_start + rows + batch.num_rows), pa.int64())
            table = pa.Table.from_batches([batch]).append_column(SEQ_COLUMN, seq)
            buffer = io.BytesIO()
            pacsv.write_csv(table, buffer, options)
            copy.write(buffer.getvalue())
            rows += batch.num_rows
    return rows


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"select count(*) from {quote_identifier(table)}").fetchone()
    return int(row[0]) if row else 0


def load_partitions(
    conn: psycopg.Connection[Any],
    contract: Contract,
    store: LakeStore,
    files: list[str],
    *,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Load the curated Parquet ``files`` (keys in ``store``) into the contract's warehouse table.

    One transaction: staging, de-duplication and the mode's change are committed together or not at
    all. The target must exist (:func:`ensure_target_table`). Returns :class:`LoadResult` as a dict.
    """
    warehouse = _warehouse(contract)
    target = quote_identifier(warehouse.table)
    token = uuid.uuid4().hex[:12]
    staging, deduped = f"airlake_stage_{token}", f"airlake_dedup_{token}"
    dedup = contract.dedup
    keys = dedup.keys or contract.primary_key
    direction = "desc" if dedup.keep == "latest" else "asc"
    order = [f"{quote_identifier(dedup.order_by)} {direction}"] if dedup.order_by else []
    order.append(f"{quote_identifier(SEQ_COLUMN)} {direction}")
    load_columns = _names(contract.column_names)
    values = {
        "target": target,
        "staging": quote_identifier(staging),
        "deduped": quote_identifier(deduped),
        "load_columns": load_columns,
    }
    staged = inserted = updated = deleted = 0
    with tempfile.TemporaryDirectory(prefix="airlake-load-", dir=work_dir) as tmp, conn.transaction():
        conn.execute(
            render_sql("redshift/create_staging.sql", **values, seq_column=quote_identifier(SEQ_COLUMN))
        )
        for index, key in enumerate(files):
            path = Path(tmp) / f"{index:05d}.parquet"
            store.download(key, path)
            try:
                staged += _copy_file(conn, staging, contract, path, staged)
            except Exception as exc:
                raise RuntimeError(
                    f"load of s3://{store.bucket}/{key} into {warehouse.table} failed: {exc}"
                ) from exc
            path.unlink()
        conn.execute(
            render_sql(
                "redshift/dedup.sql",
                **values,
                dedup_keys=_names(keys),
                dedup_order=", ".join(order),
            )
        )
        deduplicated = _count(conn, deduped)
        if warehouse.mode == "merge":
            key_condition = _key_condition(warehouse.keys)
            row = conn.execute(
                render_sql("redshift/count_matched.sql", **values, key_condition=key_condition)
            ).fetchone()
            updated = int(row[0]) if row else 0
            non_keys = [name for name in contract.column_names if name not in warehouse.keys]
            assignments = ", ".join(f"{quote_identifier(n)} = src.{quote_identifier(n)}" for n in non_keys)
            cursor = conn.execute(
                render_sql(
                    "redshift/merge.sql",
                    **values,
                    key_condition=key_condition,
                    update_assignments=assignments,
                    source_columns=_names(contract.column_names, "src."),
                )
            )
            inserted = deduplicated - updated
            if cursor.rowcount not in (-1, deduplicated):
                raise RuntimeError(f"MERGE changed {cursor.rowcount} rows, expected {deduplicated}")
        else:
            if warehouse.mode == "partition_replace":
                cursor = conn.execute(
                    render_sql("redshift/delete_partitions.sql", **values, event_date=_event_date(contract))
                )
                deleted = max(cursor.rowcount, 0)
            cursor = conn.execute(render_sql("redshift/insert.sql", **values))
            inserted = max(cursor.rowcount, 0)
        for table in (staging, deduped):
            conn.execute(render_sql("redshift/drop_table.sql", staging=quote_identifier(table)))
    result = LoadResult(
        table=warehouse.table,
        mode=warehouse.mode,
        files=len(files),
        staged=staged,
        deduplicated=deduplicated,
        duplicates=staged - deduplicated,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
    )
    log.info("Loaded %s", result)
    return result.as_dict()
