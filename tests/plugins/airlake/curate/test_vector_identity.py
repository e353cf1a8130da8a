"""The vector typing path gives exactly what the row parser gives: values, types, rejects, partitions.

Random blocks (values drawn around every edge of every rule: signs, widths, leap days, offsets,
fractions, whitespace, markers) and the CSV records of the malformed corpus go through both paths.
"""

from __future__ import annotations

import gzip
import random
from typing import Any

import pyarrow as pa
import pytest

from airlake.contracts import Contract
from airlake.curate import parts
from airlake.curate.parse import Reject, RowParser
from airlake.curate.readers import open_reader
from airlake.curate.vector import VectorTyper, type_block
from tests.plugins.airlake.curate.malformed_corpus import CASES
from tests.plugins.airlake.curate.vector_helpers import no_vectors, parse_body, spilled, vector_contract


def _pick(rng: random.Random, options: list[str]) -> str:
    return rng.choice(options)


def _digits(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(low, high)))


def _value(rng: random.Random, column: str) -> str | None:
    if rng.random() < 0.06:
        return None
    if rng.random() < 0.03:
        return _pick(
            rng,
            ["", " ", "x", "nan", "inf", "\uff11\uff12", "\u0663", "-", "+", " 1", "1 ", "1e3", ".5", "5."],
        )
    sign = _pick(rng, ["", "", "", "-", "+"])
    if column in ("id", "small"):
        return sign + _pick(rng, [_digits(rng, 1, 5), _digits(rng, 9, 11), _digits(rng, 17, 20), "0", "00"])
    if column in ("amount", "ratio"):
        whole = _pick(rng, [_digits(rng, 1, 3), _digits(rng, 6, 8), "0"])
        frac = _pick(rng, ["", "." + _digits(rng, 1, 3), ".", "." + _digits(rng, 14, 17), "e2"])
        return sign + whole + frac
    if column in ("name", "kind"):
        return _pick(rng, ["a", "b", "c", "d", "A", " a", "é", "ü x", ""]) + _pick(rng, ["", "", "b"])
    if column == "flag":
        return _pick(rng, ["true", "True", "TRUE", "t", "T", "1", "0", "f", "false", "no", "yes", " t", "2"])
    year = _pick(
        rng, ["2026", "2024", "1999", "1900", "2000", "2400", "0001", "9999", "2100", "1970", "20261"]
    )
    month = _pick(rng, ["01", "02", "11", "12", "13", "00", "1"])
    day = _pick(rng, ["01", "28", "29", "30", "31", "32", "00"])
    date = f"{year}-{month}-{day}"
    if column == "day":
        return _pick(rng, [date, date, date, date + " ", date + "T00:00:00", f"{year}{month}{day}"])
    hour = _pick(rng, ["00", "09", "23", "24", "7"])
    minute = _pick(rng, ["00", "59", "60"])
    second = _pick(rng, ["00", "30", "59", "60"])
    fraction = _pick(rng, ["", "", ".123", ".123456", ".5", ".1234567", ".12"])
    offset = _pick(rng, ["", "Z", "+00:00", "+05:30", "-08:00", "+23:59", "+24:00", "-00:30", "+0100", "z"])
    sep = _pick(rng, ["T", "T", " ", "t", "_"])
    return f"{date}{sep}{hour}:{minute}:{second}{fraction}{offset}"


def _row_path(parser: RowParser, records: list[dict[str, Any]], schema: pa.Schema) -> tuple[Any, ...]:
    rows: list[list[Any]] = []
    index: list[int] = []
    dts: list[str] = []
    rejects: list[tuple[int, str, str, str | None]] = []
    for position, record in enumerate(records):
        try:
            values = parser.parse(record)
        except Reject as problem:
            rejects.append((position, problem.reason, problem.message, problem.field))
            continue
        rows.append(values)
        index.append(position)
        dts.append(parser.partition_of(values))
    by_date = sorted(range(len(rows)), key=dts.__getitem__)  # as type_block groups them: by date, then line
    rows, index, dts = [rows[k] for k in by_date], [index[k] for k in by_date], [dts[k] for k in by_date]
    columns = [pa.array([row[i] for row in rows], type=field.type) for i, field in enumerate(schema)]
    return columns, index, dts, rejects


