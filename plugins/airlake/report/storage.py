"""Storage and cost report: what the lake holds per zone, dataset and storage class, and what it costs.

The bucket is listed page by page (ListObjectsV2, 1000 keys a page) and each object only adds to a
counter keyed by (zone, dataset, storage class): memory grows with the number of datasets, never with
the number of objects, so a lake of millions of objects is reported in flat memory. The newest
materialise manifest of each view is noticed on the way and read afterwards for the bytes Athena
scanned. Costs come from the price table (:mod:`airlake.report.pricing`).

The report is written into the lake as ``reports/storage/<date>/report.json`` and ``report.html``
(server-side encrypted, through :class:`~airlake.store.LakeStore`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from airlake.lake import MANIFESTS, key_zone, parse_manifest_key, report_file_keys, report_prefix, s3_uri

if TYPE_CHECKING:
    from airlake.report.pricing import PriceTable, RegionPrices
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

ZONES = ("landing", "raw", "curated", "quarantine", "analytics", "_manifests", "_state", "reports")
"""Top-level prefixes of the lake (``landing``: files sources drop in the lake bucket), in the order the
report shows them; anything else is ``other``."""
OTHER_ZONE = "other"
NO_DATASET = "-"
DEFAULT_CLASS = "STANDARD"
REPORT_KIND = "storage"
SCAN_STAGES = ("materialise",)
"""Stages whose manifests record ``bytes_scanned`` (the query engine's, Athena on AWS)."""
SCHEMA_VERSION = 1
DEFAULT_RUNS_PER_MONTH = 30
"""Views are materialised once a day: the last run's scan times 30 is the monthly estimate."""
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def report_keys(report_date: str) -> tuple[str, str]:
    """``reports/storage/<date>/report.json`` and ``.../report.html``."""
    if not _DATE.match(report_date or ""):
        raise ValueError(f"report date must be YYYY-MM-DD, got {report_date!r}")
    date.fromisoformat(report_date)
    return report_file_keys(report_prefix(REPORT_KIND, report_date))


def classify(key: str) -> tuple[str, str]:
    """(zone, dataset) of a key: ``curated/orders/dt=.../x`` -> (``curated``, ``orders``).

    Keys outside the known zones are ``other``, with their top-level folder as the dataset."""
    head, dataset = key_zone(key)
    if head in ZONES:
        return head, dataset or NO_DATASET
    return OTHER_ZONE, head if "/" in key else NO_DATASET


@dataclass
class Usage:
    """Objects and bytes."""

    objects: int = 0
    bytes: int = 0

    def add(self, size: int, objects: int = 1) -> None:
        self.objects += objects
        self.bytes += size


@dataclass(frozen=True)
class ScanManifest:
    """The newest manifest of a stage that records ``bytes_scanned``."""

    bucket: str
    key: str
    dataset: str
    last_modified: datetime


@dataclass
class UsageScan:
    """Aggregates of one or more bucket listings; bounded by datasets x storage classes."""

    cells: dict[tuple[str, str, str], Usage] = field(default_factory=dict)
    buckets: dict[str, Usage] = field(default_factory=dict)
    scan_manifests: dict[str, ScanManifest] = field(default_factory=dict)

    def add(self, bucket: str, item: Mapping[str, Any]) -> None:
        """One ListObjectsV2 ``Contents`` entry."""
        key, size = item["Key"], int(item["Size"])
        storage_class = item.get("StorageClass") or DEFAULT_CLASS
        zone, dataset = classify(key)
        self.cells.setdefault((zone, dataset, storage_class), Usage()).add(size)
        self.buckets.setdefault(bucket, Usage()).add(size)
        if zone == MANIFESTS:
            self._notice_manifest(bucket, key, item.get("LastModified"))

    def _notice_manifest(self, bucket: str, key: str, modified: datetime | None) -> None:
        parsed = parse_manifest_key(key)
        if parsed is None or parsed[2] not in SCAN_STAGES:
            return
        moment = modified or datetime.min.replace(tzinfo=UTC)
        dataset = parsed[0]
        seen = self.scan_manifests.get(dataset)
        if seen is None or (moment, key) > (seen.last_modified, seen.key):
            self.scan_manifests[dataset] = ScanManifest(bucket, key, dataset, moment)

    @property
    def total(self) -> Usage:
        total = Usage()
        for usage in self.cells.values():
            total.add(usage.bytes, usage.objects)
        return total


def iter_objects(client: Any, bucket: str, prefix: str = "", *, page_size: int = 1000) -> Iterator[dict]:
    """Every object of a bucket (or under a prefix), one ListObjectsV2 page at a time.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.list_objects_v2`
    """
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size})
    for page in pages:
        yield from page.get("Contents", [])


def scan_buckets(client: Any, buckets: Iterable[str], *, page_size: int = 1000) -> UsageScan:
    """List each bucket completely and aggregate it (see :class:`UsageScan`)."""
    scan = UsageScan()
    for bucket in dict.fromkeys(buckets):
        for item in iter_objects(client, bucket, page_size=page_size):
            scan.add(bucket, item)
        scan.buckets.setdefault(bucket, Usage())
    return scan


