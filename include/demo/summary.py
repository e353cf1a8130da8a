"""What the demo prints at the end: the lake's zones and catalog, the warehouse, the answers, storage.

Everything is read back from where the DAGs wrote it (manifests, Glue, the reports in the lake, the
warehouse tables), so the printout shows what Airflow produced, not what the demo expects.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from airlake.report.business import unconverted_orders
from include.demo.publish import aws_client, pg_dsn

DATASETS = ("orders", "clickstream", "products", "fx_rates", "payments")


def _manifests(s3: Any, bucket: str, stage: str) -> list[dict[str, Any]]:
    """Every complete manifest of ``stage``, oldest run first."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="_manifests/"):
        for item in page.get("Contents", []):
            if item["Key"].endswith(f"/{stage}.json"):
                manifest = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                if manifest.get("status") == "complete":
                    found.append(manifest)
    return sorted(found, key=lambda m: m["started_at"])


def print_report(bucket: str, database: str, days: list[date]) -> None:
    """What the lake holds after the week: raw per day, curated and quarantined rows, Glue tables."""
    s3 = aws_client("s3")
    columns = [day.isoformat() for day in days]
    raw: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for manifest in _manifests(s3, bucket, "ingest"):
        raw[manifest["dataset"]][manifest["interval"]["start"][:10]] += manifest["rows"]["landed"]
    print("\nRaw zone: rows landed per data interval (from the ingest manifests)")
    print(f"{'dataset':<12}" + "".join(f"{c[5:]:>8}" for c in columns) + f"{'total':>9}")
    for dataset in DATASETS:
        rows = [raw[dataset].get(c, 0) for c in columns]
        print(f"{dataset:<12}" + "".join(f"{r:>8}" for r in rows) + f"{sum(rows):>9}")

    curated: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for manifest in _manifests(s3, bucket, "curate"):
        for key in ("read", "written", "quarantined", "duplicates_dropped"):
            curated[manifest["dataset"]][key] += manifest["rows"].get(key, 0)
        for reason, count in (manifest.get("quarantine") or {}).get("reasons", {}).items():
            reasons[manifest["dataset"]][reason] += count
    glue = aws_client("glue")
    print("\nCurated zone and catalog: read = written + quarantined + duplicates dropped")
    print(
        f"{'dataset':<12}{'read':>8}{'written':>9}{'quarant.':>9}{'dupes':>7}{'partitions':>11}  quarantine reasons"
    )
    for dataset in DATASETS:
        counts = curated[dataset]
        try:
            partitions = glue.get_partitions(DatabaseName=database, TableName=dataset)["Partitions"]
        except glue.exceptions.EntityNotFoundException:
            partitions = []
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons[dataset].items())) or "-"
        print(
            f"{dataset:<12}{counts['read']:>8}{counts['written']:>9}{counts['quarantined']:>9}"
            f"{counts['duplicates_dropped']:>7}{len(partitions):>11}  {why}"
        )
    print(
        f"\nGlue database {database!r}: tables point at s3://{bucket}/curated/<dataset>/dt=<day>/v=<version>/"
    )
    print_warehouse()


def _newest_report(s3: Any, bucket: str, prefix: str) -> tuple[str, dict[str, Any]] | None:
    """The newest ``report.json`` under ``prefix``: its key and document."""
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if item["Key"].endswith("/report.json")
    ]
    if not keys:
        return None
    key = max(keys)
    return key, json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _save_html(s3: Any, bucket: str, json_key: str, name: str) -> Path:
    """Copy a report's HTML page out of the (in-memory) lake into .local/reports/ to open in a browser."""
    folder = Path(os.environ["AIRLAKE_STATE"]) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    html_key = json_key.rsplit("/", 1)[0] + "/report.html"
    path.write_bytes(s3.get_object(Bucket=bucket, Key=html_key)["Body"].read())
    return path


def print_answers(bucket: str, week_start: date) -> None:
    """The shop's answers, from the weekly business report the Airflow DAG wrote into the lake."""
    s3 = aws_client("s3")
    found = _newest_report(s3, bucket, f"reports/business/week={week_start.isoformat()}/")
    if found is None:
        print(f"\nNo business report for the week of {week_start} (see business_weekly_report in the UI)")
        return
    key, report = found
    top = report["top_countries"][:5]
    print(
        "\nTop countries by revenue (EUR, via fx_rates): "
        + ", ".join(
            f"{r['country']} {'no FX rate' if r['revenue_eur'] is None else format(r['revenue_eur'], ',.2f')}"
            for r in top
        )
    )
    unconverted = {r["country"]: unconverted_orders(r) for r in report["top_countries"]}
    if any(unconverted.values()):
        print(
            "WARNING: revenue leaves out orders without an FX rate on their day: "
            + ", ".join(f"{country} {count}" for country, count in unconverted.items() if count)
        )
    print(
        "Funnel conversion (purchase / product-view sessions) per day: "
        + ", ".join(f"{r['dt'][5:]} {float(r['conversion_rate'] or 0):.1%}" for r in report["funnel"])
    )
    print(
        f"Most popular products, week of {week_start}: "
        + ", ".join(
            f"{r['product_name'] or r['product_id']} ({int(r['purchases'])} bought)"
            for r in report["top_products"][:5]
        )
    )
    print(
        f"Business report: s3://{bucket}/{key.rsplit('/', 1)[0]}/report.html -> {_save_html(s3, bucket, key, 'business-report.html')}"
    )


def print_storage(bucket: str) -> None:
    """Storage per zone and class and the monthly cost estimate, from the maintenance DAG's report."""
    s3 = aws_client("s3")
    found = _newest_report(s3, bucket, "reports/storage/")
    if found is None:
        print("\nNo storage report (see lake_maintenance_weekly in the UI)")
        return
    key, report = found
    totals, pricing = report["totals"], report["pricing"]
    print(
        f"\nStorage: {totals['objects']:,} objects, {totals['bytes'] / 2**20:,.1f} MiB; monthly cost estimate "
        f"${totals['monthly_cost_usd']:.4f} ({pricing['region']} prices as of {pricing['as_of']}; "
        f"Athena ${totals['athena_monthly_cost_usd']:.4f} of it)"
    )
    print(
        "  per storage class: "
        + ", ".join(
            f"{e['storage_class']} {e['objects']} objects {e['bytes'] / 2**20:,.2f} MiB"
            for e in report["by_storage_class"]
        )
    )
    print("  per zone: " + ", ".join(f"{z['zone']} {z['bytes'] / 2**20:,.2f} MiB" for z in report["by_zone"]))
    print(
        f"Storage report: s3://{bucket}/{key.rsplit('/', 1)[0]}/report.html -> {_save_html(s3, bucket, key, 'storage-report.html')}"
    )


def print_warehouse() -> None:
    """Rows in the warehouse tables (PostgreSQL standing in for Redshift): one row per key."""
    import psycopg

    with psycopg.connect(pg_dsn("warehouse")) as conn:
        counts = {
            dataset: conn.execute(f'select count(*) from "{dataset}"').fetchone()[0]
            for dataset in DATASETS
            if conn.execute("select to_regclass(%s)", (f'"{dataset}"',)).fetchone()[0]
        }
    print("Warehouse tables (PostgreSQL for Redshift): " + ", ".join(f"{t} {n}" for t, n in counts.items()))
