"""Version ids and the cleanup listing of superseded versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airlake.curate import new_version_id, parse_version, version_of_location, versions, versions_to_clean

V1, V2, V3 = "20261120T050000000000Z", "20261121T050000000000Z", "20261122T050000000000Z"


def test_version_ids_are_utc_timestamps_that_sort_and_never_repeat(monkeypatch) -> None:
    monkeypatch.setattr(versions, "_last", [""])  # the process-wide floor: start afresh, restore after
    ids = [new_version_id(now=datetime(2026, 11, 25, 5, 15, tzinfo=UTC)) for _ in range(3)]
    assert ids[0] == "20261125T051500000000Z"
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert parse_version(ids[1]) == datetime(2026, 11, 25, 5, 15, 0, 1, tzinfo=UTC)
    assert new_version_id(after="29991231T235959999999Z") == "30000101T000000000000Z"


@pytest.mark.parametrize(
    ("location", "version"),
    [
        pytest.param(f"s3://b/curated/orders/dt=2026-11-20/v={V1}/", V1, id="version-prefix"),
        pytest.param(f"s3://b/curated/orders/dt=2026-11-20/v={V1}", V1, id="no-trailing-slash"),
        pytest.param("s3://b/curated/orders/dt=2026-11-20/", None, id="not-versioned"),
        pytest.param(None, None, id="none"),
    ],
)
def test_version_of_location(location: str | None, version: str | None) -> None:
    assert version_of_location(location) == version


def _put_versions(lake, dt: str, versions: list[str]) -> None:
    for version in versions:
        lake.put_bytes(f"curated/orders/dt={dt}/v={version}/part-00000.parquet", b"x")


def test_versions_to_clean(lake) -> None:
    _put_versions(lake, "2026-11-20", [V1, V2, V3])
    _put_versions(lake, "2026-11-21", [V1])  # never published
    live = {"2026-11-20": f"s3://{lake.bucket}/curated/orders/dt=2026-11-20/v={V2}/"}
    base = "curated/orders/dt=2026-11-20"

    def clean(now: datetime, grace: timedelta, **kwargs) -> list[str]:
        return versions_to_clean(lake, "orders", live, grace, now=now, **kwargs)

    just_after_v3 = parse_version(V3) + timedelta(minutes=5)
    # V1 was superseded by V2 a day ago; V3 (not published yet) is too young; V2 is live
    assert clean(just_after_v3, timedelta(hours=1)) == [f"{base}/v={V1}/"]
    # a day later V3 is an abandoned attempt
    assert clean(just_after_v3 + timedelta(days=1), timedelta(hours=1)) == [
        f"{base}/v={V1}/",
        f"{base}/v={V3}/",
    ]
    # a long grace keeps everything
    assert clean(just_after_v3, timedelta(days=7)) == []
    # partitions the catalog does not know are left alone unless asked
    assert f"curated/orders/dt=2026-11-21/v={V1}/" in clean(
        just_after_v3, timedelta(hours=1), include_unpublished=True
    )


def test_orphan_versions_are_those_after_the_last_complete_attempt_and_before_the_grace(lake) -> None:
    from airlake.curate.versions import orphan_versions

    last_complete, killed, compacting, running = (
        "20261121T050000000000Z",
        "20261121T060000000000Z",
        "20261121T065500000000Z",  # 5 minutes before the running attempt: may be about to be published
        "20261121T070000000000Z",
    )
    _put_versions(lake, "2026-11-20", [V1, last_complete, killed, compacting])
    _put_versions(lake, "2026-11-19", [killed])

    found = orphan_versions(lake, "orders", after=last_complete, before=running, grace=timedelta(minutes=15))

    assert found == [("2026-11-19", killed), ("2026-11-20", killed)]
    assert orphan_versions(lake, "orders", after=last_complete, before=running, grace=timedelta(0)) == [
        ("2026-11-19", killed),
        ("2026-11-20", killed),
        ("2026-11-20", compacting),
    ]
    assert orphan_versions(lake, "orders", after=running, before=running) == []
