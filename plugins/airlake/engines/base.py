"""The query engine of the analyse stage: one interface, Athena on AWS and DuckDB locally.

Queries are Athena (Trino) SQL that name Glue tables as ``<database>.<table>`` or bare ``<table>``
(the engine's database). Both engines size a query the same way before running it: the total size
of the live partition versions (the locations Glue points at) of the partitions its predicates on
each table's partition column (Glue ``PartitionKeys``, ``dt`` in the lake) select
(:mod:`airlake.engines.pruning`) in every table it references, which is what Athena scans at most
from Parquet without column pruning.

A query is parsed once (:func:`parse_query`, shared by table discovery, pruning and typing), and the
Glue answers it needs (tables, partitions, file listings) are fetched once per query
(:class:`CatalogSnapshot`): its scan budget and its run see the same partitions.
"""

from __future__ import annotations

import abc
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airlake.lake import split_s3_uri

if TYPE_CHECKING:
    import pyarrow as pa

    from airlake.engines.pruning import PartitionSelection

log = logging.getLogger(__name__)

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
    """The value of the table's partition key (``dt`` in the lake, whatever its name)."""
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


def in_background(name: str, function: Callable[..., Any], *args: Any) -> Future[Any]:
    """``function(*args)`` in a daemon thread of its own, started now; its result (or error) in the
    future. For work that waits (a round trip, DuckDB's open) while the caller does other work."""
    import threading

    done: Future[Any] = Future()

    def target() -> None:
        try:
            done.set_result(function(*args))
        except BaseException as exc:  # raised where the result is asked for
            done.set_exception(exc)

    threading.Thread(target=target, name=name, daemon=True).start()
    return done


def s3_client_of(store_or_client: Any) -> Any:
    """A boto3 S3 client from a :class:`~airlake.store.LakeStore` or a client itself."""
    return getattr(store_or_client, "client", store_or_client)


@functools.lru_cache(maxsize=64)
def parse_query(sql: str) -> tuple[Any, ...]:
    """
    The statements of a query parsed once as Athena (Trino) SQL, shared by everything that reads it
    (its tables, its partition predicates, its typing, lineage): parsing is the costly part of sqlglot's
    work on a view (each later walk is a few ms). The trees are shared: read them, or ``copy()`` first.

    :param sql: Athena (Trino) SQL.
    :raises QueryEngineError: when the SQL does not parse.
    """
    import sqlglot

    try:
        statements = sqlglot.parse(sql, read=SQL_DIALECT)
    except sqlglot.errors.ParseError as exc:
        raise QueryEngineError(f"cannot parse the query as {SQL_DIALECT} SQL: {exc}") from exc
    return tuple(statement for statement in statements if statement is not None)


def table_references(sql: str, database: str) -> list[tuple[str, Any]]:
    """
    ``(database.table, sqlglot Table node)`` of each reference of a table in a query, in query order: the one
    walk over a query's tables (what it reads, and where pruning looks for its partition predicates). Names
    of the query's CTEs are left out. The nodes belong to the shared tree of :func:`parse_query`.

    :param sql: Athena (Trino) SQL.
    :param database: the database of bare table names.
    :raises QueryEngineError: when the SQL does not parse.
    """
    from sqlglot import exp

    references: list[tuple[str, Any]] = []
    for statement in parse_query(sql):
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
    The partitions of a Glue table with their live location and archive flag, by partition value
    (:func:`airlake.catalog.partitions.table_partitions`); none when the table does not exist.

    With a ``selection``, only its partitions: Glue filters by the selection's Expression (when it
    has one, on the selection's partition column) and the values returned are filtered again here.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_partitions`

    :param glue: a boto3 Glue client.
    :param database: the Glue database.
    :param table: the table, partitioned by one key (``dt`` in the lake).
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


