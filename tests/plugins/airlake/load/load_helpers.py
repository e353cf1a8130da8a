"""Builders shared by the load tests: a contract, rows, Parquet files, a curate manifest, and a recording
DB-API connection that stands in for Redshift (redshift_connector cannot talk to PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from airlake.contracts import Contract
from airlake.lake import manifest_key

UTC = dt.UTC
ROLE = "arn:aws:iam::123456789012:role/airlake-redshift-copy"


def make_contract(
    *,
    mode: str = "merge",
    keep: str = "latest",
    extra_column: bool = False,
    table: str = "public.orders_t",
    name: str = "orders_t",
) -> Contract:
    schema: list[dict[str, Any]] = [
        {"name": "order_id", "type": "bigint", "nullable": False},
        {"name": "status", "type": "string", "nullable": False},
        {"name": "amount", "type": "decimal(12,2)", "nullable": False},
        {"name": "note", "type": "string"},
        {"name": "ordered_at", "type": "timestamptz", "nullable": False},
        {"name": "updated_at", "type": "timestamptz", "nullable": False},
    ]
    if extra_column:
        schema.append({"name": "coupon_code", "type": "string", "added_in": "2026-11-21"})
    return Contract.model_validate(
        {
            "name": name,
            "description": "Orders, for the load tests.",
            "owner": "tests",
            "source": {"kind": "sqs", "queue_name": "orders"},
            "schema": schema,
            "primary_key": ["order_id"],
            "event_time": "ordered_at",
            "dedup": {"keep": keep, "order_by": "updated_at"},
            "warehouse": {
                "table": table,
                "mode": mode,
                "dist_key": "order_id",
                "sort_key": ["ordered_at"],
            },
        }
    )


def row(
    order_id: int, status: str = "placed", *, day: int = 20, hour: int = 1, **more: Any
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "status": status,
        "amount": Decimal("10.50") + order_id,
        "note": more.pop("note", None),
        "ordered_at": dt.datetime(2026, 11, day, 10, tzinfo=UTC),
        "updated_at": dt.datetime(2026, 11, day, 10 + hour, tzinfo=UTC),
        **more,
    }


def parquet_bytes(contract: Contract, rows: list[dict[str, Any]]) -> bytes:
    table = pa.Table.from_pylist(rows, schema=contract.arrow_schema())
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def put_parquet(lake: Any, contract: Contract, key: str, rows: list[dict[str, Any]]) -> str:
    lake.put_bytes(key, parquet_bytes(contract, rows))
    return key


def write_curate_manifest(lake: Any, dataset: str, run_id: str, partitions: dict[str, list[str]]) -> None:
    """The complete curate manifest of a run that published ``{dt: [file keys]}``."""
    lake.put_json(
        manifest_key(dataset, run_id, "curate"),
        {
            "dataset": dataset,
            "run_id": run_id,
            "stage": "curate",
            "status": "complete",
            "partitions": [{"dt": day, "files": files} for day, files in partitions.items()],
        },
    )


def checksum(conn: psycopg.Connection[Any], table: str = "public.orders_t") -> tuple[int, str]:
    count, digest = conn.execute(
        f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t.order_id), '')) from {table} as t"
    ).fetchone()
    return count, digest


def fetch(conn: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql).fetchall()


# --------------------------------------------------------------------------------------------------
# A recording DB-API connection with Redshift's transaction behaviour
# --------------------------------------------------------------------------------------------------


class DatabaseError(Exception):
    """What the driver raises (redshift_connector.ProgrammingError in production)."""


class RecordingCursor:
    def __init__(self, conn: RecordingConnection) -> None:
        self.conn = conn
        self.rowcount = -1
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self._rows, self.rowcount = self.conn.run(sql, params)

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def close(self) -> None:
        pass


class RecordingConnection:
    """Records every statement (with the autocommit mode it ran in), COMMIT and ROLLBACK, in order.

    Answers the catalog query with ``columns`` (None: the table does not exist), row counts from
    ``counts`` (staged, duplicate_keys, deduplicated, matched), and ``load_errors`` rows from stl_load_errors. With
    ``copy_error`` the COPY raises it and, like Redshift, the transaction is then aborted: any
    statement before ROLLBACK fails."""

    def __init__(
        self,
        *,
        columns: list[tuple[str, str]] | None = None,
        counts: dict[str, int] | None = None,
        copy_error: str | None = None,
        load_errors: list[tuple[Any, ...]] | None = None,
    ) -> None:
        self.autocommit = False
        self.events: list[tuple[Any, ...]] = []
        self.columns = columns
        self.counts = {"staged": 5, "duplicate_keys": 1, "deduplicated": 4, "matched": 1, **(counts or {})}
        self.copy_error = copy_error
        self.load_errors = load_errors or []
        self.aborted = False
        self.closed = False

    # DB-API
    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self)

    def commit(self) -> None:
        if self.aborted:
            raise DatabaseError("COMMIT of an aborted transaction")
        self.events.append(("commit",))

    def rollback(self) -> None:
        self.aborted = False
        self.events.append(("rollback",))

    def close(self) -> None:
        self.closed = True

    # behaviour
    def run(self, sql: str, params: Any) -> tuple[list[tuple[Any, ...]], int]:
        self.events.append(("execute", sql, params, self.autocommit))
        if self.aborted:
            raise DatabaseError(
                "current transaction is aborted, commands ignored until end of transaction block"
            )
        text = " ".join(sql.split()).lower()
        if "information_schema.columns" in text:
            return list(self.columns or []), -1
        if "stl_load_errors" in text:
            return list(self.load_errors), -1
        if re.search(r"^(--[^\n]*\n)*copy ", sql.lower()) and self.copy_error:
            self.aborted = True
            raise DatabaseError(self.copy_error)
        if "count(*)" in text:
            if "duplicate_keys" in text:
                return [(self.counts["duplicate_keys"],)], 1
            if "inner join" in text:
                return [(self.counts["matched"],)], 1
            if "airlake_stage_" in text:
                return [(self.counts["staged"],)], 1
            return [(self.counts["deduplicated"],)], 1
        return [], -1

    @property
    def statements(self) -> list[str]:
        return [event[1] for event in self.events if event[0] == "execute"]


def inline_params(sql: str, params: Any) -> str:
    """The statement with its bind parameters as SQL literals (to parse it as the server would)."""
    if not params:
        return sql
    return sql % tuple("'" + str(value).replace("'", "''") + "'" for value in params)
