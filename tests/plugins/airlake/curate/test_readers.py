"""Raw part readers: line numbers, raw text, exact JSON numbers, CSV by header name."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from airlake.curate.parse import Reject
from airlake.curate.rawfile import raw_format
from airlake.curate.readers import open_reader


def _items(path: Path, key: str, columns: tuple[str, ...] = ("a", "b")) -> list[tuple[int, object, str]]:
    reader = open_reader(path, key, columns)
    return [
        (line, record.reason if isinstance(record, Reject) else record, reader.raw_text(raw))
        for line, record, raw in reader.items()
    ]


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        pytest.param("raw/x/part-00000.jsonl.gz", "jsonl", id="jsonl"),
        pytest.param("raw/x/part-00000.csv.gz", "csv", id="csv"),
        pytest.param("raw/x/part-00000.parquet", "parquet", id="parquet"),
    ],
)
def test_raw_format_from_key(key: str, kind: str) -> None:
    assert raw_format(key) == kind


def test_json_lines_numbers_blank_lines_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl.gz"
    body = b'{"a": 1234567890.12345678}\n\n{"a": 1,\n[1]\n\xff\xfe\n{"b": "x"}\r\n'
    path.write_bytes(gzip.compress(body))
    items = _items(path, "p.jsonl.gz")
    assert items[0] == (1, {"a": Decimal("1234567890.12345678")}, '{"a": 1234567890.12345678}')  # exact
    assert [(line, record) for line, record, _ in items[1:]] == [
        (3, "not_json"),  # line 2 is blank: not a record, but lines keep their file numbers
        (4, "not_an_object"),
        (5, "bad_encoding"),
        (6, {"b": "x"}),
    ]


def test_csv_by_header_with_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "p.csv.gz"
    text = '\ufeffb,extra,a\n"two\nlines",z,1\n,z,2\n\nonly,two\n'
    path.write_bytes(gzip.compress(text.encode()))
    items = _items(path, "p.csv.gz")
    assert items == [
        (2, {"a": "1", "b": "two\nlines"}, '"two\nlines",z,1'),
        (4, {"a": "2", "b": None}, ",z,2"),  # empty field: NULL
        (5, "empty_row", ""),
        (6, "bad_csv_row", "only,two"),
    ]