class CatalogSnapshot:
    """
    The Glue and S3 answers one query needs, each asked once: the tables it reads (columns, partition
    key), the partitions its selections name and the Parquet files behind them. A query's scan budget
    and its run share one, so the files sized are the files read and no answer is fetched twice; the
    next query takes a new one (:meth:`QueryEngine.catalog`).

    :param glue: a boto3 Glue client.
    :param s3: a boto3 S3 client or a LakeStore (None: no file listing).
    """

    def __init__(self, glue: Any, s3: Any = None) -> None:
        self.glue = glue
        self.s3 = s3_client_of(s3) if s3 is not None else None
        self._tables: dict[str, dict[str, Any] | None] = {}
        self._partitions: dict[tuple[str, PartitionSelection | None], list[LivePartition]] = {}
        self._objects: dict[str, list[tuple[str, str, int]]] = {}
        self._ahead: dict[tuple[str, PartitionSelection | None], Future[Any]] = {}

    def prefetch(self, selections: Mapping[str, PartitionSelection | None]) -> None:
        """
        Ask Glue for the partitions of these selections, and S3 for the files of a single live
        location, in the background: the selections a query makes when its tables are partitioned by
        the lake's ``dt``, asked while the tables themselves are (their ``PartitionKeys`` say which
        selections the query really makes). An answer serves only :meth:`partitions` of the same
        table and selection in this snapshot; a failed one is asked again there (its error raised).
        A table without a selection (every partition, or not partitioned by ``dt``) is not asked ahead.
        """
        for name, selection in selections.items():
            key = (name, selection)
            if selection is not None and key not in self._partitions and key not in self._ahead:
                self._ahead[key] = in_background("airlake-catalog-ahead", self._partitions_and_files, *key)

    def _partitions_and_files(
        self, name: str, selection: PartitionSelection | None
    ) -> tuple[list[LivePartition], dict[str, list[tuple[str, str, int]]]]:
        database, _, table = name.partition(".")
        partitions = live_partitions(self.glue, database, table, selection)
        locations = [partition.location for partition in partitions if not partition.archived]
        files = {}
        if self.s3 is not None and len(locations) == 1:  # several: the engine lists them in parallel
            files[locations[0]] = list(list_parquet_objects(self.s3, locations[0]))
        return partitions, files

    def table(self, name: str) -> dict[str, Any] | None:
        """The Glue table ``database.table``; None when it does not exist."""
        if name not in self._tables:
            from airlake.catalog import CatalogError, get_table

            database, _, table = name.partition(".")
            try:
                self._tables[name] = get_table(self.glue, database, table)
            except CatalogError as exc:
                raise QueryEngineError(f"Glue table {name} cannot be read: {exc}") from exc
        return self._tables[name]

    def existing_table(self, name: str) -> dict[str, Any]:
        """The Glue table ``database.table``; a query engine error when it does not exist."""
        glue_table = self.table(name)
        if glue_table is None:
            raise QueryEngineError(f"Glue table {name} cannot be read: it does not exist")
        return glue_table

    def partition_key(self, name: str) -> str | None:
        """The table's partition column (:func:`airlake.catalog.partition_key_of`); None also when the
        table is missing."""
        from airlake.catalog import partition_key_of

        return partition_key_of(self.table(name))

    def partitions(self, name: str, selection: PartitionSelection | None = None) -> list[LivePartition]:
        """:func:`live_partitions` of ``database.table`` (only the selection's, when given)."""
        key = (name, selection)
        ahead = self._ahead.pop(key, None)
        if ahead is not None and key not in self._partitions:
            try:
                self._partitions[key], files = ahead.result()
            except Exception:  # asked again below, where its error is raised
                log.debug("Partitions of %s asked ahead failed", name, exc_info=True)
            else:
                for location, objects in files.items():
                    self._objects.setdefault(location, objects)
        if key not in self._partitions:
            database, _, table = name.partition(".")
            self._partitions[key] = live_partitions(self.glue, database, table, selection)
        return self._partitions[key]

    def objects(self, location: str) -> list[tuple[str, str, int]]:
        """:func:`list_parquet_objects` of a location."""
        if self.s3 is None:
            raise QueryEngineError(f"no S3 client to list the files of {location}")
        if location not in self._objects:
            self._objects[location] = list(list_parquet_objects(self.s3, location))
        return self._objects[location]

    def live_locations(self, name: str, selection: PartitionSelection | None = None) -> list[str]:
        """The locations of a table's selected live, not archived, partition versions (unpartitioned:
        the table's location)."""
        glue_table = self.existing_table(name)
        if glue_table.get("PartitionKeys"):
            return [p.location for p in self.partitions(name, selection) if not p.archived]
        location = (glue_table.get("StorageDescriptor") or {}).get("Location")
        return [location] if location else []

    def live_bytes(
        self, tables: Iterable[str], selections: Mapping[str, PartitionSelection | None] | None = None
    ) -> dict[str, int]:
        """``{database.table: bytes}``: total size of the Parquet files of each table's live partitions
        (only the partitions of its selection, when ``selections`` names one)."""
        return {
            name: sum(
                size
                for location in self.live_locations(name, (selections or {}).get(name))
                for _bucket, _key, size in self.objects(location)
            )
            for name in tables
        }


