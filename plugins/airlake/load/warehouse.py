"""Load curated Parquet files into the warehouse table of a contract, in one transaction.

The parts both warehouses share, written against any DB-API connection (psycopg 3 for PostgreSQL,
redshift_connector for Redshift):

1. :func:`ensure_target_table` creates the target from the contract and adds new nullable columns;
2. :func:`run_load` creates a TEMP staging table like the target, lets the caller fill it (PostgreSQL:
   :func:`airlake.load.postgres.load_partitions` streams each file with ``COPY ... FROM STDIN``;
   Redshift: :func:`airlake.load.redshift.load_manifest` runs one ``COPY`` of a manifest), de-duplicates
   it by the contract's rule and applies the warehouse mode (merge, append, partition_replace). Any error
   rolls the whole load back: the target is left unchanged. The de-duplication is skipped when one
   cheap query finds every dedup key of the staged rows unique (curate writes one row per key, so the
   files of one run are): the rows applied are then the same, without the sort and the second table.

Every statement comes from :mod:`airlake.load.statements` (``sql/redshift/*.sql``, SQL that both
Redshift and PostgreSQL 15 accept), so the offline stand-in runs the same de-duplication and MERGE as
production. The names importers took from this module before it was split are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airlake.load.csv_copy import copy_parquet_from_stdin
from airlake.load.dbapi import DbApiConnection, DbApiCursor, _scalar, transaction
from airlake.load.statements import (
    IAM_ROLE_ARN,
    SEQ_COLUMN,
    ApplyStatements,
    LoadStatements,
    _column_definition,
    _warehouse,
    create_table_sql,
    load_statements,
    redshift_copy_sql,
)
from airlake.sql_text import quote_identifier, render_sql

if TYPE_CHECKING:
    from airlake.contracts import Contract

__all__ = [
    "IAM_ROLE_ARN",
    "SEQ_COLUMN",
    "ApplyStatements",
    "DbApiConnection",
    "DbApiCursor",
    "LoadResult",
    "LoadStatements",
    "copy_parquet_from_stdin",
    "create_table_sql",
    "ensure_target_table",
    "load_statements",
    "redshift_copy_sql",
    "run_load",
    "transaction",
]

log = logging.getLogger(__name__)


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
    dedup_skipped: bool = False
    """The staged rows were unique by dedup key: applied as they are, without the de-duplication."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# The target table
# --------------------------------------------------------------------------------------------------


def _existing_columns(cursor: DbApiCursor, table: str) -> dict[str, bool] | None:
    """``name -> nullable`` of the table's columns, None if it does not exist (information_schema:
    the same query on PostgreSQL and Redshift; an unqualified table is looked up in current_schema())."""
    quote_identifier(table)  # validates the name
    schema, _, name = table.rpartition(".")
    where = "table_schema = %s" if schema else "table_schema = current_schema()"
    cursor.execute(
        "select column_name, is_nullable from information_schema.columns "
        f"where {where} and table_name = %s order by ordinal_position",
        (schema, name) if schema else (name,),
    )
    rows = cursor.fetchall()
    return {str(r[0]): str(r[1]).upper() == "YES" for r in rows} if rows else None


def ensure_target_table(conn: DbApiConnection, contract: Contract, *, redshift: bool = False) -> list[str]:
    """Create the warehouse table of the contract if missing, else add the contract's new columns.

    On Redshift the table gets the contract's DISTKEY and SORTKEY. Only nullable columns can be added
    (existing rows get NULL); a new NOT NULL column, or a target column the contract no longer has, is
    an error for a human (no destructive change here). One transaction. Returns the names of the
    columns added (empty when the table was created or is up to date).
    """
    warehouse = _warehouse(contract)
    added: list[str] = []
    with transaction(conn) as cursor:
        existing = _existing_columns(cursor, warehouse.table)
        if existing is None:
            cursor.execute(create_table_sql(contract, redshift=redshift))
            log.info("Created warehouse table %s", warehouse.table)
            return added
        extra = sorted(set(existing) - set(contract.column_names))
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
            cursor.execute(
                render_sql(
                    "redshift/add_column.sql",
                    target=quote_identifier(warehouse.table),
                    column_definition=_column_definition(column, redshift=redshift),
                )
            )
            added.append(column.name)
            log.info("Added column %s to %s", column.name, warehouse.table)
    return added


# --------------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------------


def run_load(
    conn: DbApiConnection,
    contract: Contract,
    fill_staging: Callable[[DbApiCursor, LoadStatements], bool | None],
    *,
    files: int,
    statements: LoadStatements | None = None,
    always_dedup: bool = False,
) -> dict[str, Any]:
    """Staging -> ``fill_staging`` -> de-duplication -> merge / partition replace / append, in one
    transaction. The target must exist (:func:`ensure_target_table`). Returns :class:`LoadResult` as a
    dict.

    The de-duplication runs only when a dedup key repeats among the staged rows (one GROUP BY ...
    HAVING query; curate's files of one run never repeat a key), or always with ``always_dedup``.
    ``fill_staging`` may answer that question itself: True (no key repeats), False (some do), None
    (not known: the query decides)."""
    warehouse = _warehouse(contract)
    sql = statements or load_statements(contract)
    inserted = updated = deleted = 0
    with transaction(conn) as cursor:
        cursor.execute(sql.create_staging)
        cursor.execute(sql.add_seq_column)
        unique = fill_staging(cursor, sql)
        staged = _scalar(cursor, sql.count_staged)
        if unique is None and not always_dedup:
            unique = _scalar(cursor, sql.count_duplicate_keys) == 0
        if unique and not always_dedup:
            apply = sql.from_staging  # unique by key: de-duplication would keep every row
            deduplicated = staged
        else:
            cursor.execute(sql.dedup)
            deduplicated = _scalar(cursor, sql.count_deduped)
            apply = ApplyStatements(sql.count_matched, sql.merge, sql.delete_partitions, sql.insert)
        log.info(
            "Staged %d row(s) for %s; %s",
            staged,
            warehouse.table,
            "unique by key, no de-duplication"
            if apply is sql.from_staging
            else f"{deduplicated} after de-duplication",
        )
        if apply.merge is not None and apply.count_matched is not None:
            updated = _scalar(cursor, apply.count_matched)
            cursor.execute(apply.merge)
            inserted = deduplicated - updated
            if cursor.rowcount not in (-1, deduplicated):
                raise RuntimeError(f"MERGE changed {cursor.rowcount} rows, expected {deduplicated}")
        else:
            if apply.delete_partitions is not None:
                cursor.execute(apply.delete_partitions)
                deleted = max(cursor.rowcount, 0)
            if apply.insert is not None:
                cursor.execute(apply.insert)
                inserted = max(cursor.rowcount, 0)
        for statement in sql.drop:
            cursor.execute(statement)
    result = LoadResult(
        table=warehouse.table,
        mode=warehouse.mode,
        files=files,
        staged=staged,
        deduplicated=deduplicated,
        duplicates=staged - deduplicated,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        dedup_skipped=apply is sql.from_staging,
    )
    log.info("Loaded %s", result)
    return result.as_dict()
