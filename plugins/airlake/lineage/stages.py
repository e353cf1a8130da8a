"""One lineage builder per stage, called at the end of each operator's ``execute`` with what it holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airlake.lake import curated_dataset_prefix, s3_prefix
from airlake.lineage.naming import (
    database_table,
    qualified_tables,
    s3_dataset,
    source_dataset,
    table_dataset,
    zone_dataset,
)
from airlake.lineage.records import Lineage, LineageDataset, _never_raises
from airlake.manifest import CuratedPartition, CurateRecord, IngestRecord

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore


def _sum(items: Iterable[Mapping[str, Any]], key: str) -> int | None:
    """The total of ``key`` over the items that have it; None when none has it."""
    values = [int(item[key]) for item in items if item.get(key) is not None]
    return sum(values) if values else None


@_never_raises
def ingest_lineage(
    contract: Contract,
    store: LakeStore,
    summary: Mapping[str, Any],
    *,
    region: str | None,
    record: IngestRecord | None = None,
) -> Lineage:
    """Source -> ``raw/<dataset>`` (the run's parts), from the run's ingest record (``record``, else the
    one ``summary["manifest"]`` names). A run that was already complete (``skipped``) read and wrote
    nothing."""
    if summary.get("skipped") or not summary.get("manifest"):
        return Lineage()
    record = record or IngestRecord.parse(_named(store, summary))
    connection = None
    if contract.source.kind == "database":
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(contract.source.conn_id)
    source = source_dataset(
        contract,
        record.source,
        bucket=store.bucket,
        region=region,
        keys=[item["key"] for item in record.inputs if "key" in item],
        rows=record.rows.get("read"),
        connection=connection,
    )
    parts = record.parts
    raw = zone_dataset(
        store.bucket,
        "raw",
        contract.name,
        locations=[part.key for part in parts],
        rows=record.rows.get("landed"),
        size=_sum(record.outputs, "bytes"),
        files=len(parts),
    )
    return Lineage(inputs=(source,), outputs=(raw,) if parts else ())


@_never_raises
def curate_lineage(
    store: LakeStore, dataset: str, summary: Mapping[str, Any], *, record: CurateRecord | None = None
) -> Lineage:
    """``raw/<dataset>`` (the parts read) -> ``curated/<dataset>`` (the new version files) and
    ``quarantine/<dataset>`` (the rejects), from the run's curate record (``record``, else the one
    ``summary["manifest"]`` names)."""
    record = record or CurateRecord.parse(_named(store, summary))
    read = [item for item in record.inputs if item.get("key")]
    inputs: tuple[LineageDataset, ...] = ()
    if read:
        inputs = (
            zone_dataset(
                store.bucket,
                "raw",
                dataset,
                locations=[item["key"] for item in read],
                rows=record.rows.get("read"),
                size=_sum(read, "bytes"),
                files=len(read),
            ),
        )
    outputs: list[LineageDataset] = []
    for zone, items in (("curated", record.curated_outputs()), ("quarantine", record.quarantine_outputs())):
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


def _named(store: LakeStore, summary: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record a stage's summary names (``manifest``: its key), for a caller that does not hold it."""
    return store.get_json(summary["manifest"]) or {}


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
    partitions: Sequence[CuratedPartition],
    published: Mapping[str, Any],
    *,
    region: str | None,
) -> Lineage:
    """The curated files of the run -> the Glue table, with the partitions created or moved."""
    keys = [key for partition in partitions for key in partition.files]
    changed = [*published.get("created", []), *(moved["dt"] for moved in published.get("updated", []))]
    inputs = (zone_dataset(bucket, "curated", dataset, locations=keys, files=len(keys)),) if keys else ()
    table = table_dataset(
        region,
        database,
        dataset,
        storage=(bucket, curated_dataset_prefix(dataset)),
        partitions=map(str, changed),
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

    _, prefix = s3_prefix(str(result["location"]))
    written = zone_dataset(
        bucket,
        "analytics",
        view,
        locations=[prefix],
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
        read = [s3_prefix(str(entry["previous_location"]))[1] for entry in compacted]
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
                storage=(bucket, curated_dataset_prefix(dataset)),
                partitions=[str(entry["dt"]) for entry in compacted],
            )
        )
    return Lineage(inputs=tuple(inputs), outputs=tuple(outputs))
