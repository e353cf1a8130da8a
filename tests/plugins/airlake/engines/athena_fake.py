"""An offline Athena for AthenaEngine: the AthenaHook calls it makes, answered by the local engine.

moto accepts Athena queries but runs none, so the engine's result reading and the UNLOAD path are
tested against this stand-in. It executes the SQL on a DuckDBEngine over the same moto Glue and S3
(Athena's result types, :mod:`airlake.engines.duckdb_engine`), then does what Athena does with it:

- a SELECT's result is served by ``get_query_results_paginator`` as Athena serves it: every value a
  string (``VarCharValue``; none for NULL), 1,000 rows a page, the header as the first row of the
  first page, and ``ColumnInfo`` with Type, Precision and Scale;
- ``UNLOAD (<select>) TO '<s3 folder>' WITH (format = 'PARQUET', compression = ..., partitioned_by =
  ARRAY[...])`` writes the rows as Parquet files named ``<query id>_<uuid>`` (no extension, as
  Athena's), ``rows_per_file`` rows each, under ``<column>=<value>/`` folders for the partition
  columns (``__HIVE_DEFAULT_PARTITION__`` for NULL), no file for an empty result, and refuses a
  target that already holds objects. With ``result_schema``, the files are written with the schema
  it returns for the SELECT (the SQL's declared types: what Athena would write).

What it cannot show: Athena's own typing of a query and its Parquet writer (physical encodings,
timestamp representation, file sizes); those need real Athena.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from airlake.engines.base import split_s3_location
from airlake.engines.duckdb_engine import DuckDBEngine

PAGE_ROWS = 1000
_UNLOAD = re.compile(
    r"^\s*UNLOAD\s*\((?P<select>.*)\)\s*TO\s*'(?P<to>[^']+)'\s*WITH\s*\((?P<with>.*)\)\s*$", re.S | re.I
)
_PROPERTY = re.compile(r"(\w+)\s*=\s*('(?:[^']*)'|ARRAY\s*\[[^\]]*\])", re.I)
_SSE = {"SSE_S3": {"ServerSideEncryption": "AES256"}}


def athena_column_info(name: str, data_type: pa.DataType) -> dict[str, Any]:
    """The ``ColumnInfo`` Athena gives a result column of this (Athena-typed) Arrow type."""
    t = pa.types
    precision, scale = 0, 0
    if t.is_decimal(data_type):
        type_name, precision, scale = "decimal", data_type.precision, data_type.scale
    elif t.is_string(data_type) or t.is_large_string(data_type):
        type_name, precision = "varchar", 2147483647
    else:
        type_name = {
            pa.bool_(): "boolean",
            pa.int8(): "tinyint",
            pa.int16(): "smallint",
            pa.int32(): "integer",
            pa.int64(): "bigint",
            pa.float32(): "real",
            pa.float64(): "double",
            pa.date32(): "date",
        }.get(data_type, "timestamp" if t.is_timestamp(data_type) else str(data_type))
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": type_name,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": type_name == "varchar",
    }


def athena_text(value: Any) -> str | None:
    """A value as GetQueryResults spells it: decimals with their scale, booleans lower case."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


