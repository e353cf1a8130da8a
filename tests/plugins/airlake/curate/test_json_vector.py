"""JSON Lines read by Arrow a block at a time gives exactly what the strict reader and row parser give.

Random lines (every column's value drawn around the edges of its JSON kind, and broken lines of every
kind the strict reader names) go through ``parse_part`` twice: with the block path, in small blocks so
refused blocks are halved many times, and with the row path alone. Spilled rows, counts and the
rejects file must be identical.
"""

from __future__ import annotations

import gzip
import json
import random
from typing import Any

import pytest

from airlake.contracts import Contract
from airlake.curate import blocks, json_vector
from airlake.curate.vector import VectorTyper
from tests.plugins.airlake.curate.malformed_corpus import CASES
from tests.plugins.airlake.curate.vector_helpers import no_vectors, parse_body, spilled, vector_contract


def _contract(**jsonl: Any) -> Contract:
    return vector_contract("jsonl", jsonl=jsonl)


def _clean(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "small": -i,
        "name": f"n{i % 7}",
        "kind": "abc"[i % 3],
        "ratio": i + 0.25,
        "amount": f"{i % 999}.{i % 100:02d}",
        "flag": i % 2 == 0,
        "day": "2024-02-29",
        "naive": f"2026-11-20 10:00:{i % 60:02d}.123",
        "at": f"2026-11-{1 + i % 28:02d}T23:{i % 60:02d}:00.123456-05:00",
    }


_ODD_VALUES: list[Any] = [
    None, "", " ", "x", "1", "-5", "2.5", "true", 0, -0, 1, -1, 2**31, -(2**31) - 1, 2**63, 10**30,
    1.5, -0.0, 1e3, 1e400, True, False, [], [1], {}, {"a": 1}, "a", "b", "NA", "\u00e9",
    "2026-02-29", "2024-02-29", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00", "2026-11-20 10:00:00+05:30",
    "2026-11-20T24:00:00Z", "1999-12-31T23:59:59.5Z", "20261120",
    "12.5", "12.345", "-0.01", "1e2", ".5", "5.", "+5", " 5.1", "123456.78", "1234567.00", 12.5, 7,
]  # fmt: skip


def _line(rng: random.Random, i: int, dirt: float) -> str:
    """A clean line, or with probability ``dirt`` one with odd values or broken."""
    record: dict[str, Any] = _clean(i)
    if rng.random() >= dirt:
        return json.dumps(record)
    for name in rng.sample(list(record), rng.randint(0, 2)):
        if rng.random() < 0.15:
            del record[name]
        else:
            record[name] = rng.choice(_ODD_VALUES)
    if rng.random() < 0.05:
        record["extra"] = rng.choice([1, "x", [1, {"b": None}], {"deep": [[[[1]]]]}])
    text = json.dumps(record, ensure_ascii=rng.random() < 0.5)
    roll = rng.random() / 10  # half of the dirty lines are broken
    if roll < 0.004:
        return text.replace('"name": ', '"name": "dup", "name": ')
    if roll < 0.008:
        return text.replace('"name": "', '"name": "\\u0000')
    if roll < 0.012:
        return text.replace('"name": "', '"name": "\\ud800')
    if roll < 0.016:
        return text + " " + text  # two objects on one line
    if roll < 0.02:
        return text[:-3]  # cut short
    if roll < 0.024:
        return rng.choice(["[1, 2]", "5", "null", '"text"', "{'single': 1}", "NaN"])
    if roll < 0.028:
        return text.replace('"kind": ', '"kind": NaN, "k2": ')
    if roll < 0.032:
        return "\ufeff" + text  # a byte order mark inside the file
    if roll < 0.036:
        return text + "\r"
    if roll < 0.04:
        return text.replace("}", "\r" + text[:-1] + "}", 1) if len(text) > 2 else text  # a lone CR
    if roll < 0.044:
        return '{"extra": ' + "[" * 3000 + "]" * 3000 + ', "id": 1}'  # deeper than Python decodes
    if roll < 0.046:
        return text[:-1] + ', "big": ' + "9" * 5000 + "}"  # more digits than Python decodes
    if roll < 0.047:
        return json.dumps({**record, "name": "x" * 5000})  # a long line, nothing wrong with it
    if roll < 0.048:
        return ""  # blank
    if roll < 0.05:
        return rng.choice([" \t ", "\x0b", "\x0c  "])  # blank for Python, not for JSON
    return text


def _body(seed: int, count: int, dirt: float) -> bytes:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    lines = [_line(rng, i, dirt) for i in range(count)]
    body = "\n".join(lines).encode("utf-8")
    if seed % 2:  # invalid UTF-8 on a few lines, and no line end at the end of the file
        body = body.replace(b'"n3"', b'"n\xff3"', 3)
        return body
    return body + b"\n"


