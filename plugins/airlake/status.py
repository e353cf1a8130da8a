"""What the Lake page shows: per dataset freshness, the last runs' row accounting, Glue and storage.

Everything here is read from the lake as it is, never recomputed from data: the last published
partition and the partition count come from Glue, the row accounting and the quarantine reasons from
the runs' curate manifests (``_manifests/<dataset>/<run>/curate.json``), a few sample rejects from the
newest quarantine file, bytes and monthly cost per storage class from the newest storage report
(``reports/storage/<date>/report.json``), and the newest business report's keys. The page (and its JSON)
show this document as it is: the browser computes nothing.

Reads are bounded so that a page view stays cheap however large the lake grows: at most ``max_keys``
keys of each dataset's manifest folder are listed, ``runs`` curate records and one rejects file are read,
Glue is paged up to ``max_partitions``; whatever hits a bound is flagged ``truncated``. The caller caches
the document for a short time (:class:`StatusCache`).

Plain Python on boto3-style clients (no Airflow), so it is tested on a lake the operators filled.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airlake.lake import manifests_prefix
from airlake.manifest import CATALOG, CURATE, CatalogRecord, CurateRecord, is_complete, read_record

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

SCHEMA_VERSION = 1
RUNS = 5
"""Curate runs shown per dataset, newest first."""
SAMPLES = 3
"""Sample rejects shown per dataset (from its newest run that quarantined rows)."""
TOP_REASONS = 5
MAX_KEYS = 5000
"""Keys listed per dataset under ``_manifests/<dataset>/`` (about 12 per daily run: a year and more)."""
MAX_PARTITIONS = 10_000
MAX_REPORT_KEYS = 2000
RAW_SAMPLE_CHARS = 200
"""A sample reject's raw text is cut to this many characters (the quarantine file keeps it whole)."""
STORAGE_REPORTS = "reports/storage/"
BUSINESS_REPORTS = "reports/business/"
_STORAGE_JSON = re.compile(r"^reports/storage/(\d{4}-\d{2}-\d{2})/report\.json$")
_BUSINESS_JSON = re.compile(r"^reports/business/week=(\d{4}-\d{2}-\d{2})/report\.json$")
_SCHEDULE_HOURS = {"@daily": 24.0, "@hourly": 24.0, "@weekly": 168.0}
"""Without a freshness check, a dataset is due one schedule period (at least a day: partitions are days)
after its last partition's day ended."""

FRESH, STALE, NO_DATA, NO_RULE = "fresh", "stale", "no data", "no rule"


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    last_modified: datetime


def list_bounded(client: Any, bucket: str, prefix: str, *, limit: int) -> tuple[list[Listed], bool]:
    """At most ``limit`` keys under ``prefix`` (key order) with their LastModified; True when cut."""
    found: list[Listed] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": min(1000, limit + 1)}
        if token:
            kwargs["ContinuationToken"] = token
        page = client.list_objects_v2(**kwargs)
        for item in page.get("Contents", []):
            if len(found) == limit:
                return found, True
            found.append(Listed(item["Key"], int(item["Size"]), item["LastModified"]))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return found, False


# --------------------------------------------------------------------------------------------------
# Glue
# --------------------------------------------------------------------------------------------------


