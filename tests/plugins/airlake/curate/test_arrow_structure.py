"""The Arrow structure pass gives exactly the strict splitter's records, and curate the same output.

Random files, quote-free (chunks go to pyarrow.csv) and with quotes, blank lines, \\r\\n, NUL, invalid
bytes and byte order marks mixed in (those chunks go the strict way), are read with chunks of a few
lines, so every kind of chunk boundary occurs. A pyarrow that loses a row is caught by the count.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from airlake.contracts import CsvOptions
from airlake.curate import csv_split, parts
from airlake.curate.csv_split import ArrowBlock, CsvSplitter
from airlake.curate.parse import Reject
from airlake.curate.parts import PartResult, PartTask, parse_part
from tests.plugins.airlake.curate.malformed_corpus import Case

NAMES = ["id", "name", "amount", "at"]


def _line(rng: random.Random, index: int, quotes: bool, names: list[str]) -> str:
    values = {
        "id": rng.choice([str(index), str(index), "", "x", "-" + str(index), "9" * 20]),
        "name": rng.choice(["a", "", "NA", " b ", "é", "ü x", "\u2028", "\x1c", "\ufeffz"]),
        "amount": rng.choice(["1.25", "0", "", "12345678.9", "1.234", "abc"]),
        "at": rng.choice(["2026-11-20T10:00:00Z", "2026-11-21 23:59:59.123+01:00", "", "2026-13-01"]),
        "extra": rng.choice(["e", ""]),
    }
    fields = [values[name] for name in names]
    if quotes and rng.random() < 0.05:
        fields[1] = rng.choice(['"q,uoted"', '"two\nlines"', '"open', 'in"side', '""'])
    roll = rng.random()
    if roll < 0.03:
        fields.append("more")  # wrong field count
    elif roll < 0.05:
        fields = fields[:-1]
    elif roll < 0.055:
        fields = [""]  # a blank line (a record: empty_row), or one field
    return ",".join(fields)


def _body(seed: int, quotes: bool, *, header: bool = True) -> tuple[bytes, list[str]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    names = NAMES.copy()
    if seed % 3 == 1:
        rng.shuffle(names)
    if seed % 4 == 2:
        names.append("extra")
    lines = [",".join(names)] if header else []
    for index in range(rng.randint(50, 400)):
        lines.append(_line(rng, index, quotes, names if header else NAMES))
    ends = "\n" if seed % 5 else rng.choice(["\n", "\r\n"])
    body = ends.join(lines) + rng.choice([ends, ""])
    data = body.encode("utf-8")
    if quotes and seed % 2:  # a NUL, an invalid byte, a \r line end in the middle
        for bad in (b"\x00", b"\xff", b"\r"):
            at = data.find(b"\n", rng.randint(0, len(data) - 1))
            if at > 0:
                data = data[:at] + bad + data[at:]
    return data, names


def _contract(**csv: Any) -> Any:
    return Case(id="arrow", body=b"", rows=(), csv=csv).contract()


def _strict(path: Path, options: CsvOptions, width: int | None) -> list[tuple[Any, ...]]:
    splitter = CsvSplitter(options, width)
    with path.open("rb") as binary:
        return [_show(record) for block in splitter.blocks(splitter.open(binary)) for record in block]


def _mixed(path: Path, options: CsvOptions, width: int | None) -> tuple[list[tuple[Any, ...]], int]:
    """The mixed blocks as strict records (an Arrow block keeps every field); and the Arrow blocks seen."""
    splitter = CsvSplitter(options, width)
    out: list[tuple[Any, ...]] = []
    arrow = 0
    with path.open("rb") as binary:
        for block in splitter.mixed_blocks(splitter.open(binary)):
            if splitter.arrow_fields is None and splitter.width is not None:
                splitter.arrow_fields = tuple(range(splitter.width))  # as the reader sets it after the header
            if not isinstance(block, ArrowBlock):
                out.extend(_show(record) for record in block)
                continue
            arrow += 1
            columns = [block.columns[index].to_pylist() for index in range(len(block.columns))]
            records = [
                (int(line), [column[row] for column in columns], block.raw(row))
                for row, line in enumerate(block.lines)
            ]
            out.extend(_show(record) for record in sorted(records + block.rejects, key=lambda r: r[0]))
            assert block.records == len(block.lines) + len(block.rejects)
    return out, arrow


def _show(record: tuple[int, Any, str]) -> tuple[Any, ...]:
    line, fields, raw = record
    if isinstance(fields, Reject):
        return line, fields.reason, fields.message, raw
    return line, fields, raw


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_split, "FIRST_CHARS", 16)
    monkeypatch.setattr(csv_split, "ARROW_CHARS", 300)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("quotes", [False, True], ids=["quote-free", "with-quotes"])
@pytest.mark.parametrize("seed", range(10))
def test_random_files_split_the_same_as_the_strict_splitter(tmp_path: Path, seed: int, quotes: bool) -> None:
    data, _ = _body(seed, quotes, header=seed % 6 != 5)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    options = CsvOptions(header=seed % 6 != 5, skip_rows=1 if seed % 7 == 3 else 0)
    width = None if options.header else len(NAMES)

    mixed, arrow = _mixed(path, options, width)

    assert mixed == _strict(path, options, width)
    if not quotes:
        assert arrow > 0  # the quote-free file went (mostly) through pyarrow


@pytest.mark.usefixtures("small_chunks")
def test_quoted_chunks_take_the_strict_way(tmp_path: Path) -> None:
    lines = ["id,name", *(f'{i},"q{i}"' for i in range(200))]
    path = tmp_path / "f.csv"
    path.write_text("\n".join(lines) + "\n")
    mixed, arrow = _mixed(path, CsvOptions(), None)
    assert arrow == 0 and mixed == _strict(path, CsvOptions(), None)
    assert mixed[1] == (2, ["0", "q0"], '0,"q0"\n')


def _curate(tmp_path: Path, name: str, data: bytes, contract: Any) -> PartResult:
    out = tmp_path / name
    out.mkdir()
    path = out / "part.csv"
    path.write_bytes(data)
    return parse_part(
        PartTask(
            index=1, key="raw/v/part-00001.csv", path=path, out_dir=out, contract=contract, flush_rows=64
        )
    )


def _output(result: PartResult) -> tuple[Any, ...]:
    spilled = {
        dt: sorted(
            (row for path in paths for row in pq.read_table(path).to_pylist()), key=lambda r: r["_seq"]
        )
        for dt, paths in result.spill_files.items()
    }
    assert result.rejects_path is not None
    rejects = gzip.decompress(result.rejects_path.read_bytes())
    return result.rows_read, result.rows_by_dt, result.reasons, spilled, rejects, result.header


def _both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, contract: Any) -> tuple[Any, Any]:
    monkeypatch.setattr(parts, "VECTOR_TYPING", True)
    monkeypatch.setattr(parts, "ARROW_STRUCTURE", True)
    arrow = _output(_curate(tmp_path, "arrow", data, contract))
    monkeypatch.setattr(parts, "VECTOR_TYPING", False)
    monkeypatch.setattr(parts, "ARROW_STRUCTURE", False)
    rows = _output(_curate(tmp_path, "rows", data, contract))
    return arrow, rows


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("quotes", [False, True], ids=["quote-free", "with-quotes"])
@pytest.mark.parametrize("seed", range(6))
def test_random_files_curate_the_same_as_the_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, quotes: bool
) -> None:
    data, _ = _body(seed, quotes)
    csv: dict[str, Any] = {"null_values": ["", "NA"]} if seed % 2 else {}
    arrow, rows = _both(tmp_path, monkeypatch, data, _contract(**csv))
    assert arrow == rows
    assert arrow[0] > 50 and arrow[4]  # rows were read and some rejected


@pytest.mark.usefixtures("small_chunks")
def test_a_row_lost_by_pyarrow_is_caught_by_the_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine that drops a row without a word: the block's count of physical lines differs from
    rows parsed + rows handed to the handler, so the block goes the strict way and nothing is lost."""
    read_csv = pacsv.read_csv
    calls: list[int] = []

    def lossy(*args: Any, **kwargs: Any) -> Any:
        table = read_csv(*args, **kwargs)
        calls.append(table.num_rows)
        return table.slice(0, max(table.num_rows - 1, 0))

    monkeypatch.setattr(pacsv, "read_csv", lossy)
    data, _ = _body(0, False)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    mixed, arrow = _mixed(path, CsvOptions(), None)
    assert calls and arrow == 0
    assert mixed == _strict(path, CsvOptions(), None)
    arrow_out, rows_out = _both(tmp_path, monkeypatch, data, _contract())
    assert arrow_out == rows_out


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("shift", [1, -1, None], ids=["next-line", "previous-line", "unknown"])
def test_refused_rows_pyarrow_misnumbers_are_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shift: int | None
) -> None:
    """An engine that names the wrong line for a row it refused (or none): the named line's own
    delimiter count does not give the reported field count, so the block goes the strict way."""
    read_csv = pacsv.read_csv
    refused: list[int] = []

    class Misnumbered:
        def __init__(self, row: Any) -> None:
            self.actual_columns, self.text = row.actual_columns, row.text
            self.number = None if shift is None else row.number + shift

    def misnumbering(*args: Any, **kwargs: Any) -> Any:
        options = kwargs["parse_options"]
        handler = options.invalid_row_handler

        def wrong(row: Any) -> str:
            refused.append(row.number)
            return handler(Misnumbered(row))

        options.invalid_row_handler = wrong
        return read_csv(*args, **kwargs)

    monkeypatch.setattr(pacsv, "read_csv", misnumbering)
    data, _ = _body(0, False)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    mixed, _ = _mixed(path, CsvOptions(), None)
    assert refused  # the engine did refuse rows, and named them wrongly
    assert mixed == _strict(path, CsvOptions(), None)
    arrow_out, rows_out = _both(tmp_path, monkeypatch, data, _contract())
    assert arrow_out == rows_out