def estimate_live_bytes(
    glue: Any,
    s3: Any,
    tables: Iterable[str],
    selections: Mapping[str, PartitionSelection | None] | None = None,
) -> dict[str, int]:
    """``{database.table: bytes}``: total size of the Parquet files of each table's live partitions
    (only the partitions of its selection, when ``selections`` names one)."""
    return CatalogSnapshot(glue, s3).live_bytes(tables, selections)


class QueryEngine(abc.ABC):
    """Runs Athena (Trino) SQL over the Glue catalog and returns the rows as an Arrow table."""

    database: str
    bytes_scanned: int | None = None
    """Bytes the last query scanned (Athena's DataScannedInBytes; DuckDB: bytes of the files it read)."""
    glue: Any = None
    """A boto3 Glue client (None: no catalog; pruning then assumes the lake's partition column ``dt``)."""
    s3: Any = None
    _catalog: tuple[str, CatalogSnapshot] | None = None
    prefetch_partitions = False
    """Ask for the partitions (and files) a query selects from ``dt`` while its tables are asked
    (:meth:`CatalogSnapshot.prefetch`): for an engine that reads them right after."""

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

    def catalog(self, sql: str | None = None) -> CatalogSnapshot:
        """
        The catalog snapshot of the query ``sql``: the one its partition selections (and so its scan
        budget) were taken on, else a new one, kept until the query runs (:meth:`release_catalog`).
        Without ``sql``: the snapshot of the query being planned, else a new one not kept.
        """
        if self.glue is None:
            raise QueryEngineError(f"{type(self).__name__} has no Glue client")
        current = self._catalog
        if current is not None and (sql is None or current[0] == sql):
            return current[1]
        snapshot = CatalogSnapshot(self.glue, self.s3)
        if sql is not None:
            self._catalog = (sql, snapshot)
        return snapshot

    def release_catalog(self) -> None:
        """Forget the query's catalog snapshot: the next query asks Glue again (a query's end)."""
        self._catalog = None

    def referenced_tables(self, sql: str) -> list[str]:
        return referenced_tables(sql, self.database)

    def partition_selections(self, sql: str) -> dict[str, PartitionSelection | None]:
        """``{database.table: selection}``: the partitions the query's predicates on each table's
        partition column (Glue ``PartitionKeys``; ``dt`` without a Glue client) select."""
        from airlake.engines.pruning import partition_selections

        keys = None
        if self.glue is not None:
            catalog = self.catalog(sql)
            if self.prefetch_partitions:  # the selections on the lake's dt, asked while the tables are
                catalog.prefetch(
                    partition_selections(sql, self.database, connection=self.constants_connection())
                )
            keys = {name: catalog.partition_key(name) for name in self.referenced_tables(sql)}
        return partition_selections(sql, self.database, keys=keys, connection=self.constants_connection())

    def constants_connection(self) -> Any:
        """A DuckDB connection to evaluate a query's constant partition predicates on (the engine's
        own); None: a short-lived one when a predicate needs it."""
        return None

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
        engine.release_catalog()  # the query will not run
        raise ScanBudgetExceeded(estimates, limit_bytes)
    return estimates