def glue_partitions(glue: Any, database: str, table: str, *, limit: int = MAX_PARTITIONS) -> dict[str, Any]:
    """Partition count, the newest ``dt`` and its location, as Glue says (paged, at most ``limit``)."""
    count, newest, location, truncated = 0, None, None, False
    token: str | None = None
    try:
        while True:
            kwargs: dict[str, Any] = {"DatabaseName": database, "TableName": table, "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            page = glue.get_partitions(**kwargs)
            for partition in page.get("Partitions", []):
                if count == limit:
                    truncated = True
                    break
                count += 1
                value = partition["Values"][0]
                if newest is None or value > newest:
                    newest, location = value, partition.get("StorageDescriptor", {}).get("Location")
            token = page.get("NextToken")
            if truncated or not token:
                break
    except glue.exceptions.EntityNotFoundException:
        return {
            "table_exists": False,
            "partitions": 0,
            "last_partition": None,
            "location": None,
            "truncated": False,
        }
    return {
        "table_exists": True,
        "partitions": count,
        "last_partition": newest,
        "location": location,
        "truncated": truncated,
    }


# --------------------------------------------------------------------------------------------------
# Manifests: the last curate runs
# --------------------------------------------------------------------------------------------------


def _run_folders(listed: Iterable[Listed], dataset: str) -> dict[str, dict[str, Listed]]:
    """``{run folder: {stage: its <stage>.json}}`` from a listing of ``_manifests/<dataset>/``."""
    base = manifests_prefix(dataset)
    folders: dict[str, dict[str, Listed]] = {}
    for item in listed:
        parts = item.key[len(base) :].split("/")
        if len(parts) == 2 and parts[1].endswith(".json"):
            folders.setdefault(parts[0], {})[parts[1][: -len(".json")]] = item
    return folders


def _run_entry(store: LakeStore, dataset: str, folder: str, stages: Mapping[str, Listed]) -> dict[str, Any]:
    curate = read_record(store, dataset, folder, CurateRecord) or CurateRecord.parse({"run_id": folder})
    catalog = read_record(store, dataset, folder, CatalogRecord) if CATALOG in stages else None
    quarantine = curate.quarantine
    return {
        "run_id": curate.run_id or folder,
        "status": curate.status,
        "finished_at": curate.finished_at or None,
        "published": is_complete(catalog),
        "rows": {
            "read": curate.row("read"),
            "written": curate.row("written"),
            "quarantined": curate.row("quarantined"),
            "duplicates": curate.row("duplicates_dropped"),
        },
        "reject_rate": curate.reject_rate,
        "reasons": dict(quarantine.reasons) if quarantine else {},
        "quarantine_key": quarantine.key if quarantine else None,
        "manifest": f"{manifests_prefix(dataset)}{folder}/{CURATE}.json",
    }


def sample_rejects(store: LakeStore, key: str, *, limit: int = SAMPLES) -> list[dict[str, Any]]:
    """The first ``limit`` rejects of a quarantine file, read as a stream (only the bytes needed)."""
    body = store.client.get_object(Bucket=store.bucket, Key=key)["Body"]
    samples: list[dict[str, Any]] = []
    try:
        with gzip.GzipFile(fileobj=body) as lines:
            for line in lines:
                if len(samples) == limit:
                    break
                if not line.strip():
                    continue
                record = json.loads(line)
                raw = str(record.get("raw", ""))
                samples.append(
                    {
                        "source": record.get("source"),
                        "line": record.get("line"),
                        "reason": record.get("reason"),
                        "field": record.get("field"),
                        "message": record.get("message"),
                        "raw": raw
                        if len(raw) <= RAW_SAMPLE_CHARS
                        else raw[: RAW_SAMPLE_CHARS - 1] + "\u2026",
                    }
                )
    finally:
        body.close()
    return samples


# --------------------------------------------------------------------------------------------------
# Freshness
# --------------------------------------------------------------------------------------------------


def freshness_rule(contract: Contract) -> tuple[float | None, str]:
    """Hours a dataset may lag: its freshness check's ``max_delay_hours``, else one schedule period."""
    for check in contract.quality.checks:
        if check.kind == "freshness":
            return float(check.max_delay_hours), "quality check freshness"
    hours = _SCHEDULE_HOURS.get(contract.schedule)
    return (hours, f"schedule {contract.schedule}") if hours else (None, f"schedule {contract.schedule}")


def freshness(contract: Contract, last_partition: str | None, now: datetime) -> dict[str, Any]:
    """The last partition's age (hours since its day ended, UTC) against the dataset's rule."""
    rule, source = freshness_rule(contract)
    if last_partition is None:
        return {"rule_hours": rule, "rule": source, "age_hours": None, "status": NO_DATA}
    ended = datetime.combine(date.fromisoformat(last_partition), datetime.min.time(), UTC) + timedelta(days=1)
    age = round((now - ended).total_seconds() / 3600, 1)
    status = NO_RULE if rule is None else (FRESH if age <= rule else STALE)
    return {"rule_hours": rule, "rule": source, "age_hours": age, "status": status}


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------


def latest_report(store: LakeStore, prefix: str, pattern: re.Pattern[str]) -> tuple[str, str] | None:
    """(date, json key) of the newest report under ``prefix`` (by the date in its key), None if none."""
    listed, _cut = list_bounded(store.client, store.bucket, prefix, limit=MAX_REPORT_KEYS)
    found = [(m.group(1), item.key) for item in listed if (m := pattern.match(item.key))]
    return max(found) if found else None


def _storage_section(store: LakeStore) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    newest = latest_report(store, STORAGE_REPORTS, _STORAGE_JSON)
    if newest is None:
        return None, None
    report_date, key = newest
    document = store.get_json(key) or {}
    section = {
        "date": report_date,
        "generated_at": document.get("generated_at"),
        "json_key": key,
        "html_key": key[: -len(".json")] + ".html",
        "totals": document.get("totals"),
        "by_storage_class": [
            {
                "storage_class": entry["storage_class"],
                "bytes": entry["bytes"],
                "monthly_cost_usd": entry["monthly_cost_usd"],
            }
            for entry in document.get("by_storage_class", [])
        ],
    }
    return section, document


def dataset_storage(document: Mapping[str, Any] | None, dataset: str) -> dict[str, Any] | None:
    """Bytes and monthly cost per storage class of one dataset over every zone, as the report says."""
    if document is None:
        return None
    classes: dict[str, dict[str, Any]] = {}
    for entry in document.get("by_dataset", []):
        if entry.get("dataset") != dataset:
            continue
        for storage_class, split in (entry.get("by_storage_class") or {}).items():
            into = classes.setdefault(storage_class, {"bytes": 0, "monthly_cost_usd": 0.0})
            into["bytes"] += int(split["bytes"])
            cost = split.get("monthly_cost_usd")
            into["monthly_cost_usd"] = (
                None
                if cost is None or into["monthly_cost_usd"] is None
                else (into["monthly_cost_usd"] + cost)
            )
    rows = [{"storage_class": name, **value} for name, value in sorted(classes.items())]
    return {
        "bytes": sum(row["bytes"] for row in rows),
        "monthly_cost_usd": sum(row["monthly_cost_usd"] or 0.0 for row in rows),
        "by_storage_class": rows,
    }


def _business_section(store: LakeStore) -> dict[str, Any] | None:
    newest = latest_report(store, BUSINESS_REPORTS, _BUSINESS_JSON)
    if newest is None:
        return None
    week, key = newest
    return {"week_start": week, "json_key": key, "html_key": key[: -len(".json")] + ".html"}


# --------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------


def dataset_status(
    store: LakeStore,
    glue: Any,
    database: str,
    contract: Contract,
    *,
    now: datetime,
    storage_document: Mapping[str, Any] | None,
    runs: int = RUNS,
    samples: int = SAMPLES,
    max_keys: int = MAX_KEYS,
) -> dict[str, Any]:
    """One dataset's row of the page."""
    name = contract.name
    catalog = glue_partitions(glue, database, name)
    listed, cut = list_bounded(store.client, store.bucket, manifests_prefix(name), limit=max_keys)
    folders = _run_folders(listed, name)
    curated = sorted(
        ((stages[CURATE].last_modified, folder) for folder, stages in folders.items() if CURATE in stages),
        reverse=True,
    )[:runs]
    entries = [_run_entry(store, name, folder, folders[folder]) for _at, folder in curated]
    # LastModified has whole seconds: the records' own finish times order runs of the same second
    entries.sort(key=lambda e: str(e["finished_at"] or ""), reverse=True)
    reasons: Counter[str] = Counter()
    for entry in entries:
        reasons.update(entry["reasons"])
    with_rejects = next((e for e in entries if e["rows"]["quarantined"] and e["quarantine_key"]), None)
    return {
        "dataset": name,
        "owner": contract.owner,
        "schedule": contract.schedule,
        "freshness": {
            "last_partition": catalog["last_partition"],
            **freshness(contract, catalog["last_partition"], now),
        },
        "glue": {"database": database, "table": name, **catalog},
        "runs": [{k: v for k, v in e.items() if k != "reasons"} for e in entries],
        "runs_listing_truncated": cut,
        "quarantine": {
            "top_reasons": [
                {"reason": r, "rows": n} for r, n in sorted(reasons.items(), key=lambda i: (-i[1], i[0]))
            ][:TOP_REASONS],
            "samples_from": with_rejects and with_rejects["quarantine_key"],
            "samples": sample_rejects(store, with_rejects["quarantine_key"], limit=samples)
            if with_rejects
            else [],
        },
        "storage": dataset_storage(storage_document, name),
    }


def lake_status(
    store: LakeStore,
    glue: Any,
    database: str,
    contracts: Iterable[Contract],
    *,
    now: datetime,
    runs: int = RUNS,
    samples: int = SAMPLES,
    max_keys: int = MAX_KEYS,
) -> dict[str, Any]:
    """
    The whole page as one JSON-ready document.

    :param now: the time ages are measured at (given, so that tests do not depend on today).
    """
    storage, storage_document = _storage_section(store)
    return {
        "schema_version": SCHEMA_VERSION,
        "as_of": now.astimezone(UTC).isoformat(timespec="seconds"),
        "bucket": store.bucket,
        "glue_database": database,
        "datasets": [
            dataset_status(
                store,
                glue,
                database,
                contract,
                now=now,
                storage_document=storage_document,
                runs=runs,
                samples=samples,
                max_keys=max_keys,
            )
            for contract in sorted(contracts, key=lambda c: c.name)
        ],
        "storage_report": storage,
        "business_report": _business_section(store),
        "limits": {"runs": runs, "samples": samples, "max_keys": max_keys, "max_partitions": MAX_PARTITIONS},
    }


class StatusCache:
    """The last document for ``ttl`` seconds: page views within that time cost no lake read."""

    def __init__(self, build: Callable[[], dict[str, Any]], *, ttl: float = 30.0) -> None:
        self._build, self._ttl = build, ttl
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None
        self._at = 0.0

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self._ttl:
                self._value = self._build()
                self._at = time.monotonic()
            return self._value