def test_big_chunks_curate_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default chunk sizes: the header chunk strict, the rest of a 2 MB file in a few Arrow blocks."""
    rng = random.Random(5)  # noqa: S311 - reproducible test data
    lines = [",".join(NAMES)] + [_line(rng, i, False, NAMES) for i in range(60_000)]
    data = ("\n".join(lines) + "\n").encode()
    arrow, rows = _both(tmp_path, monkeypatch, data, _contract())
    assert arrow == rows and arrow[0] == 60_000


@pytest.mark.parametrize(
    "body",
    [
        "id,name\n\ufeff1,a\n2,b\n",  # pyarrow drops a byte order mark at the start of a buffer
        "id\n1\n\n2\n",  # one column: pyarrow reads a blank line as an empty value, csv as no record
        "id,name\n1,a\n,\n2,b",  # no final line end; a line of empty fields
        "id\r\n1\r\n\r\n2\r\n",  # a blank \r\n line, one column
        "id,name\n1,a\r2,b\n3,c\n",  # a lone \r ends a line for csv
    ],
    ids=["bom-starts-a-chunk", "blank-line-one-column", "no-final-line-end", "blank-crlf-line", "lone-cr"],
)
def test_what_pyarrow_reads_otherwise_is_split_the_strict_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    monkeypatch.setattr(csv_split, "FIRST_CHARS", 1)  # the header alone, then a chunk from line 2
    path = tmp_path / "f.csv"
    path.write_text(body, encoding="utf-8")
    mixed, _ = _mixed(path, CsvOptions(), None)
    assert mixed == _strict(path, CsvOptions(), None)


@pytest.mark.usefixtures("small_chunks")
def test_crlf_and_mixed_line_ends_take_the_arrow_way(tmp_path: Path) -> None:
    lines = ["id,name", *(f"{i},n{i}" for i in range(300)), "1,2,3", "4"]
    body = "".join(line + ("\r\n" if i % 3 else "\n") for i, line in enumerate(lines))
    path = tmp_path / "f.csv"
    path.write_text(body, newline="")
    mixed, arrow = _mixed(path, CsvOptions(), None)
    assert arrow > 0 and mixed == _strict(path, CsvOptions(), None)
    assert mixed[2] == (3, ["1", "n1"], "1,n1\r\n") and mixed[-1][1:3] == (
        "bad_csv_row",
        "CSV row has 1 field(s), the header has 2",
    )
