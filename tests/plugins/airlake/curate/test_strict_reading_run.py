"""Ingest then curate partner files through the real stages: the issue's merged-row file, declared NULL
markers and encoding, header drift; ingest's count equals curate's "read", the manifest records
each file's header findings, and nothing is lost."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from airlake.contracts import Contract
from airlake.curate.runner import run_curate
from airlake.ingest.base import IngestContext
from airlake.ingest.factory import build_source
from airlake.ingest.runner import run_ingest
from airlake.quality import header_findings
from tests.plugins.airlake.curate.curate_helpers import Catalog, read_partition, read_rejects

DAY = date(2026, 11, 20)
RUN = "scheduled__2026-11-20T00:00:00+00:00"


def contract(**csv: Any) -> Contract:
    return Contract.model_validate(
        {
            "name": "partner",
            "description": "A partner's daily files.",
            "owner": "tests",
            "source": {
                "kind": "files",
                "landing_prefix": "landing/partner/",
                "format": "csv",
                "csv": csv,
                "timezone": "Europe/Paris",
            },
            "schema": [
                {"name": "id", "type": "bigint", "nullable": False},
                {"name": "name", "type": "string"},
                {"name": "qty", "type": "int"},
                {"name": "at", "type": "timestamp", "nullable": False},
            ],
            "primary_key": ["id"],
            "event_time": "at",
            "quality": {"reject_rate_max": 0.9},
        }
    )


def ingest_and_curate(lake, spec: Contract, files: dict[str, bytes], tmp_path: Path) -> tuple[dict, dict]:
    for name, body in files.items():
        lake.put_bytes(f"landing/partner/{name}", body)
    ctx = IngestContext(
        dataset="partner",
        run_id=RUN,
        ingest_date=DAY,
        interval_start=datetime(2026, 11, 20, tzinfo=UTC),
        interval_end=datetime(2026, 11, 21, tzinfo=UTC),
        work_dir=tmp_path / "ingest",
    )
    ingested = run_ingest(build_source(spec, store=lake, aws_conn_id=None), lake, ctx)
    curated = run_curate(
        spec, lake, run_id=RUN, live_location=Catalog().lookup, work_dir=tmp_path / "curate"
    ).summary
    return ingested, lake.get_json(curated["manifest"])


def test_the_merged_row_file_of_the_issue_loses_nothing(lake, tmp_path) -> None:
    body = (
        b"id,name,qty,at\n"
        b"1,a,1,2026-11-20 11:00:00\n"
        b'2,"b,2,2026-11-20 11:00:00\n'  # an unbalanced quote: once swallowed the rows below
        b"3,c,3,2026-11-20 11:00:00\n"
        b"4,d,4,2026-11-20 11:00:00\n"
        b"4,d,4,2026-11-20 11:00:00\n"  # delivered twice: dropped by the merge, counted
    )
    ingested, manifest = ingest_and_curate(lake, contract(), {"f.csv": body}, tmp_path)

    assert ingested["rows"] == 5 == manifest["rows"]["read"]
    counts = manifest["rows"]
    assert (counts["written"], counts["quarantined"], counts["duplicates_dropped"]) == (3, 1, 1)
    rows = [r for p in manifest["partitions"] for r in read_partition(lake, p)]
    assert sorted(r["id"] for r in rows) == [1, 3, 4]
    assert rows[0]["at"] == datetime(2026, 11, 20, 10)  # Paris wall time -> UTC
    [reject] = read_rejects(lake, manifest["quarantine"]["key"])
    assert (reject["line"], reject["reason"]) == (3, "unterminated_quote")
    assert reject["raw"] == '2,"b,2,2026-11-20 11:00:00'
    assert not manifest["warnings"]


def test_declared_markers_encoding_and_header_drift_are_recorded(lake, tmp_path) -> None:
    spec = contract(encoding="cp1252", null_values=["", "NA", "\\N"], delimiter=";")
    drifted = "at;id;name;legacy\n2026-11-20 12:00:00;7;Zoë €;x\n".encode("cp1252")  # no qty, an extra column
    plain = "id;name;qty;at\n5;NA;NA;2026-11-20 11:00:00\n6;\\N;2;2026-11-20 11:00:00\n".encode("cp1252")
    refused = b"name;qty\nx;1\ny;2\n"  # no id, no at: the whole file is refused, each record counted
    ingested, manifest = ingest_and_curate(
        lake, spec, {"a.csv": plain, "b.csv": drifted, "c.csv": refused}, tmp_path
    )

    assert ingested["rows"] == 5 == manifest["rows"]["read"]
    assert sum(item["rows"] for item in manifest["inputs"]) == 5
    rows = {r["id"]: r for p in manifest["partitions"] for r in read_partition(lake, p)}
    assert {i: (r["name"], r["qty"]) for i, r in rows.items()} == {
        5: (None, None),
        6: (None, 2),
        7: ("Zoë €", None),
    }
    headers = {item["key"].rsplit("/", 1)[-1]: item["header"] for item in manifest["inputs"]}
    assert [h["missing"] for h in headers.values()] == [[], ["qty"], ["id", "at"]]
    assert [h["extra"] for h in headers.values()] == [[], ["legacy"], []]
    refusal = [h for h in headers.values() if "refused" in h]
    assert len(refusal) == 1 and refusal[0]["refused"]["reason"] == "missing_column"
    assert manifest["quarantine"]["reasons"] == {"missing_column": 2}
    assert any("legacy" in w for w in manifest["warnings"]) and any(
        "id, at" in w for w in manifest["warnings"]
    )

    # the quality results carry the same findings (QualityCheckOperator writes them beside its checks)
    findings = {f["key"].rsplit("/", 1)[-1]: f for f in header_findings(manifest)}
    assert sorted(findings) == sorted(name for name, h in headers.items() if h["missing"] or h["extra"])
    assert [f["missing"] for f in findings.values()] == [["qty"], ["id", "at"]]
    assert [bool(f["refused"]) for f in findings.values()] == [False, True]


def test_rejects_and_header_findings_name_the_landing_file(lake, tmp_path) -> None:
    good = b"id,name,qty,at\n1,a,1,2026-11-20 11:00:00\n2,b,x,2026-11-20 11:00:00\n"  # qty x: wrong_type
    refused = b"name,qty\nx,1\n"  # no id, no at: the file is refused
    _, manifest = ingest_and_curate(lake, contract(), {"a.csv": good, "b.csv": refused}, tmp_path)

    landing = {item["key"].rsplit("/", 1)[-1]: item["landing"] for item in manifest["inputs"]}
    assert sorted(landing.values()) == ["landing/partner/a.csv", "landing/partner/b.csv"]
    rejects = read_rejects(lake, manifest["quarantine"]["key"])
    assert [(r["landing"], r["line"], r["reason"]) for r in rejects] == [
        ("landing/partner/a.csv", 3, "wrong_type"),
        ("landing/partner/b.csv", 2, "missing_column"),
    ]
    assert [r["source"].rsplit("/", 1)[-1] for r in rejects] == sorted(landing)  # the raw part, as before
    refusal = rejects[1]["message"]
    assert "landing/partner/b.csv" in refusal and rejects[1]["source"] in refusal
    assert any("landing/partner/b.csv" in warning for warning in manifest["warnings"])