class FakeAthenaHook:
    """
    The AthenaHook methods AthenaEngine calls, run on a local DuckDBEngine (see the module docstring).

    :param glue: the moto Glue client the queries read through.
    :param store: the lake (its client writes UNLOAD's files).
    :param database: the query context's database.
    :param result_schema: the schema UNLOAD writes for a SELECT (None: the local engine's types).
    :param rows_per_file: rows of each UNLOAD file (Athena writes several files in parallel).

    Set ``fail_unload_after_write`` to make an UNLOAD fail once its files are written (Athena does
    not remove the files of a failed query).
    """

    def __init__(
        self,
        glue: Any,
        store: Any,
        database: str,
        *,
        result_schema: Callable[[str], pa.Schema] | None = None,
        rows_per_file: int = 1000,
    ) -> None:
        self.store = store
        self.engine = DuckDBEngine(glue, store, database)
        self.result_schema = result_schema
        self.rows_per_file = rows_per_file
        self.queries: dict[str, dict[str, Any]] = {}
        self.stopped: list[str] = []
        self.fail_unload_after_write = False

    # -- AthenaHook ---------------------------------------------------------------------------------

    def run_query(
        self,
        query: str,
        query_context: dict[str, str],
        result_configuration: dict[str, Any],
        client_request_token: str | None = None,
        workgroup: str = "primary",
    ) -> str:
        query_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "query": query,
            "context": query_context,
            "result_configuration": result_configuration,
            "workgroup": workgroup,
            "state": "SUCCEEDED",
            "reason": None,
            "result": None,
            "files": [],
        }
        self.queries[query_id] = record
        try:
            match = _UNLOAD.match(query)
            if match:
                self._unload(query_id, record, match)
            else:
                record["result"] = self.engine.run(query)
        except Exception as exc:  # Athena reports a failed query through its state
            record["state"], record["reason"] = "FAILED", f"{type(exc).__name__}: {exc}"
        return query_id

    def poll_query_status(self, query_execution_id: str, **_: Any) -> str:
        return self.queries[query_execution_id]["state"]

    def get_query_info(self, query_execution_id: str) -> dict[str, Any]:
        record = self.queries[query_execution_id]
        return {
            "QueryExecution": {
                "QueryExecutionId": query_execution_id,
                "Query": record["query"],
                "Status": {"State": record["state"]},
                "Statistics": {"DataScannedInBytes": self.engine.bytes_scanned or 0},
            }
        }

    def get_state_change_reason(self, query_execution_id: str) -> str | None:
        return self.queries[query_execution_id]["reason"]

    def get_query_results_paginator(self, query_execution_id: str, **_: Any) -> list[dict[str, Any]] | None:
        result: pa.Table | None = self.queries[query_execution_id]["result"]
        if result is None:
            return None
        info = [athena_column_info(field.name, field.type) for field in result.schema]
        rows = [{"Data": [{"VarCharValue": f.name} for f in result.schema]}]
        for record in result.to_pylist():
            rows.append(
                {
                    "Data": [
                        {} if (text := athena_text(record[f.name])) is None else {"VarCharValue": text}
                        for f in result.schema
                    ]
                }
            )
        return [
            {
                "ResultSet": {
                    "Rows": rows[start : start + PAGE_ROWS],
                    "ResultSetMetadata": {"ColumnInfo": info},
                }
            }
            for start in range(0, len(rows), PAGE_ROWS)
        ]

    def stop_query(self, query_execution_id: str) -> None:
        self.stopped.append(query_execution_id)

    def get_conn(self) -> Any:
        return self

    def close(self) -> None:
        self.engine.close()

    def get_work_group(self, WorkGroup: str) -> dict[str, Any]:
        return {"WorkGroup": {"Name": WorkGroup, "Configuration": {}}}

    # -- UNLOAD -------------------------------------------------------------------------------------

    def _unload(self, query_id: str, record: dict[str, Any], match: re.Match[str]) -> None:
        properties = {key.lower(): value for key, value in _PROPERTY.findall(match["with"])}
        if properties.get("format", "").strip("'").upper() != "PARQUET":
            raise ValueError(f"this fake writes Parquet only, not {properties.get('format')}")
        compression = properties.get("compression", "'SNAPPY'").strip("'").lower()
        partitioned_by = re.findall(r"'(\w+)'", properties.get("partitioned_by", ""))
        bucket, prefix = split_s3_location(match["to"])
        s3 = self.store.client
        if s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount"):
            raise RuntimeError(
                f"HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists: {match['to']}"
            )
        select = match["select"]
        result = self.engine.run(select)
        if self.result_schema is not None:
            result = result.cast(self.result_schema(select))
        names = result.column_names
        if partitioned_by and names[-len(partitioned_by) :] != partitioned_by:
            raise ValueError(f"partition columns {partitioned_by} must be the last columns, not {names}")
        data_names = names[: len(names) - len(partitioned_by)]
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in result.to_pylist():
            folder = "".join(
                f"{column}={'__HIVE_DEFAULT_PARTITION__' if row[column] is None else quote(str(row[column]), safe='')}/"
                for column in partitioned_by
            )
            groups.setdefault(folder, []).append({name: row[name] for name in data_names})
        schema = pa.schema([result.schema.field(name) for name in data_names])
        encryption = (record["result_configuration"].get("EncryptionConfiguration") or {}).get(
            "EncryptionOption"
        )
        extra = dict(_SSE.get(encryption or "", {}))
        if encryption == "SSE_KMS":
            kms = record["result_configuration"]["EncryptionConfiguration"]["KmsKey"]
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms}
        for folder, rows in sorted(groups.items()):
            for start in range(0, len(rows), self.rows_per_file):
                buffer = io.BytesIO()
                pq.write_table(
                    pa.Table.from_pylist(rows[start : start + self.rows_per_file], schema=schema),
                    buffer,
                    compression=compression,
                )
                key = f"{prefix}{folder}{query_id.replace('-', '_')}_{uuid.uuid4()}"
                s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue(), **extra)
                record["files"].append(key)
        if self.fail_unload_after_write:
            raise RuntimeError("GENERIC_INTERNAL_ERROR: the query failed after writing its files")
