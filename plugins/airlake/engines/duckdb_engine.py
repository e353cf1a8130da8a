"""DuckDB as the local stand-in for Athena: the same Athena SQL over the same Parquet, via the Glue catalog.

For each table a query names, the engine asks Glue for the table and the partitions the query's
predicates on its partition column (the table's Glue ``PartitionKeys``: ``dt`` in the lake) select
(:mod:`airlake.engines.pruning`: ``where dt = '{{ ds }}'`` reads one day, whatever the table's history), downloads the Parquet files of each such partition's live version (whole-object GETs: moto is slow at ranged reads),
caches them in a temp folder laid out ``<database>/<table>/dt=<dt>/...`` and registers a view
``"<database>"."<table>"`` with the Glue columns and the partition column. The query is then
transpiled from Trino to DuckDB with sqlglot and run. Older ``v=`` versions are never read: only the
locations Glue points at are.

Fixed costs are paid once: the SQL is parsed once for its tables, its pruning and its typing
(:func:`~airlake.engines.base.parse_query`), each Glue answer is asked once per query
(:class:`~airlake.engines.base.CatalogSnapshot`, shared with the scan budget), and constant
partition predicates are computed on the engine's own connection. One engine can run the views of
many days (its cache keeps the files it downloaded).

Result types follow Athena's rules where DuckDB's differ (:func:`athena_typed`): ``count_if`` and
``sum`` of integers are ``bigint`` (DuckDB: ``HUGEINT``, i.e. ``decimal(38,0)`` in Arrow), ``sum`` and
``avg`` of ``real`` are ``real``, ``avg`` of ``decimal(p,s)`` is ``decimal(p,s)``; ``/`` of integers is
integer division of the operands' type, as in Trino.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.engines.base import (
    SQL_DIALECT,
    CatalogSnapshot,
    QueryEngine,
    QueryEngineError,
    in_background,
    parse_query,
    s3_client_of,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from airlake.engines.pruning import PartitionSelection

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
_FETCH_THREADS = 4
"""Threads listing and fetching the partitions of one table (botocore keeps 10 connections a client)."""
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_GLUE_TO_DUCKDB = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "integer": "INTEGER",
    "float": "FLOAT",
    "binary": "BLOB",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
}


def _quote(name: str) -> str:
    if not _NAME.match(name):
        raise QueryEngineError(f"unsafe identifier {name!r}")
    return f'"{name}"'


def duckdb_type(glue_type: str) -> str:
    """DuckDB type of a Glue column type (``decimal(12,2)``, ``bigint``, ``string``, ...)."""
    normalized = "".join(glue_type.split()).lower()
    if normalized in _GLUE_TO_DUCKDB:
        return _GLUE_TO_DUCKDB[normalized]
    if re.fullmatch(r"(tinyint|smallint|bigint|double|boolean|date|decimal\(\d+,\d+\))", normalized):
        return normalized.upper()
    raise QueryEngineError(f"Glue type {glue_type!r} has no DuckDB equivalent here")


def _trino_type(glue_type: str) -> str:
    """A Glue column type spelled as Trino reads it (for sqlglot's type annotation)."""
    normalized = "".join(glue_type.split()).lower()
    return {"string": "varchar", "int": "integer", "float": "real", "binary": "varbinary"}.get(
        normalized, normalized
    )


_INTEGERS = {"TINYINT", "SMALLINT", "INT", "BIGINT"}


def athena_typed(sql: str, schema: dict[str, dict[str, dict[str, str]]], database: str) -> str | None:
    """
    DuckDB SQL of an Athena query whose aggregates return Athena's types; None when the query cannot be
    typed (then :func:`to_duckdb_sql` is used, and HUGEINT results are still cast to bigint).

    Athena (Trino) rules applied where DuckDB's differ: ``count_if(x)`` -> bigint; ``sum`` of
    tinyint/smallint/integer/bigint -> bigint; ``sum``/``avg`` of real -> real; ``avg`` of
    decimal(p,s) -> decimal(p,s). ``count``, ``sum`` of decimal(p,s) (decimal(38,s)) and of double,
    ``avg`` of integers and doubles (double), ``min``/``max`` (the argument's type) already agree.

    :param sql: Athena (Trino) SQL (its tree is :func:`~airlake.engines.base.parse_query`'s, copied).
    :param schema: ``{database: {table: {column: glue type}}}`` of every table the query reads.
    :param database: the database of bare table names.
    """
    from sqlglot import exp
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    trino_schema = {
        db: {table: {c: _trino_type(t) for c, t in columns.items()} for table, columns in tables.items()}
        for db, tables in schema.items()
    }
    try:
        out = []
        for statement in parse_query(sql):
            typed = annotate_types(
                qualify(
                    statement.copy(),
                    schema=trino_schema,
                    db=database,
                    dialect=SQL_DIALECT,
                    quote_identifiers=False,
                ),
                schema=trino_schema,
                dialect=SQL_DIALECT,
            )
            for division in typed.find_all(exp.Div):
                operands = (division.left.type, division.right.type)
                if all(t is not None and t.this.name in _INTEGERS for t in operands):
                    division.set("typed", False)  # the session's integer_division keeps Trino's type
            for node in list(typed.find_all(exp.CountIf, exp.Sum, exp.Avg)):
                argument = node.this.type.this.name if node.this is not None and node.this.type else ""
                target: exp.DataType | None = None
                if isinstance(node, exp.CountIf) or (isinstance(node, exp.Sum) and argument in _INTEGERS):
                    target = exp.DataType.build("bigint")
                elif argument == "FLOAT":  # Trino's real
                    target = exp.DataType.build("real")
                elif isinstance(node, exp.Avg) and argument == "DECIMAL":
                    target = node.this.type.copy()
                if target is not None:
                    outer = node  # sum(x) over (...), sum(x) filter (where ...): cast the whole call
                    while isinstance(
                        outer.parent, exp.Window | exp.Filter | exp.IgnoreNulls | exp.RespectNulls
                    ):
                        outer = outer.parent
                    outer.replace(exp.Cast(this=outer.copy(), to=target))
            out.append(typed.sql(dialect="duckdb"))
    except Exception:  # untypable: the plain transpilation (its HUGEINTs are still cast)
        log.debug("Query not typed for Athena parity; transpiled as it is", exc_info=True)
        return None
    return ";\n".join(out)


def to_duckdb_sql(sql: str) -> str:
    """Athena (Trino) SQL transpiled to DuckDB's dialect (from the query's one parsed tree)."""
    try:
        statements = parse_query(sql)
    except QueryEngineError as exc:
        raise QueryEngineError(f"cannot transpile the query from {SQL_DIALECT} to DuckDB: {exc}") from exc
    return ";\n".join(statement.sql(dialect="duckdb") for statement in statements)


def _connection_config(memory_limit: str | None) -> dict[str, Any]:
    """Core settings of the engine's DuckDB database, given when it is opened (no statement each):
    Trino's integer division (``7 / 2 = 3``) and the memory limit when given (``"1GB"``)."""
    config: dict[str, Any] = {"integer_division": True}
    if memory_limit:
        config["memory_limit"] = memory_limit
    return config


def _open_connection(memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    """The engine's DuckDB database: :func:`_connection_config` at the open, then the settings of
    extensions the open loads: Athena computes in UTC (ICU); each Parquet footer is parsed once per
    engine (DuckDB checks the file's modification time), not once by the registration's describe,
    once by its view and once by the query (and again by each later query)."""
    import duckdb

    connection = duckdb.connect(config=_connection_config(memory_limit))
    try:
        connection.execute("set TimeZone = 'UTC'; set parquet_metadata_cache = true")
    except BaseException:
        connection.close()
        raise
    return connection


class _OnFirstUse:
    """The engine's connection for :mod:`airlake.engines.pruning`'s constants, waited for only when a
    predicate needs DuckDB (most are string literals)."""

    def __init__(self, engine: DuckDBEngine) -> None:
        self._engine = engine

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._engine.connection.execute(*args, **kwargs)


def _glue_columns(glue_table: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """(``[(column, Glue type)]``, partition keys) of a Glue table."""
    columns = [
        (c["Name"], c["Type"]) for c in (glue_table.get("StorageDescriptor") or {}).get("Columns") or []
    ]
    return columns, [k["Name"] for k in glue_table.get("PartitionKeys") or []]


def _hugeint_as_bigint(result: pa.Table, duckdb_types: list[str]) -> pa.Table:
    """DuckDB's 128-bit integers (Arrow decimal(38,0)) as bigint: Trino has no wider integer, and an
    integer aggregate it computes is a bigint (a value outside bigint raises, as Athena would)."""
    import pyarrow as pa

    for index, type_name in enumerate(duckdb_types):
        if type_name in ("HUGEINT", "UHUGEINT"):
            result = result.set_column(index, result.field(index).name, result.column(index).cast(pa.int64()))
    return result


class DuckDBEngine(QueryEngine):
    """
    Athena SQL on an in-process DuckDB over the Glue catalog's live partitions.

    :param glue: a boto3 Glue client.
    :param s3: a boto3 S3 client, or a :class:`~airlake.store.LakeStore` (its client is used).
    :param database: the Glue database of bare table names.
    :param cache_dir: folder for the downloaded Parquet files; a temp folder (removed by
        :meth:`close`) when not given.
    :param memory_limit: DuckDB ``memory_limit`` (``"1GB"``), or None for DuckDB's default.
    :param prune_partitions: read only the partitions a query's ``dt`` predicates select (default);
        False reads every live partition of every table named.
    """

    prefetch_partitions = True  # the view registers the selected partitions' files right after

    def __init__(
        self,
        glue: Any,
        s3: Any,
        database: str,
        *,
        cache_dir: str | Path | None = None,
        memory_limit: str | None = None,
        prune_partitions: bool = True,
    ) -> None:
        self.glue = glue
        self.s3 = s3_client_of(s3)
        self.database = database
        self._own_cache = cache_dir is None
        self.cache_dir = Path(cache_dir or tempfile.mkdtemp(prefix="airlake-duckdb-"))
        # a new DuckDB database costs ~15 ms of CPU (its built-in catalog) and is not needed before the
        # query's Glue and S3 answers are in: it is opened by a thread of its own meanwhile (the round
        # trips wait on the network) and waited for where it is first used (:attr:`connection`)
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._opening: Future[duckdb.DuckDBPyConnection] | None = in_background(
            "airlake-duckdb-open", _open_connection, memory_limit
        )
        self._schemas: set[str] = set()
        """Schemas created on the connection (a view's registration and its ``use`` share them)."""
        self.bytes_scanned = None
        self.prune_partitions = prune_partitions
        self.downloads = 0
        """Files fetched from S3 into the cache since the engine was made (cached files are reused)."""
        self.files_read: dict[str, int] = {}
        """``database.table`` -> Parquet files behind its view at the last registration."""
        self.last_sql: str | None = None
        self._table_bytes: dict[str, int] = {}
        self._columns: dict[str, dict[str, str]] = {}
        """``database.table`` -> ``{column: glue type}`` (partition key included) of its view."""
        self.archived_partitions: dict[str, list[str]] = {}
        """``database.table`` -> partitions left out of the last registration because they are archived."""

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The engine's DuckDB connection (:func:`_open_connection`), waited for on first use."""
        if self._connection is None:
            if self._opening is None:
                raise QueryEngineError("the engine is closed")
            self._connection = self._opening.result()
        return self._connection

    # -- QueryEngine ------------------------------------------------------------------------------

    def run(self, sql: str) -> pa.Table:
        """Register the referenced tables from Glue, transpile the query to DuckDB and run it (on the
        catalog snapshot its scan budget was checked on, if it was; a new one is taken after)."""
        try:
            return self._run(sql, self.catalog(sql))
        finally:
            self.release_catalog()

    def _run(self, sql: str, catalog: CatalogSnapshot) -> pa.Table:
        tables = self.referenced_tables(sql)
        selections = self.partition_selections(sql)
        # typed from the tables' Glue columns before the views are registered: the typing's CPU overlaps
        # the partitions' and files' round trips asked ahead (:meth:`CatalogSnapshot.prefetch`)
        schema: dict[str, dict[str, dict[str, str]]] = {}
        for name in tables:
            database, _, table = name.partition(".")
            columns, keys = _glue_columns(catalog.existing_table(name))
            schema.setdefault(database, {})[table] = {**dict(columns), **dict.fromkeys(keys, "string")}
        self.last_sql = athena_typed(sql, schema, self.database) or to_duckdb_sql(sql)
        for name in tables:
            self.register(name, selections.get(name), catalog=catalog)
        self._use(self.database)
        try:
            relation = self.connection.sql(self.last_sql)
            result = relation.to_arrow_table()
        except Exception as exc:  # duckdb.Error and its subclasses
            raise QueryEngineError(f"DuckDB failed to run the query: {exc}\n{self.last_sql}") from exc
        self.bytes_scanned = sum(self._table_bytes[name] for name in tables)
        return _hugeint_as_bigint(result, [str(t) for t in relation.types])

    def estimate_scan_bytes(
        self,
        tables: Iterable[str],
        selections: Mapping[str, PartitionSelection | None] | None = None,
    ) -> dict[str, int]:
        return self.catalog().live_bytes(tables, selections)

    def constants_connection(self) -> Any:
        return _OnFirstUse(self)

    def partition_selections(self, sql: str) -> dict[str, PartitionSelection | None]:
        if not self.prune_partitions:
            return dict.fromkeys(self.referenced_tables(sql))
        return super().partition_selections(sql)

    # -- registration -----------------------------------------------------------------------------

    def register(
        self,
        name: str,
        selection: PartitionSelection | None = None,
        *,
        catalog: CatalogSnapshot | None = None,
    ) -> int:
        """
        (Re)create the view of one Glue table over its live partitions; return the bytes behind it.

        :param name: ``database.table``.
        :param selection: only these partitions (the rest of the table is not in the view); None:
            every live partition.
        :param catalog: the Glue answers of the query being run; None: asked now.
        """
        catalog = catalog or CatalogSnapshot(self.glue, self.s3)
        database, _, table = name.partition(".")
        glue_table = catalog.existing_table(name)
        columns, keys = _glue_columns(glue_table)
        if len(keys) > 1:
            raise QueryEngineError(f"{name}: only tables with one partition key are supported, not {keys}")
        if keys:
            partitions = catalog.partitions(name, selection)
            archived = [partition.dt for partition in partitions if partition.archived]
            if archived:
                # like Athena, which ignores Glacier objects: restore them first to read them
                log.warning(
                    "%s: %d archived partition(s) left out: %s", name, len(archived), ", ".join(archived)
                )
            self.archived_partitions[name] = archived
            locations = [
                (partition.location, self.cache_dir / database / table / f"{keys[0]}={partition.dt}")
                for partition in partitions
                if not partition.archived
            ]
        else:  # an unpartitioned table: the files directly under its location
            location = (glue_table.get("StorageDescriptor") or {}).get("Location")
            locations = [(location, self.cache_dir / database / table / "_unpartitioned")] if location else []
        files: list[Path] = []
        size = 0
        for fetched in self._fetch_all(catalog, locations):
            for path, object_size, downloaded in fetched:
                files.append(path)
                size += object_size
                self.downloads += downloaded
        self._create_schema(database)
        self.connection.execute(
            f"create or replace view {_quote(database)}.{_quote(table)} as {self._view_sql(columns, keys, files)}"
        )
        self._table_bytes[name] = size
        self._columns[name] = {**dict(columns), **dict.fromkeys(keys, "string")}
        self.files_read[name] = len(files)
        log.info("Registered %s: %d live file(s), %d bytes", name, len(files), size)
        return size

    def _fetch_all(
        self, catalog: CatalogSnapshot, locations: list[tuple[str, Path]]
    ) -> list[list[tuple[Path, int, bool]]]:
        """(local path, bytes, downloaded now) of the files of each location, in order. Several
        locations (a week's partitions) are listed and fetched by a few threads: each is a round trip
        or a GET of its own, and the boto3 client is thread-safe."""

        def fetch(item: tuple[str, Path]) -> list[tuple[Path, int, bool]]:
            location, folder = item
            fetched = []
            for bucket, key, object_size in catalog.objects(location):
                path, downloaded = self._download(bucket, key, folder)
                fetched.append((path, object_size, downloaded))
            return fetched

        if len(locations) < 2:
            return [fetch(item) for item in locations]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(_FETCH_THREADS, len(locations))) as pool:
            return list(pool.map(fetch, locations))

    def _download(self, bucket: str, key: str, folder: Path) -> tuple[Path, bool]:
        """Whole-object GET into the cache; versions are immutable, so a cached file is reused.
        (local path, whether it was downloaded now)."""
        folder.mkdir(parents=True, exist_ok=True)
        # <version folder>-<file name>: unique per partition folder, and free of '=' (no extra hive keys).
        parts = key.split("/")
        version = parts[-2] if len(parts) > 1 else "root"
        local = folder / f"{version.replace('=', '_')}-{parts[-1]}"
        if local.exists():
            return local, False
        partial = local.with_suffix(".part")
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]  # one GET, not ranged parts
        with partial.open("wb") as out:
            shutil.copyfileobj(body, out, _CHUNK)
        partial.replace(local)
        return local, True

    def _view_sql(self, columns: list[tuple[str, str]], keys: list[str], files: list[Path]) -> str:
        if not files:
            selected = [f"cast(null as {duckdb_type(t)}) as {_quote(n)}" for n, t in columns]
            selected += [f"cast(null as VARCHAR) as {_quote(k)}" for k in keys]
            return f"select {', '.join(selected)} where false"
        listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
        source = f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true"
        if keys:
            source += f", hive_types = {{'{keys[0]}': VARCHAR}}"
        source += ")"
        present = {
            row[0].lower() for row in self.connection.execute(f"describe select * from {source}").fetchall()
        }
        selected = [
            _quote(n) if n.lower() in present else f"cast(null as {duckdb_type(t)}) as {_quote(n)}"
            for n, t in columns
        ]
        selected += [_quote(k) for k in keys]
        return f"select {', '.join(selected)} from {source}"

    def _create_schema(self, database: str) -> None:
        if database not in self._schemas:
            self.connection.execute(f"create schema if not exists {_quote(database)}")
            self._schemas.add(database)

    def _use(self, database: str) -> None:
        self._create_schema(database)
        self.connection.execute(f"use {_quote(database)}")

    # -- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        opening, self._opening = self._opening, None
        try:
            if self._connection is None and opening is not None:
                try:
                    self._connection = opening.result()
                except Exception:  # never opened (its error raised at first use, if any): nothing to close
                    log.debug("DuckDB database not opened", exc_info=True)
            if self._connection is not None:
                self._connection.close()
        finally:
            self._connection = None
            if self._own_cache:
                shutil.rmtree(self.cache_dir, ignore_errors=True)

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
