"""lake.py parses the lake's S3 URIs (lineage, catalog, tiering use it; nobody splits ``s3://`` by hand)."""

from __future__ import annotations

import pytest

from airlake.lake import curated_version_prefix, parse_curated_version_prefix, s3_prefix, s3_uri, split_s3_uri


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
