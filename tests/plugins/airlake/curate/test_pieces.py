"""One raw file cut into pieces parsed apart (:mod:`airlake.curate.pieces`) gives what parsing it whole
gives: the same spilled rows (values and ``_seq`` ordinals), the same rejects (bytes: line, reason,
message, raw), the same accounting by physical record and header findings, whatever the cuts."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from airlake.curate import parts, pieces
from airlake.curate.parts import PartResult, PartTask, parse_cut, parse_part, parse_parts
from tests.plugins.airlake.curate.malformed_corpus import CASES, HEADER, STAMP, Case, csv_text, ok

pytestmark = pytest.mark.usefixtures("curate_path")  # by the row path and by the Arrow path

SUFFIX = {"csv": ".csv", "jsonl": ".jsonl"}
CUT_CASES = [case for case in CASES if case.fmt in SUFFIX]


def _task(case_contract: Any, body: bytes, folder: Path, suffix: str) -> PartTask:
    folder.mkdir(parents=True)
    path = folder / "raw"
    path.write_bytes(body)
    key = f"raw/corpus/ingest_date=2026-11-20/run=r/part-00003{suffix}"
    return PartTask(index=3, key=key, path=path, out_dir=folder, contract=case_contract, flush_rows=4)


def outcome(result: PartResult) -> dict[str, Any]:
    """Everything a curate run takes from a part's result: rows per partition in spill order (with
    their ordinals), the rejects file's text, counts and header findings."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for dt, files in sorted(result.spill_files.items()):
        for file in files:
            rows.setdefault(dt, []).extend(pq.read_table(file).to_pylist())
    assert result.rejects_path is not None
    rejects = gzip.decompress(result.rejects_path.read_bytes()).decode()
    return {
        "rows": {dt: sorted(values, key=lambda r: r["_seq"]) for dt, values in rows.items()},
        "rejects": rejects,
        "counts": (result.rows_read, result.rows_by_dt, result.rejects_rows, result.reasons),
        "header": result.header,
    }


def compare_cuts(contract: Any, body: bytes, tmp_path: Path, suffix: str, targets: tuple[int, ...]) -> Any:
    whole = outcome(parse_part(_task(contract, body, tmp_path / "whole", suffix)))
    for target in targets:
        cut = outcome(parse_cut(_task(contract, body, tmp_path / f"cut-{target}", suffix), target))
        assert cut == whole, f"pieces of about {target} bytes"
    return whole


def bodies(case: Case) -> list[bytes]:
    """The case's file as written (often gzip) and as plain text."""
    text = gzip.decompress(case.body) if case.body[:2] == b"\x1f\x8b" else case.body
    return [case.body, text] if text != case.body else [text, gzip.compress(text, mtime=0)]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CUT_CASES])
def test_corpus_case_cut_anywhere_parses_as_whole(case: Case, tmp_path: Path) -> None:
    for number, body in enumerate(bodies(case)):
        compare_cuts(case.contract(), body, tmp_path / f"b{number}", SUFFIX[case.fmt], (1, 5, 40))


def _contract(**csv: Any) -> Any:
    return Case("x", b"", (), csv=csv).contract()


def test_quoted_line_breaks_across_would_be_cuts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    records = [ok(i) if i % 3 else f'{i},"a\nquoted, ""long""\r\nvalue",1.00,{STAMP}' for i in range(1, 60)]
    body = csv_text(*records, end="\r\n").encode()
    contract = _contract(newlines_in_values=True)
    with caplog.at_level(logging.WARNING, logger="airlake.curate.parts"):
        whole = compare_cuts(contract, body, tmp_path, ".csv", (1, 13, 100, 1000))
    assert sum(len(rows) for rows in whole["rows"].values()) == 59 and not whole["rejects"]
    assert "parsing the file whole" not in caplog.text  # the quote count put every cut at a record end
    task = _task(contract, body, tmp_path / "count", ".csv")
    assert len(list(pieces.split_task(task, 100))) > 5


