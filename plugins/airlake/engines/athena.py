"""Athena as the query engine on AWS, through the Amazon provider's AthenaHook."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airlake.engines.base import QueryEngine, QueryEngineError, s3_client_of

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    from airlake.engines.pruning import PartitionSelection

log = logging.getLogger(__name__)

MIN_BYTES_SCANNED_CUTOFF = 10_000_000
"""Athena's smallest per-query data usage control (BytesScannedCutoffPerQuery), 10 MB."""

_ARROW_TYPES = {
    "boolean": "bool_",
    "tinyint": "int8",
    "smallint": "int16",
    "integer": "int32",
    "int": "int32",
    "bigint": "int64",
    "float": "float32",
    "real": "float32",
    "double": "float64",
    "date": "date32",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def arrow_type_of_column(column: Mapping[str, Any]) -> pa.DataType | None:
    """The Arrow type of one GetQueryResults ``ColumnInfo`` (None: the values stay strings).

    ``decimal`` takes its Precision and Scale; ``timestamp`` (Athena's timestamp(3)) is read as
    microseconds (Glue ``timestamp`` whatever the unit); ``timestamp with time zone``, varchar,
    varbinary and the nested types stay strings."""
    import pyarrow as pa

    type_name = str(column.get("Type", "")).strip().lower()
    if type_name == "decimal":
        return pa.decimal128(int(column.get("Precision") or 38), int(column.get("Scale") or 0))
    if type_name == "timestamp":
        return pa.timestamp("us")
    name = _ARROW_TYPES.get(type_name)
    return getattr(pa, name)() if name else None


def unload_statement(select_sql: str, location: str, *, partitioned_by: Sequence[str] = ()) -> str:
    """``UNLOAD (<select>) TO '<location>' WITH (format = 'PARQUET', compression = 'ZSTD'[, partitioned_by])``."""
    if not location.startswith("s3://") or not location.endswith("/") or "'" in location:
        raise QueryEngineError(f"UNLOAD needs an s3://.../ folder location, got {location!r}")
    for column in partitioned_by:
        if not _IDENTIFIER.match(column):
            raise QueryEngineError(f"unsafe partition column {column!r}")
    select = select_sql.strip().rstrip(";").rstrip()
    properties = ["format = 'PARQUET'", "compression = 'ZSTD'"]
    if partitioned_by:
        properties.append("partitioned_by = ARRAY[" + ", ".join(f"'{c}'" for c in partitioned_by) + "]")
    return f"UNLOAD (\n{select}\n) TO '{location}' WITH ({', '.join(properties)})"


def lake_encryption(store: Any) -> dict[str, str]:
    """The Athena ``EncryptionConfiguration`` matching a LakeStore's server-side encryption (SSE-KMS with
    its key, else SSE-S3): what the engine writes (results, CTAS tables, UNLOAD files) is encrypted as
    the lake's own writes are."""
    if store.sse.get("ServerSideEncryption") == "aws:kms":
        return {"EncryptionOption": "SSE_KMS", "KmsKey": store.sse["SSEKMSKeyId"]}
    return {"EncryptionOption": "SSE_S3"}


class AthenaEngine(QueryEngine):
    """
    Athena SQL run by Athena: submit, wait, fetch the rows; keeps the query id for :meth:`on_kill`.

    Small results are read back typed (:meth:`fetch`); a view is materialised with :meth:`unload`,
    Athena writing the Parquet files (:func:`airlake.analytics.materialise.materialise_view`).

    :param hook: an ``AthenaHook`` (``AthenaHook(aws_conn_id=...)``).
    :param database: the Glue database of bare table names (the query context).
    :param output_location: ``s3://...`` prefix for the result files.
    :param workgroup: the Athena workgroup.
    :param glue: a boto3 Glue client, for :meth:`estimate_scan_bytes` (None: not available).
    :param s3: a boto3 S3 client or a LakeStore, for :meth:`estimate_scan_bytes`.
    :param sleep_time: seconds between polls of the query state.
    :param max_polling_attempts: polls before giving up.
    :param manage_workgroup_cutoff: let :meth:`apply_scan_limit` set the workgroup's per-query
        bytes-scanned cutoff (UpdateWorkGroup). Athena has no per-query limit in StartQueryExecution:
        the cutoff is a setting of the whole workgroup, so only turn this on for a workgroup that the
        views (one budget at a time) use alone; otherwise the cutoff is only checked and a warning
        says when it is missing or looser than the budget.
    :param encryption: the result ``EncryptionConfiguration`` of every query (:func:`lake_encryption`);
        a query's own ``encryption`` wins.
    """

    def __init__(
        self,
        hook: AthenaHook,
        database: str,
        *,
        output_location: str,
        workgroup: str = "primary",
        glue: Any = None,
        s3: Any = None,
        sleep_time: int = 2,
        max_polling_attempts: int | None = None,
        manage_workgroup_cutoff: bool = False,
        encryption: Mapping[str, str] | None = None,
    ) -> None:
        self.hook = hook
        self.encryption = dict(encryption) if encryption else None
        self.database = database
        self.output_location = output_location
        self.workgroup = workgroup
        self.glue = glue
        self.s3 = s3_client_of(s3) if s3 is not None else None
        self.sleep_time = sleep_time
        self.max_polling_attempts = max_polling_attempts
        self.manage_workgroup_cutoff = manage_workgroup_cutoff
        self.query_execution_id: str | None = None
        self.bytes_scanned = None

    def submit(
        self,
        sql: str,
        *,
        client_request_token: str | None = None,
        encryption: Mapping[str, str] | None = None,
    ) -> str:
        """StartQueryExecution in the engine's database, workgroup and output location; the query id.

        ``encryption`` is the result EncryptionConfiguration (it also encrypts UNLOAD's and CTAS's files);
        default the engine's."""
        self.release_catalog()  # the query's catalog snapshot served its scan budget
        result_configuration: dict[str, Any] = {"OutputLocation": self.output_location}
        encryption = encryption or self.encryption
        if encryption:
            result_configuration["EncryptionConfiguration"] = dict(encryption)
        self.query_execution_id = self.hook.run_query(
            query=sql,
            query_context={"Database": self.database},
            result_configuration=result_configuration,
            client_request_token=client_request_token,
            workgroup=self.workgroup,
        )
        return self.query_execution_id

    def wait(self, query_execution_id: str) -> dict[str, Any]:
        """Poll until the query ends; its QueryExecution. Failure raises with Athena's reason."""
        state = self.hook.poll_query_status(
            query_execution_id, max_polling_attempts=self.max_polling_attempts, sleep_time=self.sleep_time
        )
        info = self.hook.get_query_info(query_execution_id)
        self.bytes_scanned = (info.get("QueryExecution", {}).get("Statistics") or {}).get(
            "DataScannedInBytes"
        )
        if state != "SUCCEEDED":
            reason = self.hook.get_state_change_reason(query_execution_id)
            raise QueryEngineError(f"Athena query {query_execution_id} ended {state}: {reason}")
        log.info("Athena query %s scanned %s bytes", query_execution_id, self.bytes_scanned)
        return info

    def run(self, sql: str) -> pa.Table:
        query_execution_id = self.submit(sql)
        self.wait(query_execution_id)
        return self.fetch(query_execution_id)

    def fetch(self, query_execution_id: str) -> pa.Table:
        """The result rows (GetQueryResults, all pages) as an Arrow table typed from the result metadata.

        GetQueryResults returns every value as a string; each column gets back the Arrow type of its
        ``ColumnInfo`` (:func:`arrow_type_of_column`: decimal(p,s) from Type/Precision/Scale, date,
        timestamp, integers, floats, boolean); other types (varchar, arrays, ...) stay strings. Pages
        hold 1,000 rows: use :meth:`unload` for results that are large."""
        import pyarrow as pa

        columns: list[dict[str, Any]] = []
        rows: list[list[str | None]] = []
        first = True
        pages = self.hook.get_query_results_paginator(query_execution_id)
        if pages is None:
            raise QueryEngineError(f"Athena query {query_execution_id} has no results to fetch")
        for page in pages:
            result_set = page["ResultSet"]
            if first:
                columns = result_set["ResultSetMetadata"]["ColumnInfo"]
            page_rows = [[d.get("VarCharValue") for d in row["Data"]] for row in result_set["Rows"]]
            rows.extend(page_rows[1:] if first else page_rows)  # the first row of the first page: headers
            first = False
        arrays = []
        for index, column in enumerate(columns):
            values = pa.array([row[index] for row in rows], type=pa.string())
            arrow = arrow_type_of_column(column)
            if arrow is not None:
                try:
                    values = values.cast(arrow)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise QueryEngineError(
                        f"Athena query {query_execution_id}: column {column['Name']!r} of type "
                        f"{column['Type']} does not read as {arrow}: {exc}"
                    ) from exc
            arrays.append(values)
        return pa.table(arrays, names=[c["Name"] for c in columns])

    def unload(
        self,
        select_sql: str,
        location: str,
        *,
        partitioned_by: Sequence[str] = (),
        encryption: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """
        Run ``UNLOAD (<select_sql>) TO '<location>'`` as zstd Parquet: Athena writes the result files
        itself, typed as the SQL's result (decimal, date, timestamp included), and no row passes
        through the worker. Athena names the files ``<query id>_<uuid>`` (no ``.parquet`` suffix) and,
        with ``partitioned_by``, writes them under ``<location><column>=<value>/``.

        .. seealso::
            - https://docs.aws.amazon.com/athena/latest/ug/unload.html

        :param select_sql: one SELECT (a partition column must be its last column).
        :param location: an empty ``s3://bucket/prefix/`` (Athena refuses a location with data).
        :param partitioned_by: columns whose values become folders instead of file columns.
        :param encryption: the result ``EncryptionConfiguration`` the files are written with
            (``{"EncryptionOption": "SSE_KMS", "KmsKey": ...}`` or ``{"EncryptionOption": "SSE_S3"}``).
        :return: the QueryExecution (its Statistics hold DataScannedInBytes).
        """
        query_execution_id = self.submit(
            unload_statement(select_sql, location, partitioned_by=partitioned_by), encryption=encryption
        )
        return self.wait(query_execution_id)

    def estimate_scan_bytes(
        self,
        tables: Iterable[str],
        selections: Mapping[str, PartitionSelection | None] | None = None,
    ) -> dict[str, int]:
        if self.glue is None or self.s3 is None:
            raise QueryEngineError("AthenaEngine needs glue and s3 clients to estimate scan bytes")
        return self.catalog().live_bytes(tables, selections)

    def apply_scan_limit(self, limit_bytes: int) -> None:
        """Make Athena itself cancel a query of this workgroup past the budget.

        The workgroup's BytesScannedCutoffPerQuery is read (GetWorkGroup); when it is missing or
        looser than ``max(limit_bytes, 10 MB)`` (Athena's minimum) it is set to that value if
        ``manage_workgroup_cutoff``, else a warning names the gap (the estimate before the query
        stays the guard)."""
        cutoff = max(int(limit_bytes), MIN_BYTES_SCANNED_CUTOFF)
        client = self.hook.get_conn()
        configuration = (
            client.get_work_group(WorkGroup=self.workgroup)["WorkGroup"].get("Configuration") or {}
        )
        current = configuration.get("BytesScannedCutoffPerQuery")
        if current is not None and int(current) <= cutoff:
            return
        if not self.manage_workgroup_cutoff:
            log.warning(
                "Athena workgroup %s has a per-query cutoff of %s bytes, looser than the budget of %d bytes",
                self.workgroup,
                current,
                cutoff,
            )
            return
        client.update_work_group(
            WorkGroup=self.workgroup, ConfigurationUpdates={"BytesScannedCutoffPerQuery": cutoff}
        )
        log.info("Set the per-query bytes-scanned cutoff of workgroup %s to %d bytes", self.workgroup, cutoff)

    def on_kill(self) -> None:
        """Stop the running query (call from the operator's on_kill)."""
        if self.query_execution_id:
            log.info("Stopping Athena query %s", self.query_execution_id)
            self.hook.stop_query(self.query_execution_id)