def _both_paths(tmp_path: Any, monkeypatch: Any, body: bytes, contract: Contract) -> tuple[Any, Any, int]:
    """(block path result, row path result, rows the block path typed from Arrow's values)."""
    fast = {"rows": 0}
    type_block = blocks.type_block

    def counting(parser: Any, typer: Any, records: Any, *args: Any) -> Any:
        block = type_block(parser, typer, records, *args)
        if typer is not None:
            fast["rows"] += len(records) - block.row_parsed
        return block

    monkeypatch.setattr(blocks, "type_block", counting)
    vector = parse_body(tmp_path, "vector", body, contract)
    monkeypatch.undo()
    monkeypatch.setattr(VectorTyper, "__init__", no_vectors)
    rows = parse_body(tmp_path, "rows", body, contract)
    monkeypatch.undo()
    assert vector.rows_read == rows.rows_read
    assert vector.rows_by_dt == rows.rows_by_dt
    assert vector.reasons == rows.reasons
    assert vector.rejects_rows == rows.rejects_rows
    assert spilled(vector) == spilled(rows)
    assert gzip.decompress(vector.rejects_path.read_bytes()) == gzip.decompress(
        rows.rejects_path.read_bytes()
    )
    return vector, rows, fast["rows"]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dirt", [1.0, 0.01], ids=["dirty", "sparse"])
def test_random_lines_read_the_same_on_both_paths(
    tmp_path: Any, monkeypatch: Any, seed: int, dirt: float
) -> None:
    body = _body(seed, 3000, dirt)
    with monkeypatch.context() as inner:  # many blocks, each halved when refused
        inner.setattr(json_vector, "BLOCK_BYTES", 16 * 1024)
        inner.setattr(json_vector, "MIN_SPLIT_LINES", 4)
        _, rows, fast = _both_paths(tmp_path, monkeypatch, body, _contract())
    if dirt == 1.0:  # every line odd or broken: a reason of every kind, the same on both paths
        assert rows.rejects_rows > 1000
        assert set(rows.reasons) >= {"not_json", "wrong_type", "not_an_object", "null_value", "missing_field"}
    else:  # a few: Arrow still typed most rows, so the test proves something about its values
        assert 0 < rows.rejects_rows < 100
        assert fast > 2500


def test_clean_lines_are_all_typed_from_arrow(tmp_path: Any, monkeypatch: Any) -> None:
    body = "".join(json.dumps(_clean(i)) + "\n" for i in range(2000)).encode()
    vector, _, fast = _both_paths(tmp_path, monkeypatch, body, _contract())
    assert vector.rows_read == 2000 and vector.rejects_rows == 0
    assert fast == 2000


def test_a_column_of_another_json_kind_throughout_falls_back_to_the_row_path(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """Integers sent as strings ("7"): Arrow refuses every block; the strict reader types them all."""
    lines = [json.dumps({**_clean(i), "id": str(i)}) for i in range(1200)]
    vector, _, fast = _both_paths(tmp_path, monkeypatch, ("\n".join(lines) + "\n").encode(), _contract())
    assert vector.rows_read == 1200 and vector.rejects_rows == 0 and fast == 0


def test_null_markers_apply_to_string_values(tmp_path: Any, monkeypatch: Any) -> None:
    lines = [json.dumps({**_clean(i), "name": "NA" if i % 3 else "x"}) for i in range(900)]
    contract = _contract(null_values=["NA"])
    vector, _, fast = _both_paths(tmp_path, monkeypatch, ("\n".join(lines) + "\n").encode(), contract)
    assert fast == 900
    names = [row["name"] for rows in spilled(vector).values() for row in rows]
    assert names.count(None) == 600


@pytest.mark.parametrize("case", [c for c in CASES if c.fmt == "jsonl"], ids=lambda c: c.id)
def test_corpus_files_read_the_same_on_both_paths(case: Any, tmp_path: Any, monkeypatch: Any) -> None:
    _both_paths(tmp_path, monkeypatch, case.body, case.contract())


@pytest.mark.parametrize("depth", [70, 1100], ids=["python-decodes", "past-python-limit"])
def test_deep_nesting_among_flat_lines_is_judged_by_the_strict_reader(
    tmp_path: Any, monkeypatch: Any, depth: int
) -> None:
    """Arrow decodes any depth, Python's decoder not past ~1000: a deep line among thousands of flat ones
    (whose brackets alone stay under the limit) must still be a suspect, read the strict way."""
    lines = [json.dumps(_clean(i)) for i in range(3000)]
    deep = _clean(3000)
    lines.insert(1500, json.dumps(deep)[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}")
    vector, rows, fast = _both_paths(tmp_path, monkeypatch, ("\n".join(lines) + "\n").encode(), _contract())
    assert vector.rows_read == 3001
    assert rows.rejects_rows == (1 if depth > 1000 else 0)
    assert fast == 3000