def _assert_same(contract: Contract, records: list[dict[str, Any]]) -> int:
    """Both paths on ``records``; returns how many rows the vector rules accepted."""
    parser, typer, schema = RowParser(contract), VectorTyper(contract), contract.arrow_schema()
    block = type_block(parser, typer, records, schema)
    columns, index, dts, rejects = _row_path(parser, records, schema)
    assert block.index.to_pylist() == index
    assert block.dt.to_pylist() == dts
    for field, got, want in zip(schema, block.columns, columns, strict=True):
        assert got.type == want.type, field.name
        assert [repr(v) for v in got.to_pylist()] == [repr(v) for v in want.to_pylist()], field.name
        assert got.equals(want), field.name
    assert [(i, r.reason, r.message, r.field) for i, r in block.rejects] == rejects
    return len(records) - block.row_parsed


@pytest.mark.parametrize("seed", range(12))
def test_random_blocks_type_the_same_on_both_paths(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    contract = vector_contract()
    names = contract.column_names
    records = []
    for i in range(1500):  # a clean row with 0-2 of its values drawn around the edges
        record = _clean(i)
        for name in rng.sample(names, rng.randint(0, 2)):
            record[name] = _value(rng, name)
        records.append(record)
    assert _assert_same(contract, records) > 300  # the kernels typed many rows, not the parser alone


def test_clean_blocks_take_the_vector_path() -> None:
    """The common form is typed by the kernels (else the test above would prove nothing about them)."""
    contract = vector_contract()
    records = [_clean(i) for i in range(2000)]
    assert _assert_same(contract, records) == len(records)


def _clean(i: int) -> dict[str, str]:
    return {
        "id": str(i),
        "small": str(-i),
        "name": "n",
        "kind": "abc"[i % 3],
        "amount": f"{i % 999}.{i % 100:02d}",
        "ratio": f"{i}.25",
        "flag": "TF"[i % 2],
        "day": "2024-02-29",
        "naive": f"2026-11-20 10:00:{i % 60:02d}.123",
        "at": f"2026-11-{1 + i % 28:02d}T23:{i % 60:02d}:00.123456-05:00",
    }


def test_zones_and_formats_fall_back_to_the_row_parser() -> None:
    rng = random.Random(99)  # noqa: S311 - reproducible test data
    for extra in ({"timezone": "Europe/Amsterdam"}, {"timestamp_formats": ["%d/%m/%Y %H:%M"]}):
        contract = vector_contract(**extra)
        records = [{name: _value(rng, name) for name in contract.column_names} for _ in range(600)]
        records += [dict(records[0], at="2026-03-29T02:30:00"), dict(records[0], at="29/03/2026 02:30")]
        _assert_same(contract, records)


@pytest.mark.parametrize("case", [c for c in CASES if c.fmt == "csv"], ids=lambda c: c.id)
def test_corpus_records_type_the_same_on_both_paths(case: Any, tmp_path: Any) -> None:
    path = tmp_path / "part.csv"
    path.write_bytes(case.body)
    contract = case.contract()
    reader = open_reader(path, "raw/corpus/part.csv", contract=contract)
    records = [record for _, record, _ in reader.items() if not isinstance(record, Reject)]
    _assert_same(contract, records)


@pytest.mark.parametrize("arrow", [False, True], ids=["strict-split", "arrow-split"])
def test_a_part_spills_and_quarantines_the_same_on_both_paths(
    tmp_path: Any, monkeypatch: Any, arrow: bool
) -> None:
    """parse_part end to end: spilled rows (with ``_seq``), counts and the rejects file are identical,
    with the structure pass of the vector path strict or Arrow (then against the strict row path)."""
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    contract = vector_contract()
    names = contract.column_names
    lines = [",".join(names)]
    for i in range(3000):
        record = _clean(i)
        for name in rng.sample(names, rng.randint(0, 1)):
            record[name] = _value(rng, name)
        lines.append(",".join(record[name] or "" for name in names))
    lines.insert(40, '"unterminated,1')
    lines.insert(900, "1,2,3")
    body = "\n".join(lines) + "\n"
    monkeypatch.setattr(parts, "VECTOR_TYPING", True)
    monkeypatch.setattr(parts, "ARROW_STRUCTURE", arrow)
    vector = parse_body(tmp_path, "vector", body.encode(), contract)
    monkeypatch.setattr(parts, "ARROW_STRUCTURE", False)
    monkeypatch.setattr(VectorTyper, "__init__", no_vectors)
    rows = parse_body(tmp_path, "rows", body.encode(), contract)
    assert vector.rows_read == rows.rows_read == 3002
    assert vector.rows_by_dt == rows.rows_by_dt
    assert vector.reasons == rows.reasons
    assert vector.rejects_rows == rows.rejects_rows > 2
    assert spilled(vector) == spilled(rows)
    assert gzip.decompress(vector.rejects_path.read_bytes()) == gzip.decompress(
        rows.rejects_path.read_bytes()
    )
