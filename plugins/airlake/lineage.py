"""OpenLineage of the stages: what a run read and wrote, as OpenLineage datasets.

Each operator records a :class:`Lineage` at the end of ``execute``, from what it already holds (its
summary, its manifest, its contract), without importing OpenLineage; its
``get_openlineage_facets_on_complete`` only converts it with :func:`operator_lineage` (no I/O there).
The OpenLineage provider's listener calls that method when a task succeeds, and also when it fails
(there is no ``..._on_failure``): then it reports what the task recorded before failing, usually
nothing. Recording never fails a task: a builder that raises logs a warning and records nothing.

Names follow the OpenLineage naming spec, as the Amazon provider's operators use it:

- lake objects: namespace ``s3://<bucket>``, name ``<zone>/<dataset>`` (``raw/orders``,
  ``curated/orders``, ``quarantine/orders``, ``analytics/<view>``, ``reports/business``): one dataset per
  zone and dataset, the same in every run, so the stages join up into one graph. The exact objects a
  run read or wrote are in the ``subset`` facet (a ``LocationSubsetCondition`` of their keys), the shape
  openlineage-python's dataset reducer gives partitioned paths.
- Glue tables: ``awsathena://athena.<region>.amazonaws.com``, ``AwsDataCatalog.<database>.<table>``
  (AthenaOperator's convention), a ``symlinks`` facet to their S3 dataset, and the partitions a run
  published in the ``subset`` facet (a ``PartitionSubsetCondition`` on ``dt``).
- the warehouse and database sources: ``postgres://<host>:<port>`` or
  ``redshift://<cluster>.<region>:<port>`` (as RedshiftSQLHook names it), ``<database>.<schema>.<table>``;
  an unqualified table is in ``public``.
- other sources: HTTP APIs ``<scheme>://<host>[:<port>]`` + the path; Kinesis streams
  ``kinesis://kinesis.<region>.amazonaws.com`` + the stream; SQS ``sqs://sqs.<region>.amazonaws.com`` + the
  queue (the spec names neither: the same ``scheme://authority`` + name split as Athena).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from airlake.lake import split_s3_uri

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airlake.contracts import Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

ATHENA_CATALOG = "AwsDataCatalog"
"""The catalog Athena sees the Glue Data Catalog as (AthenaOperator's default ``catalog``)."""
DEFAULT_SCHEMA = "public"
"""The schema of an unqualified warehouse or source table (``current_schema()`` of a fresh database)."""
PARTITION_COLUMN = "dt"

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class LineageDataset:
    """One OpenLineage dataset of a run, in plain values (converted by :func:`operator_lineage`)."""

    namespace: str
    name: str
    locations: tuple[str, ...] = ()
    """The exact keys (or prefixes) the run read or wrote: the ``subset`` facet."""
    partitions: tuple[str, ...] = ()
    """The ``dt`` partitions of a table the run read or wrote: the ``subset`` facet."""
    rows: int | None = None
    size: int | None = None
    files: int | None = None
    symlink: tuple[str, str] | None = None
    """``(namespace, name)`` of a table's storage: the ``symlinks`` facet."""
    dropped: bool = False
    """The run deleted the dataset: the ``lifecycleStateChange`` facet (DROP)."""
    assertions: tuple[dict[str, Any], ...] = ()
    """Quality checks run on an input: ``dataQualityAssertions`` (keys of its ``Assertion``)."""


@dataclass(frozen=True)
class Lineage:
    """What one run of a stage read and wrote."""

    inputs: tuple[LineageDataset, ...] = field(default_factory=tuple)
    outputs: tuple[LineageDataset, ...] = field(default_factory=tuple)


def _never_raises(builder: Callable[_P, _R]) -> Callable[_P, _R | None]:
    """Lineage is a by-product: a builder that fails logs a warning and gives None, the task goes on."""

    @functools.wraps(builder)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        try:
            return builder(*args, **kwargs)
        except Exception:
            log.warning("OpenLineage: %s failed; the run reports no lineage", builder.__name__, exc_info=True)
            return None

    return guarded


# --------------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------------


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


def _sum(items: Iterable[Mapping[str, Any]], key: str) -> int | None:
    """The total of ``key`` over the items that have it; None when none has it."""
    values = [int(item[key]) for item in items if item.get(key) is not None]
    return sum(values) if values else None


# --------------------------------------------------------------------------------------------------
# One builder per stage (called at the end of each operator's execute)
# --------------------------------------------------------------------------------------------------


@_never_raises
def ingest_lineage(
    contract: Contract, store: LakeStore, summary: Mapping[str, Any], *, region: str | None
) -> Lineage:
    """Source -> ``raw/<dataset>`` (the run's parts), from the run's ingest manifest. A run that was
    already complete (``skipped``) read and wrote nothing."""
    if summary.get("skipped") or not summary.get("manifest"):
        return Lineage()
    manifest = store.get_json(summary["manifest"]) or {}
    inputs = list(manifest.get("inputs") or [])
    outputs = list(manifest.get("outputs") or [])
    connection = None
    if contract.source.kind == "database":
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(contract.source.conn_id)
    source = source_dataset(
        contract,
        manifest.get("source") or {},
        bucket=store.bucket,
        region=region,
        keys=[item["key"] for item in inputs if "key" in item],
        rows=(manifest.get("rows") or {}).get("read"),
        connection=connection,
    )
    raw = zone_dataset(
        store.bucket,
        "raw",
        contract.name,
        locations=[item["key"] for item in outputs],
        rows=(manifest.get("rows") or {}).get("landed"),
        size=_sum(outputs, "bytes"),
        files=len(outputs),
    )
    return Lineage(inputs=(source,), outputs=(raw,) if outputs else ())


@_never_raises
def curate_lineage(store: LakeStore, dataset: str, summary: Mapping[str, Any]) -> Lineage:
    """``raw/<dataset>`` (the parts read) -> ``curated/<dataset>`` (the new version files) and
    ``quarantine/<dataset>`` (the rejects), from the run's curate manifest."""
    manifest = store.get_json(summary["manifest"]) or {}
    read = [item for item in manifest.get("inputs") or [] if item.get("key")]
    written = manifest.get("outputs") or []
    curated = [item for item in written if item.get("kind") == "curated"]
    rejects = [item for item in written if item.get("kind") == "quarantine"]
    inputs: tuple[LineageDataset, ...] = ()
    if read:
        rows = (manifest.get("rows") or {}).get("read")
        inputs = (
            zone_dataset(
                store.bucket,
                "raw",
                dataset,
                locations=[item["key"] for item in read],
                rows=rows,
                size=_sum(read, "bytes"),
                files=len(read),
            ),
        )
    outputs: list[LineageDataset] = []
    for zone, items in (("curated", curated), ("quarantine", rejects)):
        if items:
            outputs.append(
                zone_dataset(
                    store.bucket,
                    zone,
                    dataset,
                    locations=[item["key"] for item in items],
                    rows=_sum(items, "rows"),
                    size=_sum(items, "bytes"),
                    files=len(items),
                )
            )
    return Lineage(inputs=inputs, outputs=tuple(outputs))


@_never_raises
def quality_lineage(
    contract: Contract, bucket: str, keys_by_dt: Mapping[str, Sequence[str]], results: Sequence[Any]
) -> Lineage:
    """The curated files checked, with one assertion per contract check (passed or not)."""
    assertions = []
    for check, result in zip(contract.quality.checks, results, strict=False):
        column = getattr(check, "column", None)
        columns = getattr(check, "columns", None) or ()
        assertions.append(
            {
                "assertion": check.kind,
                "success": bool(result.passed),
                "column": column or (columns[0] if len(columns) == 1 else None),
                "severity": "error",
                "name": result.check,
                "actual": None if result.observed is None else str(result.observed),
            }
        )
    keys = [key for dt in sorted(keys_by_dt) for key in keys_by_dt[dt]]
    checked = zone_dataset(bucket, "curated", contract.name, locations=keys, files=len(keys))
    return Lineage(inputs=(replace(checked, assertions=tuple(assertions)),))


@_never_raises
def catalog_lineage(
    bucket: str,
    database: str,
    dataset: str,
    partitions: Sequence[Mapping[str, Any]],
    published: Mapping[str, Any],
    *,
    region: str | None,
) -> Lineage:
    """The curated files of the run -> the Glue table, with the partitions created or moved."""
    keys = [
        item["key"] if isinstance(item, Mapping) else str(item)
        for partition in partitions
        for item in partition.get("files") or []
    ]
    changed = [*published.get("created", []), *(moved["dt"] for moved in published.get("updated", []))]
    inputs = (zone_dataset(bucket, "curated", dataset, locations=keys, files=len(keys)),) if keys else ()
    table = table_dataset(
        region, database, dataset, storage=(bucket, f"curated/{dataset}"), partitions=map(str, changed)
    )
    return Lineage(inputs=inputs, outputs=(table,))


@_never_raises
def load_lineage(
    bucket: str,
    dataset: str,
    files: Sequence[str],
    connection: Any,
    table: str,
    rows: Mapping[str, Any] | None,
    *,
    region: str | None,
) -> Lineage:
    """Exactly the curated files loaded -> the warehouse table."""
    rows = rows or {}
    if not files:
        return Lineage()
    curated = zone_dataset(
        bucket, "curated", dataset, locations=files, rows=rows.get("staged"), files=len(files)
    )
    target = database_table(connection, table, region=region, rows=rows.get("deduplicated"))
    return Lineage(inputs=(curated,), outputs=(target,))


@_never_raises
def materialise_lineage(
    bucket: str, database: str, view: str, sql: str, result: Mapping[str, Any], *, region: str | None
) -> Lineage:
    """The Glue tables the view's SQL reads -> ``analytics/<view>`` and the view's Glue table (the day)."""
    from airlake.engines.base import referenced_tables

    _, key = split_s3_uri(str(result["location"]))
    written = zone_dataset(
        bucket,
        "analytics",
        view,
        locations=[f"{key.rstrip('/')}/"],
        rows=result.get("rows"),
        size=result.get("bytes"),
        files=1,
    )
    table = table_dataset(
        region,
        database,
        view,
        storage=(bucket, f"analytics/{view}"),
        partitions=[str(result["dt"])],
        rows=result.get("rows"),
    )
    inputs = qualified_tables(region, referenced_tables(sql, database), database)
    return Lineage(inputs=tuple(inputs), outputs=(written, table))


@_never_raises
def report_lineage(
    bucket: str, database: str, queries: Iterable[str], keys: Iterable[str], *, region: str | None
) -> Lineage:
    """The view tables the report's queries read -> ``reports/business`` (the week's JSON and HTML)."""
    from airlake.engines.base import referenced_tables

    names = sorted({name for sql in queries for name in referenced_tables(sql, database)})
    keys = sorted(keys)
    report = s3_dataset(bucket, "reports/business", locations=keys, files=len(keys))
    return Lineage(inputs=tuple(qualified_tables(region, names, database)), outputs=(report,))


@_never_raises
def storage_report_lineage(bucket: str, keys: Iterable[str]) -> Lineage:
    """The storage report's JSON and HTML (it lists the bucket's metadata; it reads no dataset)."""
    keys = sorted(keys)
    return Lineage(outputs=(s3_dataset(bucket, "reports/storage", locations=keys, files=len(keys)),))


@_never_raises
def cleanup_lineage(bucket: str, results: Mapping[str, Mapping[str, Any]], *, dry_run: bool) -> Lineage:
    """Each deleted version prefix as a dropped dataset (S3DeleteObjectsOperator reports deleted keys so)."""
    if dry_run:
        return Lineage()
    dropped = [
        LineageDataset(
            namespace=f"s3://{bucket}",
            name=str(item["prefix"]).strip("/"),
            files=item.get("objects"),
            size=item.get("bytes"),
            dropped=True,
        )
        for result in results.values()
        for item in result.get("deleted") or []
    ]
    return Lineage(inputs=tuple(dropped))


@_never_raises
def compaction_lineage(
    bucket: str,
    database: str,
    results: Mapping[str, Mapping[str, Any]],
    *,
    dry_run: bool,
    region: str | None,
) -> Lineage:
    """Per dataset: the live versions read -> the compacted versions written and their Glue partitions."""
    if dry_run:
        return Lineage()
    inputs: list[LineageDataset] = []
    outputs: list[LineageDataset] = []
    for dataset, result in sorted(results.items()):
        compacted = list(result.get("compacted") or [])
        if not compacted:
            continue
        read = [split_s3_uri(str(entry["previous_location"]))[1].rstrip("/") + "/" for entry in compacted]
        written = [key for entry in compacted for key in entry.get("files") or []]
        inputs.append(zone_dataset(bucket, "curated", dataset, locations=read))
        outputs.append(
            zone_dataset(
                bucket,
                "curated",
                dataset,
                locations=written,
                rows=_sum(compacted, "rows"),
                size=_sum(compacted, "bytes_after"),
                files=len(written),
            )
        )
        outputs.append(
            table_dataset(
                region,
                database,
                dataset,
                storage=(bucket, f"curated/{dataset}"),
                partitions=[str(entry["dt"]) for entry in compacted],
            )
        )
    return Lineage(inputs=tuple(inputs), outputs=tuple(outputs))


def region_of(hook: Any) -> str | None:
    """The region the hook's client uses (the connection's, else the environment's), None if unknown."""
    try:
        return hook.conn_region_name or hook.region_name
    except Exception:
        log.debug("OpenLineage: no region from %r", hook, exc_info=True)
        return None


# --------------------------------------------------------------------------------------------------
# Conversion to the OpenLineage provider's types (imported here only: operators stay light to parse)
# --------------------------------------------------------------------------------------------------


def operator_lineage(lineage: Lineage | None) -> OperatorLineage:
    """``OperatorLineage`` of the recorded datasets; empty when nothing was recorded."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    if lineage is None:
        return OperatorLineage()
    return OperatorLineage(
        inputs=[_input_dataset(item) for item in lineage.inputs],
        outputs=[_output_dataset(item) for item in lineage.outputs],
    )


def _dataset_facets(item: LineageDataset) -> dict[str, Any]:
    from airflow.providers.common.compat.openlineage.facet import (
        Identifier,
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
        PreviousIdentifier,
        SymlinksDatasetFacet,
    )

    facets: dict[str, Any] = {}
    if item.symlink is not None:
        namespace, name = item.symlink
        facets["symlinks"] = SymlinksDatasetFacet(
            identifiers=[Identifier(namespace=namespace, name=name, type="TABLE")]
        )
    if item.dropped:
        facets["lifecycleStateChange"] = LifecycleStateChangeDatasetFacet(
            lifecycleStateChange=LifecycleStateChange.DROP.value,
            previousIdentifier=PreviousIdentifier(namespace=item.namespace, name=item.name),
        )
    return facets


def _subset_condition(item: LineageDataset) -> Any:
    from openlineage.client.facet_v2 import base_subset_dataset as subset

    if item.partitions:
        return subset.PartitionSubsetCondition(
            partitions=[
                subset.Partition(dimensions={PARTITION_COLUMN: dt}, identifier=f"{PARTITION_COLUMN}={dt}")
                for dt in item.partitions
            ]
        )
    if item.locations:
        return subset.LocationSubsetCondition(locations=list(item.locations))
    return None


def _has_stats(item: LineageDataset) -> bool:
    return any(value is not None for value in (item.rows, item.size, item.files))


def _input_dataset(item: LineageDataset) -> Any:
    from airflow.providers.common.compat.openlineage.facet import InputDataset
    from openlineage.client.facet_v2 import (
        base_subset_dataset,
        data_quality_assertions_dataset,
        input_statistics_input_dataset,
    )

    facets: dict[str, Any] = {}
    condition = _subset_condition(item)
    if condition is not None:
        facets["subset"] = base_subset_dataset.InputSubsetInputDatasetFacet(inputCondition=condition)
    if _has_stats(item) and not item.dropped:
        facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
            rowCount=item.rows, size=item.size, fileCount=item.files
        )
    if item.assertions:
        facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=[data_quality_assertions_dataset.Assertion(**a) for a in item.assertions]
        )
    return InputDataset(
        namespace=item.namespace, name=item.name, facets=_dataset_facets(item), inputFacets=facets
    )


def _output_dataset(item: LineageDataset) -> Any:
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )
    from openlineage.client.facet_v2 import base_subset_dataset

    facets: dict[str, Any] = {}
    condition = _subset_condition(item)
    if condition is not None:
        facets["subset"] = base_subset_dataset.OutputSubsetOutputDatasetFacet(outputCondition=condition)
    if _has_stats(item):
        facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=item.rows, size=item.size, fileCount=item.files
        )
    return OutputDataset(
        namespace=item.namespace, name=item.name, facets=_dataset_facets(item), outputFacets=facets
    )
