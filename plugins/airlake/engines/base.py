"""The query engine of the analyse stage: one interface, Athena on AWS and DuckDB locally.

Queries are Athena (Trino) SQL that name Glue tables as ``<database>.<table>`` or bare ``<table>``
(the engine's database). Both engines size a query the same way before running it: the total size
of the live partition versions (the locations Glue points at) of the partitions its ``dt``
predicates select (:mod:`airlake.engines.pruning`) in every table it references, which is what
Athena scans at most from Parquet without column pruning.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airlake.lake import split_s3_uri

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.engines.pruning import PartitionSelection

SQL_DIALECT = "trino"
"""sqlglot dialect of the Athena SQL in sql/athena (Athena engine v3 is Trino)."""


class QueryEngineError(RuntimeError):
    """A query could not be planned or run."""


class ScanBudgetExceeded(QueryEngineError):
    """The tables a query reads are larger than the bytes it may scan."""

    def __init__(self, estimates: Mapping[str, int], limit_bytes: int) -> None:
        self.estimates = dict(estimates)
        self.limit_bytes = limit_bytes
        self.total_bytes = sum(self.estimates.values())
        listed = ", ".join(f"{table} {size:,} bytes" for table, size in sorted(self.estimates.items()))
        super().__init__(
            f"refusing to run the query: it would scan up to {self.total_bytes:,} bytes "
            f"(live partitions of {listed}), above the limit of {limit_bytes:,} bytes"
        )


@dataclass(frozen=True, slots=True)
class LivePartition:
    """One partition of a Glue table: its value and the location of the version readers see."""

    dt: str
    location: str
    archived: bool = False
    """Flagged archived in Glue by tiering (Glacier, not restored): Athena ignores such objects."""


def split_s3_location(location: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> (``bucket``, ``a/b/``): the prefix ends with a slash (empty at the bucket's root).
    :func:`airlake.lake.split_s3_uri` parses; a query engine error when it is no S3 location."""
    try:
        bucket, prefix = split_s3_uri(location)
    except ValueError as exc:
        raise QueryEngineError(f"not an S3 location: {location!r}") from exc
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def s3_client_of(store_or_client: Any) -> Any:
    """A boto3 S3 client from a :class:`~airlake.store.LakeStore` or a client itself."""
    return getattr(store_or_client, "client", store_or_client)


def table_references(sql: str, database: str) -> list[tuple[str, Any]]:
    """
    ``(database.table, sqlglot Table node)`` of each reference of a table in a query, in query order: the one
    walk over a query's tables (what it reads, and where pruning looks for its ``dt`` predicates). Names of
    the query's CTEs are left out.

    :param sql: Athena (Trino) SQL.
    :param database: the database of bare table names.
    :raises QueryEngineError: when the SQL does not parse.
    """
    import sqlglot
    from sqlglot import exp

    try:
        statements = sqlglot.parse(sql, read=SQL_DIALECT)
    except sqlglot.errors.ParseError as exc:
        raise QueryEngineError(f"cannot parse the query as {SQL_DIALECT} SQL: {exc}") from exc
    references: list[tuple[str, Any]] = []
    for statement in statements:
        if statement is None:
            continue
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if not table.name or (not table.db and table.name.lower() in ctes):
                continue
            references.append((f"{(table.db or database).lower()}.{table.name.lower()}", table))
    return references


def referenced_tables(sql: str, database: str) -> list[str]:
    """
    ``database.table`` of every table a query reads, sorted; names of the query's CTEs are left out.

    :param sql: Athena (Trino) SQL.
    :param database: the database of bare table names.
    """
    return sorted({name for name, _table in table_references(sql, database)})


def live_partitions(
    glue: Any, database: str, table: str, selection: PartitionSelection | None = None
) -> list[LivePartition]:
    """
    The partitions of a Glue table with their live location and archive flag, by ``dt``
    (:func:`airlake.catalog.partitions.table_partitions`); none when the table does not exist.

    With a ``selection``, only its partitions: Glue filters by the selection's Expression (when it
    has one) and the values returned are filtered again here.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_partitions`

    :param glue: a boto3 Glue client.
    :param database: the Glue database.
    :param table: the table, partitioned by one key (``dt``).
    :param selection: the partitions a query selects; None: every partition.
    """
    from airlake.catalog import CatalogError, is_archived, partition_location, table_partitions

    now = datetime.now(UTC)
    expression = selection.glue_expression() if selection is not None else None
    try:
        found = table_partitions(glue, database, table, expression=expression)
    except CatalogError as exc:
        raise QueryEngineError(f"cannot list the partitions of {database}.{table}: {exc}") from exc
    partitions: list[LivePartition] = []
    for dt, partition in sorted(found.items()):
        location = partition_location(partition)
        if location and (selection is None or selection.matches(dt)):
            partitions.append(LivePartition(dt, location, is_archived(partition.get("Parameters"), now)))
    return partitions