def test_a_cut_inside_a_record_is_caught_and_the_file_parsed_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A quote inside an unquoted field (csv reads it as text) makes the quote count odd, so a cut
    falls inside the next quoted record: the piece before it ends in an open quote, and the file is
    parsed whole."""
    records = [ok(1, 'five"inch'), *[ok(i) for i in range(2, 30)], f'30,"two\nlines",1.00,{STAMP}']
    records += [ok(i) for i in range(31, 60)]
    body = csv_text(*records).encode()
    contract = _contract(newlines_in_values=True)
    with caplog.at_level(logging.WARNING, logger="airlake.curate.parts"):
        whole = compare_cuts(contract, body, tmp_path, ".csv", (1,))
    assert "parsing the file whole" in caplog.text
    assert sum(len(rows) for rows in whole["rows"].values()) == 59


def test_crlf_final_line_without_end_and_rejects_keep_their_lines(tmp_path: Path) -> None:
    records = [ok(i) if i % 7 else f"{i},bad,not-a-number,{STAMP}" for i in range(1, 80)]
    body = (csv_text(*records, end="\r\n") + ok(80)).encode()  # the last line has no line end
    for number, data in enumerate((body, gzip.compress(body, mtime=0))):
        whole = compare_cuts(_contract(), data, tmp_path / str(number), ".csv", (1, 64, 333))
        lines = [json.loads(line)["line"] for line in whole["rejects"].splitlines()]
        assert lines == [i + 1 for i in range(7, 80, 7)]  # physical lines (the header is line 1)


def test_no_header_lone_cr_bom_and_skip_rows(tmp_path: Path) -> None:
    body = "\ufeff" + "".join(ok(i) + ("\r" if i % 5 == 0 else "\n") for i in range(1, 40))
    compare_cuts(_contract(header=False), body.encode(), tmp_path / "a", ".csv", (1, 50))
    preamble = "exported by partner\nsecond line\n"
    body2 = preamble + csv_text(*[ok(i) for i in range(1, 40)])
    compare_cuts(_contract(skip_rows=2), body2.encode(), tmp_path / "b", ".csv", (1, 50))


def test_jsonl_bom_in_a_later_line_stays_a_reject(tmp_path: Path) -> None:
    line = '{"id": %d, "name": "n", "amount": "1.00", "at": "%s"}\n'
    body = b"".join((line % (i, STAMP)).encode() for i in range(1, 20))
    body += b"\xef\xbb\xbf" + (line % (20, STAMP)).encode() + b"\n\n" + (line % (21, STAMP)).encode()
    compare_cuts(_contract(), body, tmp_path, ".jsonl", (1, 30))


def test_a_header_that_might_span_lines_is_not_cut(tmp_path: Path) -> None:
    body = csv_text(ok(1), ok(2), header='id,"name",amount,at').encode()
    task = _task(_contract(), body, tmp_path / "t", ".csv")
    assert len(list(pieces.split_task(task, 1))) == 1


def test_a_pool_parses_one_big_file_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(pieces, "PIECE_MIN_BYTES", 1000)
    records = [ok(i) if i % 11 else f"{i},bad,x,{STAMP}" for i in range(1, 2000)]
    body = csv_text(*records, HEADER).encode()  # a repeated header line in the middle: a reject
    contract = _contract()
    whole = outcome(parse_part(_task(contract, body, tmp_path / "whole", ".csv")))
    for name, data in (("plain", body), ("gzip", gzip.compress(body, mtime=0))):
        task = _task(contract, data, tmp_path / name, ".csv")
        assert parts.worker_count(None, [{"key": task.key, "bytes": len(data)}]) >= 1
        (result,) = parse_parts(iter([task]), 2)
        assert outcome(result) == whole
        assert not task.path.exists()
        assert len(list((tmp_path / name).glob("piece-*"))) > 2  # it was cut
        shutil.rmtree(tmp_path / name)


def test_worker_count_uses_every_core_for_one_big_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts.os, "cpu_count", lambda: 8)
    big, small = parts.PARALLEL_MIN_BYTES, 100
    assert parts.worker_count(None, [{"key": "raw/a/part-00000.csv.gz", "bytes": big}]) == parts.MAX_WORKERS
    assert parts.worker_count(None, [{"key": "raw/a/part-00000.parquet", "bytes": big}]) == 1
    assert parts.worker_count(None, [{"key": "raw/a/part-00000.csv", "bytes": small}]) == 1
    assert parts.worker_count(3, [{"key": "raw/a/part-00000.jsonl", "bytes": big}]) == 3
    assert parts.worker_count(3, [{"key": "raw/a/part-00000.jsonl", "bytes": small}]) == 1
