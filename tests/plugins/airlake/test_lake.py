"""lake.py parses the lake's S3 URIs (lineage, catalog, tiering use it; nobody splits ``s3://`` by hand)."""

from __future__ import annotations

from datetime import date

import pytest

from airlake.lake import (
    analytics_prefix,
    analytics_version_prefix,
    curated_partition_prefix,
    curated_version_prefix,
    is_version_prefix,
    key_zone,
    manifest_key,
    manifests_prefix,
    parse_curated_version_prefix,
    parse_manifest_key,
    partition_value,
    raw_date_prefix,
    raw_run_prefix,
    report_file_keys,
    report_prefix,
    s3_prefix,
    s3_uri,
    split_curated_version_key,
    split_s3_uri,
    zone_partition_prefix,
    zone_prefix,
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        pytest.param("s3://b/curated/x/dt=1/v=2/", ("b", "curated/x/dt=1/v=2/"), id="prefix"),
        pytest.param("s3://b", ("b", ""), id="bucket"),
        pytest.param("s3a://b/k", ("b", "k"), id="s3a"),
        pytest.param("s3://b/raw/a#1?.gz", ("b", "raw/a#1?.gz"), id="key-with-url-characters"),
    ],
)
def test_split_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert split_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["gs://b/k", "b/k", "s3:///k", ""])
def test_split_s3_uri_rejects_what_is_not_an_s3_uri(uri: str) -> None:
    with pytest.raises(ValueError, match="s3:// URI"):
        split_s3_uri(uri)


def test_s3_prefix_ends_in_one_slash_and_round_trips() -> None:
    assert s3_prefix("s3://b/curated/x/dt=1/v=2") == ("b", "curated/x/dt=1/v=2/")
    assert s3_prefix("s3://b/curated/x/dt=1/v=2/") == ("b", "curated/x/dt=1/v=2/")
    assert split_s3_uri(s3_uri("b", "curated/x/part-0.parquet")) == ("b", "curated/x/part-0.parquet")


def test_a_curated_version_prefix_parses_back_by_the_partition_column() -> None:
    prefix = curated_version_prefix("orders", "2026-11-01", "20261102T000000000000Z")
    assert parse_curated_version_prefix(prefix) == ("orders", "2026-11-01", "20261102T000000000000Z")
    assert parse_curated_version_prefix("curated/fx/day=2026-11-01/v=1/", "day") == ("fx", "2026-11-01", "1")


@pytest.mark.parametrize(
    "prefix",
    [
        "curated/orders/dt=2026-11-01/",
        "curated/orders/dt=2026-11-01/v=1/part.parquet",
        "raw/orders/dt=1/v=1/",
    ],
)
def test_what_is_not_a_curated_version_prefix_is_named(prefix: str) -> None:
    with pytest.raises(ValueError, match="not a curated version prefix"):
        parse_curated_version_prefix(prefix)
    with pytest.raises(ValueError, match="not a curated version prefix"):
        parse_curated_version_prefix("curated/fx/dt=2026-11-01/v=1/", "day")


def test_zone_and_partition_prefixes() -> None:
    assert (zone_prefix("quarantine"), zone_prefix("analytics", "daily")) == (
        "quarantine/",
        "analytics/daily/",
    )
    assert raw_date_prefix("orders", date(2026, 11, 1)) == "raw/orders/ingest_date=2026-11-01/"
    assert raw_date_prefix("orders", "2026-11-01") == "raw/orders/ingest_date=2026-11-01/"
    assert raw_run_prefix("orders", date(2026, 11, 1), "manual__1+0").startswith(
        raw_date_prefix("orders", "2026-11-01")
    )
    assert curated_partition_prefix("fx", "2026-11-01", column="day") == "curated/fx/day=2026-11-01/"
    assert zone_partition_prefix("analytics", "daily", "2026-11-01", "dt") == "analytics/daily/dt=2026-11-01/"


def test_a_manifest_key_parses_back() -> None:
    key = manifest_key("orders", "scheduled__2026-11-01T00:00:00+00:00", "curate")
    assert parse_manifest_key(key) == ("orders", "scheduled__2026-11-01T00_00_00_00_00", "curate")
    assert key.startswith(manifests_prefix("orders")) and manifests_prefix() == "_manifests/"
    for other in (
        "_manifests/orders/run/curate/attempt=1.json",
        "raw/orders/run/x.json",
        "_manifests/o/r/.json",
    ):
        assert parse_manifest_key(other) is None


def test_key_zone_and_report_keys() -> None:
    assert key_zone("curated/orders/dt=1/v=2/part.parquet") == ("curated", "orders")
    assert key_zone("curated/orders") == ("curated", None)
    assert key_zone("top.txt") == ("top.txt", None)
    assert report_prefix("storage") == "reports/storage/"
    assert report_file_keys(report_prefix("storage", "2026-11-22")) == (
        "reports/storage/2026-11-22/report.json",
        "reports/storage/2026-11-22/report.html",
    )


def test_partition_values_and_version_keys_parse_back() -> None:
    key = curated_version_prefix("fx", "2026-11-01", "v1", column="day") + "part-0.parquet"
    assert partition_value(key, "day") == "2026-11-01" and partition_value(key) is None
    assert partition_value("raw/o/ingest_date=2026-11-01/run=r/p.gz", "ingest_date") == "2026-11-01"
    assert partition_value("raw/o/p_ingest_date=1/x", "ingest_date") is None
    assert split_curated_version_key(key, "day") == (
        "fx",
        "2026-11-01",
        "v1",
        "curated/fx/day=2026-11-01/v=v1/",
        "part-0.parquet",
    )
    assert split_curated_version_key(key) is None
    assert split_curated_version_key("curated/fx/dt=1/v=2/sub/x")[-1] == "sub/x"  # type: ignore[index]
    assert split_curated_version_key("curated/fx/dt=1/v=2/") == ("fx", "1", "2", "curated/fx/dt=1/v=2/", "")
    assert is_version_prefix("curated/fx/dt=1/v=2/") and is_version_prefix("analytics/daily/dt=1/v=2/")
    assert not is_version_prefix("curated/fx/") and not is_version_prefix("curated/fx/dt=1/")


def test_analytics_prefixes() -> None:
    assert analytics_prefix("daily_sales") == "analytics/daily_sales/"
    assert (
        analytics_version_prefix("daily_sales", "2026-11-01", "v1")
        == "analytics/daily_sales/dt=2026-11-01/v=v1/"
    )
    assert is_version_prefix(analytics_version_prefix("daily_sales", "2026-11-01", "v1"))