def list_parquet_objects(s3: Any, location: str) -> Iterator[tuple[str, str, int]]:
    """(bucket, key, size) of the Parquet files directly under a partition version's location."""
    bucket, prefix = split_s3_location(location)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix) :]
            if "/" in name or name.startswith(("_", ".")) or not name.endswith(".parquet"):
                continue
            yield bucket, item["Key"], int(item["Size"])


def estimate_live_bytes(
    glue: Any,
    s3: Any,
    tables: Iterable[str],
    selections: Mapping[str, PartitionSelection | None] | None = None,
) -> dict[str, int]:
    """``{database.table: bytes}``: total size of the Parquet files of each table's live partitions
    (only the partitions of its selection, when ``selections`` names one)."""
    from airlake.catalog import CatalogError, get_table

    estimates: dict[str, int] = {}
    for name in tables:
        database, _, table = name.partition(".")
        try:
            glue_table = get_table(glue, database, table)
        except CatalogError as exc:
            raise QueryEngineError(f"Glue table {name} cannot be read: {exc}") from exc
        if glue_table is None:
            raise QueryEngineError(f"Glue table {name} cannot be read: it does not exist")
        if glue_table.get("PartitionKeys"):
            selection = (selections or {}).get(name)
            locations = [
                p.location for p in live_partitions(glue, database, table, selection) if not p.archived
            ]
        else:  # unpartitioned: the files directly under the table's location
            location = (glue_table.get("StorageDescriptor") or {}).get("Location")
            locations = [location] if location else []
        estimates[name] = sum(
            size for location in locations for _bucket, _key, size in list_parquet_objects(s3, location)
        )
    return estimates


class QueryEngine(abc.ABC):
    """Runs Athena (Trino) SQL over the Glue catalog and returns the rows as an Arrow table."""

    database: str
    bytes_scanned: int | None = None
    """Bytes the last query scanned (Athena's DataScannedInBytes; DuckDB: bytes of the files it read)."""

    @abc.abstractmethod
    def run(self, sql: str) -> pa.Table:
        """Run one SELECT and return its rows."""

    @abc.abstractmethod
    def estimate_scan_bytes(
        self,
        tables: Iterable[str],
        selections: Mapping[str, PartitionSelection | None] | None = None,
    ) -> dict[str, int]:
        """``{database.table: bytes}`` the query could scan at most from each table (only the
        partitions of its selection, when ``selections`` names one)."""

    def referenced_tables(self, sql: str) -> list[str]:
        return referenced_tables(sql, self.database)

    def partition_selections(self, sql: str) -> dict[str, PartitionSelection | None]:
        """``{database.table: selection}``: the partitions the query's ``dt`` predicates select."""
        from airlake.engines.pruning import partition_selections

        return partition_selections(sql, self.database)

    def apply_scan_limit(self, limit_bytes: int) -> None:  # noqa: B027 - optional hook
        """Let the engine itself stop a query past ``limit_bytes`` (Athena: the workgroup cutoff);
        nothing to do by default (the estimate before the query is the guard)."""


def check_scan_budget(engine: QueryEngine, sql: str, limit_bytes: int) -> dict[str, int]:
    """
    Refuse a query whose tables' selected live partitions hold more than ``limit_bytes`` in total.

    :param engine: the engine that would run the query (it sizes the tables).
    :param sql: the query.
    :param limit_bytes: most bytes the query may scan.
    :return: ``{database.table: bytes}`` when the query is within budget.
    :raises ScanBudgetExceeded: naming each table and its estimated bytes.
    """
    estimates = engine.estimate_scan_bytes(engine.referenced_tables(sql), engine.partition_selections(sql))
    if sum(estimates.values()) > limit_bytes:
        raise ScanBudgetExceeded(estimates, limit_bytes)
    return estimates
