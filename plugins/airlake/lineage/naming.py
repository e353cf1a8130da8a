"""OpenLineage names of what the stages read and write, as the providers name the same things (see
:mod:`airlake.lineage`): lake zones, Glue tables, the warehouse and the sources."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airlake.lineage.records import LineageDataset

if TYPE_CHECKING:
    from airlake.contracts import Contract

log = logging.getLogger(__name__)

ATHENA_CATALOG = "AwsDataCatalog"
"""The catalog Athena sees the Glue Data Catalog as (AthenaOperator's default ``catalog``)."""
DEFAULT_SCHEMA = "public"
"""The schema of an unqualified warehouse or source table (``current_schema()`` of a fresh database)."""


def s3_dataset(bucket: str, prefix: str, *, locations: Iterable[str] = (), **stats: Any) -> LineageDataset:
    """The S3 dataset ``s3://<bucket>`` / ``<prefix>`` (no leading or trailing slash)."""
    return LineageDataset(
        namespace=f"s3://{bucket}", name=prefix.strip("/"), locations=tuple(locations), **stats
    )


def zone_dataset(
    bucket: str, zone: str, dataset: str, *, locations: Iterable[str] = (), **stats: Any
) -> LineageDataset:
    """One zone's part of a dataset, e.g. ``raw/orders``; ``locations`` are the keys the run touched."""
    return s3_dataset(bucket, f"{zone}/{dataset}", locations=locations, **stats)


def athena_namespace(region: str | None) -> str:
    """``awsathena://athena.<region>.amazonaws.com`` (AthenaSQLHook's authority without a region)."""
    return f"awsathena://athena.{region}.amazonaws.com" if region else "awsathena://athena.amazonaws.com"


def table_dataset(
    region: str | None,
    database: str,
    table: str,
    *,
    storage: tuple[str, str] | None = None,
    partitions: Iterable[str] = (),
    **stats: Any,
) -> LineageDataset:
    """A Glue table as Athena names it; ``storage`` = ``(bucket, prefix)`` of its data."""
    symlink = None
    if storage is not None:
        bucket, prefix = storage
        symlink = (f"s3://{bucket}", prefix.strip("/"))
    return LineageDataset(
        namespace=athena_namespace(region),
        name=f"{ATHENA_CATALOG}.{database}.{table}",
        partitions=tuple(sorted(set(partitions))),
        symlink=symlink,
        **stats,
    )


def qualified_tables(region: str | None, names: Iterable[str], default_database: str) -> list[LineageDataset]:
    """Glue tables named ``database.table`` (or ``table``, in ``default_database``)."""
    found: list[LineageDataset] = []
    for name in names:
        database, _, table = str(name).rpartition(".")
        found.append(table_dataset(region, database or default_database, table))
    return found


def _port(connection: Any) -> int | None:
    port = getattr(connection, "port", None)
    return int(port) if port not in (None, "") else None


def _extra(connection: Any) -> dict[str, Any]:
    extra = getattr(connection, "extra_dejson", None)
    return dict(extra) if isinstance(extra, Mapping) else {}


def _redshift_authority(connection: Any, region: str | None) -> str:
    """``<cluster>.<region>:<port>``, as the Amazon provider's RedshiftSQLHook names a cluster."""
    port = _port(connection) or 5439
    extra = _extra(connection)
    cluster = extra.get("cluster_identifier") if extra.get("iam") else None
    if cluster:
        return f"{cluster}.{region}:{port}"
    host = str(connection.host or "")
    if not host:
        raise ValueError("a Redshift connection needs a host (or iam + cluster_identifier) for lineage")
    parts = host.split(".")
    if (host.endswith("amazonaws.com") and len(parts) == 6) or (
        host.endswith("amazonaws.com.cn") and len(parts) == 7
    ):
        return f"{parts[0]}.{parts[2]}:{port}"
    return f"{host}:{port}"


def database_namespace(connection: Any, region: str | None = None) -> str:
    """``postgres://host:port`` (default 5432), ``redshift://<cluster>.<region>:port``, else
    ``<conn_type>://host[:port]``."""
    conn_type = str(connection.conn_type or "").lower()
    if conn_type == "redshift" or (conn_type.startswith("postgres") and _extra(connection).get("redshift")):
        return f"redshift://{_redshift_authority(connection, region)}"
    if conn_type in ("postgres", "postgresql"):
        return f"postgres://{connection.host}:{_port(connection) or 5432}"
    port = _port(connection)
    return f"{conn_type}://{connection.host}" + (f":{port}" if port else "")


def database_table(connection: Any, table: str, *, region: str | None = None, **stats: Any) -> LineageDataset:
    """A table of the database behind ``connection``: ``<database>.<schema>.<table>``."""
    schema, _, name = table.rpartition(".")
    database = connection.schema
    qualified = f"{schema or DEFAULT_SCHEMA}.{name}"
    return LineageDataset(
        namespace=database_namespace(connection, region),
        name=f"{database}.{qualified}" if database else qualified,
        **stats,
    )


def _endpoint(region: str | None, service: str) -> str:
    return (
        f"{service}://{service}.{region}.amazonaws.com" if region else f"{service}://{service}.amazonaws.com"
    )


def source_dataset(
    contract: Contract,
    described: Mapping[str, Any],
    *,
    bucket: str,
    region: str | None,
    keys: Sequence[str] = (),
    rows: int | None = None,
    connection: Any = None,
) -> LineageDataset:
    """The dataset a contract's source reads, from the ingest manifest's ``source`` (``described``)."""
    spec = contract.source
    if spec.kind == "files":
        return s3_dataset(bucket, spec.landing_prefix, locations=keys, rows=rows, files=len(keys))
    if spec.kind == "database":
        return database_table(connection, spec.table, region=region, rows=rows)
    if spec.kind == "kinesis":
        return LineageDataset(namespace=_endpoint(region, "kinesis"), name=spec.stream_name, rows=rows)
    if spec.kind == "sqs":
        return LineageDataset(namespace=_endpoint(region, "sqs"), name=spec.queue_name, rows=rows)
    if spec.kind == "http":
        url = urlsplit(str(described["url"]))  # recorded without user info or secrets
        netloc = url.hostname or ""
        if url.port is not None:
            netloc = f"{netloc}:{url.port}"
        return LineageDataset(namespace=f"{url.scheme}://{netloc}", name=url.path or "/", rows=rows)
    raise ValueError(f"no lineage naming for source kind {spec.kind!r}")


def region_of(hook: Any) -> str | None:
    """The region the hook's client uses (the connection's, else the environment's), None if unknown."""
    try:
        return hook.conn_region_name or hook.region_name
    except Exception:
        log.debug("OpenLineage: no region from %r", hook, exc_info=True)
        return None