# --------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------


def _zone_order(zone: str) -> int:
    return ZONES.index(zone) if zone in ZONES else len(ZONES)


def _group(
    cells: Mapping[tuple[str, str, str], Usage],
    prices: RegionPrices,
    key_of: Any,
) -> dict[Any, dict[str, Any]]:
    """Usage and cost per group, with the split by storage class inside each group."""
    groups: dict[Any, dict[str, Any]] = {}
    for (zone, dataset, storage_class), usage in cells.items():
        group_key = key_of(zone, dataset, storage_class)
        entry = groups.setdefault(
            group_key, {"objects": 0, "bytes": 0, "monthly_cost_usd": 0.0, "by_storage_class": {}}
        )
        cost = prices.storage_cost(usage.bytes, storage_class)
        entry["objects"] += usage.objects
        entry["bytes"] += usage.bytes
        entry["monthly_cost_usd"] += cost or 0.0
        split = entry["by_storage_class"].setdefault(
            storage_class, {"objects": 0, "bytes": 0, "monthly_cost_usd": 0.0}
        )
        split["objects"] += usage.objects
        split["bytes"] += usage.bytes
        split["monthly_cost_usd"] = None if cost is None else (split["monthly_cost_usd"] or 0.0) + cost
    for entry in groups.values():
        entry["by_storage_class"] = dict(sorted(entry["by_storage_class"].items()))
    return groups


def athena_section(
    queries: list[dict[str, Any]], prices: RegionPrices, *, runs_per_month: int
) -> dict[str, Any]:
    """Bytes scanned by the last run of each view, what Athena bills for them, and a monthly estimate."""
    total_scanned = total_billed = 0
    total_cost = 0.0
    for query in queries:
        scanned = query.get("bytes_scanned")
        if scanned is None:
            query.update(billed_bytes=0, cost_usd=0.0)
            continue
        billed = prices.athena_billed_bytes(int(scanned))
        cost = prices.athena_cost(int(scanned))
        query.update(billed_bytes=billed, cost_usd=cost)
        total_scanned += int(scanned)
        total_billed += billed
        total_cost += cost
    return {
        "per_tb_scanned_usd": prices.athena_per_tb,
        "minimum_mb_per_query": prices.athena_minimum_mb,
        "queries": queries,
        "last_run_bytes_scanned": total_scanned,
        "last_run_billed_bytes": total_billed,
        "last_run_cost_usd": total_cost,
        "runs_per_month": runs_per_month,
        "monthly_cost_usd": total_cost * runs_per_month,
    }


def read_scan_manifests(store: LakeStore, scan: UsageScan) -> list[dict[str, Any]]:
    """The newest materialise manifest of each view: what it scanned, when, for which run."""
    from airlake.store import LakeStore

    queries: list[dict[str, Any]] = []
    for dataset, ref in sorted(scan.scan_manifests.items()):
        source = store
        if ref.bucket != store.bucket:
            source = LakeStore(store.hook, ref.bucket)
        document = source.get_json(ref.key) or {}
        scanned = document.get("bytes_scanned")
        queries.append(
            {
                "view": str(document.get("table") or dataset),
                "manifest": s3_uri(ref.bucket, ref.key),
                "run_id": document.get("run_id"),
                "dt": (document.get("interval") or {}).get("ds"),
                "status": document.get("status"),
                "finished_at": document.get("finished_at"),
                "bytes_scanned": None if scanned is None else int(scanned),
            }
        )
    return queries


