"""A partition merged in key ranges (bounded memory, :meth:`PartitionMerger.key_cuts`) gives the files
merging it in one query gives, byte for byte: same rows, same order, same digests; and so does a rerun.
The merge (one sort, then the first row of each key) keeps the rows the window query
:meth:`PartitionMerger.merge_sql` keeps, for every rule, NULL and NaN keys included."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airlake.curate.merge import (
    DICTIONARY_PAGE_BYTES,
    RANGE_FILES_MIN_RANGES,
    ParquetPartWriter,
    PartitionMerger,
)
from airlake.curate.spill import spill_schema
from tests.plugins.airlake.curate.curate_helpers import make_contract

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def _rows(count: int, seed: int) -> list[dict[str, Any]]:
    pick = random.Random(seed)  # noqa: S311 (test data)
    return [
        {
            "widget_id": pick.randrange(40),
            "name": pick.choice(["a", "b", "c", "d", "e", "ä", "B"]),
            "active": pick.choice([True, False, None]),
            "rank": pick.randrange(1, 10),
            "weight": pick.random(),
            "price": Decimal(pick.randrange(10_000)) / 100,
            "made_on": None,
            "local_time": None,
            "event_time": T0 + timedelta(minutes=pick.randrange(30)),  # ties: the ordinal decides
            "color": pick.choice(["red", "blue", None]),
        }
        for _ in range(count)
    ]


def _write(path: Path, rows: list[dict[str, Any]], schema: pa.Schema, seq: int | None) -> Path:
    if seq is not None:
        rows = [{**row, "_seq": seq + i} for i, row in enumerate(rows)]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def _inputs(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    inputs = tmp_path / "inputs"
    return sorted(inputs.glob("new-*.parquet")), sorted(inputs.glob("live-*.parquet"))


def _merge(contract: Any, tmp_path: Path, name: str, bucket_rows: int) -> tuple[Any, list[Any]]:
    schema = contract.arrow_schema()
    loose = pa.schema([pa.field(f.name, f.type) for f in schema])
    inputs = tmp_path / "inputs"
    if not inputs.exists():
        inputs.mkdir()
        for index in range(3):
            _write(inputs / f"new-{index}.parquet", _rows(120, index), spill_schema(schema), index << 40)
        _write(inputs / "live-0.parquet", _rows(90, 7), loose, None)
        _write(inputs / "live-1.parquet", _rows(60, 8), loose, None)
    merger = PartitionMerger(contract, tmp_path / name, row_group_rows=50)
    merger.bucket_rows = bucket_rows
    try:
        result = merger.merge(*_inputs(tmp_path), tmp_path / name)
    finally:
        merger.close()
    rows = [row for part in result.parts for row in pq.read_table(part.path).to_pylist()]
    return result, rows


@pytest.mark.parametrize(
    "bucket_rows",
    [170, 17],
    ids=["3-ranges-each-reads-all", "many-ranges-from-range-files"],
)
@pytest.mark.parametrize(
    "keys",
    [["widget_id"], ["name", "widget_id"], ["event_time", "widget_id"]],
    ids=["int", "text", "timestamptz"],
)
def test_key_ranges_give_the_same_files_as_one_merge(
    keys: list[str], bucket_rows: int, tmp_path: Path
) -> None:
    contract = make_contract(primary_key=keys)
    whole, rows = _merge(contract, tmp_path, "whole", 10**9)
    ranged, ranged_rows = _merge(contract, tmp_path, "ranged", bucket_rows)
    again, _ = _merge(contract, tmp_path, "again", bucket_rows)

    assert len(rows) == len({tuple(row[k] for k in keys) for row in rows}) < 510  # de-duplicated
    assert ranged_rows == rows
    digests = [part.sha256 for part in whole.parts]
    assert len(digests) >= 1 and [part.sha256 for part in ranged.parts] == digests
    assert [part.sha256 for part in again.parts] == digests
    assert (ranged.rows_new_kept, ranged.rows_existing_kept) == (
        whole.rows_new_kept,
        whole.rows_existing_kept,
    )
    merger = PartitionMerger(contract, tmp_path / "cuts")
    merger.bucket_rows = bucket_rows
    try:
        union = merger.union_sql(*_inputs(tmp_path))
        cuts = merger.key_cuts(union, 510)
        if bucket_rows == 170:  # a few ranges: each reads the inputs again
            assert 1 <= len(cuts) < RANGE_FILES_MIN_RANGES - 1
        else:  # many: each reads its own file, which together hold every row once
            assert len(cuts) >= RANGE_FILES_MIN_RANGES - 1
            files = merger.range_files(merger.con, union, cuts, tmp_path)
            assert 2 < len(files) <= len(cuts) + 1  # a range with no rows has no file
            assert sum(pq.ParquetFile(path).metadata.num_rows for path in files) == 510
    finally:
        merger.close()


@pytest.mark.parametrize(
    ("keys", "dedup"),
    [
        (["widget_id"], {"keep": "latest", "order_by": "event_time"}),
        (["widget_id"], {"keep": "first", "order_by": "event_time"}),
        (["widget_id"], {"keep": "latest", "order_by": "color"}),  # NULL order_by never wins
        (["widget_id"], {"keep": "first"}),  # no order_by: input and line order decide
        (["color", "widget_id"], {"keep": "latest", "order_by": "rank"}),  # NULL key part
        (["weight"], {"keep": "first", "order_by": "event_time"}),  # NaN and NULL keys
        (["name", "event_time"], {"keep": "latest", "order_by": "price"}),
    ],
    ids=["latest", "first", "null-order", "no-order", "null-key", "nan-key", "text-time"],
)
@pytest.mark.parametrize("bucket_rows", [10**9, 30], ids=["one-range", "range-files"])
def test_merge_keeps_the_rows_of_the_window_query(
    keys: list[str], dedup: dict[str, Any], bucket_rows: int, tmp_path: Path
) -> None:
    contract = make_contract(dedup={"keys": keys, **dedup})
    schema = contract.arrow_schema()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    pick = random.Random(5)  # noqa: S311 (test data)
    for index in range(2):
        rows = _rows(150, 10 + index)
        for row in rows:
            row["weight"] = pick.choice([0.5, 1.5, float("nan"), None, -0.0, 0.0])
            row["rank"] = pick.choice([1, 2, None])
        _write(inputs / f"new-{index}.parquet", rows, spill_schema(schema), index << 40)
    _write(
        inputs / "live-0.parquet", _rows(80, 20), pa.schema([pa.field(f.name, f.type) for f in schema]), None
    )

    result, rows = _merge(contract, tmp_path, "merged", bucket_rows)
    reference = PartitionMerger(contract, tmp_path / "reference")
    try:
        expected = reference.con.sql(reference.merge_sql(*_inputs(tmp_path))).to_arrow_table()
    finally:
        reference.close()

    def comparable(values: list[dict[str, Any]]) -> list[str]:
        return [repr(sorted((k, repr(v)) for k, v in row.items() if k != "_src")) for row in values]

    assert comparable(rows) == comparable(expected.to_pylist())
    assert result.rows_new_kept == sum(expected.column("_src").to_pylist())
    assert result.rows == expected.num_rows < 380  # duplicates were dropped


def test_a_column_of_unique_values_is_not_kept_in_a_big_dictionary(tmp_path: Path) -> None:
    """A curated column chunk's dictionary stops at DICTIONARY_PAGE_BYTES (the rest of the chunk plain):
    unique ids are not hashed into a 1 MB dictionary first; a column of a few values keeps its dictionary."""
    import uuid

    schema = pa.schema([("event_id", pa.string()), ("platform", pa.string())])
    pick = random.Random(11)  # noqa: S311 (test data)
    ids = [str(uuid.UUID(int=pick.getrandbits(128))) for _ in range(40_000)]  # 1.4 MB of unique ids
    table = pa.table(
        {"event_id": sorted(ids), "platform": [("web", "ios", "android")[i % 3] for i in range(40_000)]}
    )
    writer = ParquetPartWriter(tmp_path, schema, row_group_rows=40_000, max_file_bytes=1 << 30)
    writer.write(table.to_batches()[0])
    (part,) = writer.close()

    group = pq.ParquetFile(part.path).metadata.row_group(0)
    event_id, platform = group.column(0), group.column(1)
    dictionary_bytes = event_id.data_page_offset - event_id.dictionary_page_offset
    assert 0 < dictionary_bytes <= DICTIONARY_PAGE_BYTES
    assert platform.has_dictionary_page and platform.total_compressed_size < 1_000
    assert pq.read_table(part.path).column("event_id").to_pylist() == sorted(ids)
