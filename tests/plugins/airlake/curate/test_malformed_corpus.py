"""The malformed-file corpus: for every case, what reaches curated, what is quarantined (line, reason),
and that ingest's count, curate's "read" and accepted + quarantined are the same physical records."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from airlake.curate.parts import PartTask, parse_part
from airlake.ingest.sources.files import count_rows
from tests.plugins.airlake.curate.malformed_corpus import CASES, Case

pytestmark = pytest.mark.usefixtures("curate_path")  # every case by the row path and the Arrow path

SUFFIX = {"csv": ".csv.gz", "jsonl": ".jsonl.gz", "parquet": ".parquet"}


def curate_part(case: Case, tmp_path: Path) -> tuple[int, list[tuple[Any, ...]], list[dict[str, Any]], Any]:
    """(ingest's row count, curated rows in file order, rejects, header findings) of the case's file."""
    contract = case.contract()
    path = tmp_path / "raw"
    path.write_bytes(case.body)
    counted = count_rows(path, case.fmt, csv_options=contract.source.csv, columns=len(contract.columns))
    key = f"raw/corpus/ingest_date=2026-11-20/run=r/part-00000{SUFFIX[case.fmt]}"
    result = parse_part(
        PartTask(index=0, key=key, path=path, out_dir=tmp_path, contract=contract, flush_rows=4)
    )
    rows: list[dict[str, Any]] = []
    for files in result.spill_files.values():
        for file in files:
            rows.extend(pq.read_table(file).to_pylist())
    curated = [tuple(r[name] for name in contract.column_names) for r in rows]
    with gzip.open(result.rejects_path, "rb") as handle:
        rejects = [json.loads(line) for line in handle if line.strip()]
    assert result.rows_read == counted == len(curated) + len(rejects), "accounting by physical record"
    assert result.rejects_rows == len(rejects)
    return counted, curated, rejects, result.header


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_malformed_file(case: Case, tmp_path: Path) -> None:
    _, curated, rejects, header = curate_part(case, tmp_path)

    assert sorted(curated, key=repr) == sorted(case.rows, key=repr)
    assert [(r["line"], r["reason"]) for r in rejects] == list(case.rejects)
    for reject in rejects:
        assert reject["source"].endswith(SUFFIX[case.fmt]) and reject["message"]
        assert reject["raw"] is not None and len(reject["raw"]) <= 4200  # raw kept, cut when huge
    if case.header is not None:
        assert header is not None
        assert {k: header.get(k) for k in case.header} == case.header


def test_corpus_has_one_case_per_class() -> None:
    assert len(CASES) >= 40 and len({case.id for case in CASES}) == len(CASES)