def build_document(
    scan: UsageScan,
    price_table: PriceTable,
    region: str,
    *,
    report_date: str,
    athena_queries: list[dict[str, Any]] | None = None,
    runs_per_month: int = DEFAULT_RUNS_PER_MONTH,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The JSON report from aggregates and prices (pure: no I/O)."""
    prices = price_table.region(region)
    warnings: list[str] = []
    by_class_usage: dict[str, Usage] = {}
    for (_zone, _dataset, storage_class), usage in scan.cells.items():
        by_class_usage.setdefault(storage_class, Usage()).add(usage.bytes, usage.objects)
    for storage_class, usage in sorted(by_class_usage.items()):
        if storage_class not in prices.storage_gb_month:
            warnings.append(
                f"no {region} price for storage class {storage_class}: its {usage.bytes:,} bytes "
                f"({usage.objects:,} objects) are left out of the cost"
            )

    zones = _group(scan.cells, prices, lambda zone, _d, _c: zone)
    datasets = _group(scan.cells, prices, lambda zone, dataset, _c: (zone, dataset))
    storage_cost = sum(entry["monthly_cost_usd"] for entry in zones.values())
    athena = athena_section(list(athena_queries or []), prices, runs_per_month=runs_per_month)
    for query in athena["queries"]:
        if query["bytes_scanned"] is None:
            warnings.append(f"manifest {query['manifest']} records no bytes_scanned")
    total = scan.total
    return {
        "report": "storage",
        "schema_version": SCHEMA_VERSION,
        "date": report_date,
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(),
        "buckets": [
            {"bucket": name, "objects": usage.objects, "bytes": usage.bytes}
            for name, usage in scan.buckets.items()
        ],
        "pricing": price_table.describe(region),
        "totals": {
            "objects": total.objects,
            "bytes": total.bytes,
            "storage_monthly_cost_usd": storage_cost,
            "athena_monthly_cost_usd": athena["monthly_cost_usd"],
            "monthly_cost_usd": storage_cost + athena["monthly_cost_usd"],
        },
        "by_zone": [
            {"zone": zone, **entry}
            for zone, entry in sorted(zones.items(), key=lambda item: (_zone_order(item[0]), item[0]))
        ],
        "by_storage_class": [
            {
                "storage_class": storage_class,
                "objects": usage.objects,
                "bytes": usage.bytes,
                "price_gb_month": prices.storage_gb_month.get(storage_class),
                "monthly_cost_usd": prices.storage_cost(usage.bytes, storage_class),
            }
            for storage_class, usage in sorted(by_class_usage.items())
        ],
        "by_dataset": [
            {"zone": zone, "dataset": dataset, **entry}
            for (zone, dataset), entry in sorted(
                datasets.items(), key=lambda item: (_zone_order(item[0][0]), item[0])
            )
        ],
        "athena": athena,
        "warnings": warnings,
    }


def summary_lines(document: Mapping[str, Any]) -> list[str]:
    """A few lines for the task log: totals, per zone, per storage class, Athena."""
    from airlake.report.html import human_bytes, usd

    totals = document["totals"]
    lines = [
        f"Storage report {document['date']} ({document['pricing']['region']}, prices as of "
        f"{document['pricing']['as_of']}): {totals['objects']:,} objects, {human_bytes(totals['bytes'])}, "
        f"{usd(totals['monthly_cost_usd'])}/month (storage {usd(totals['storage_monthly_cost_usd'])}, "
        f"Athena {usd(totals['athena_monthly_cost_usd'])})"
    ]
    for zone in document["by_zone"]:
        lines.append(
            f"  zone {zone['zone']:<11} {zone['objects']:>12,} objects {human_bytes(zone['bytes']):>11} "
            f"{usd(zone['monthly_cost_usd']):>12}/month"
        )
    for entry in document["by_storage_class"]:
        lines.append(
            f"  class {entry['storage_class']:<19} {entry['objects']:>12,} objects "
            f"{human_bytes(entry['bytes']):>11}"
        )
    athena = document["athena"]
    lines.append(
        f"  Athena last run: {human_bytes(athena['last_run_bytes_scanned'])} scanned by "
        f"{len(athena['queries'])} view(s), {usd(athena['last_run_cost_usd'])}"
    )
    lines.extend(f"  warning: {warning}" for warning in document["warnings"])
    return lines


def storage_report(
    store: LakeStore,
    *,
    report_date: str,
    region: str,
    price_table: PriceTable | None = None,
    buckets: Iterable[str] | None = None,
    runs_per_month: int = DEFAULT_RUNS_PER_MONTH,
    page_size: int = 1000,
    now: datetime | None = None,
) -> dict[str, Any]:
    """
    List the lake, price it, and write ``reports/storage/<date>/report.json`` and ``report.html``.

    :param store: the lake bucket; the report is written into it (server-side encrypted).
    :param report_date: the report's day, ``YYYY-MM-DD`` (a rerun of the same day replaces it).
    :param region: the price table region (``eu-west-1``, ``us-east-1``, ...).
    :param price_table: prices; default :func:`~airlake.report.pricing.load_price_table`.
    :param buckets: buckets to list when zones live in several; default the lake bucket only.
    :param runs_per_month: view runs per month, to turn the last run's Athena scan into a month.
    :param page_size: keys per ListObjectsV2 page.
    :param now: the generation time written into the report (tests).
    :return: the JSON document plus ``json_key`` and ``html_key``.
    """
    from airlake.report.html import render_html
    from airlake.report.pricing import load_price_table

    json_key, html_key = report_keys(report_date)
    table = price_table or load_price_table()
    table.region(region)  # fail before listing millions of objects
    scan = scan_buckets(store.client, buckets or [store.bucket], page_size=page_size)
    document = build_document(
        scan,
        table,
        region,
        report_date=report_date,
        athena_queries=read_scan_manifests(store, scan),
        runs_per_month=runs_per_month,
        generated_at=now,
    )
    store.put_json(json_key, document)
    store.put_bytes(html_key, render_html(document).encode("utf-8"), content_type="text/html; charset=utf-8")
    log.info("Wrote s3://%s/%s and %s", store.bucket, json_key, html_key)
    return {**document, "json_key": json_key, "html_key": html_key}
