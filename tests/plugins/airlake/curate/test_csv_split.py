"""The CSV splitter on files bigger than one read batch: records that cross a batch boundary, broken
quotes far from the end, and the same records whether the file is read in batches or line by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlake.contracts import CsvOptions
from airlake.curate.csv_split import BATCH_CHARS, CsvSplitter
from airlake.curate.parse import Reject
from airlake.curate.readers import count_records


def records(path: Path, **options: object) -> list[tuple[int, object]]:
    splitter = CsvSplitter(CsvOptions(**options))  # type: ignore[arg-type]
    with path.open("rb") as binary:
        return [
            (line, fields.reason if isinstance(fields, Reject) else fields)
            for line, fields, _ in splitter.records(splitter.open(binary))
        ]


def lines_to(size: int) -> list[str]:
    """Plain records numbered from 1 up to about ``size`` characters."""
    out, total = [], 0
    while total < size:
        out.append(f"{len(out) + 1},x\n")
        total += len(out[-1])
    return out


@pytest.mark.parametrize("comment", [None, "#"], ids=["batched", "line-by-line"])
def test_a_quoted_value_across_a_batch_boundary_is_one_record(tmp_path: Path, comment: str | None) -> None:
    before = lines_to(BATCH_CHARS - 10)
    value = "a" * 30 + "\n" + "b" * 30
    path = tmp_path / "f.csv"
    path.write_text("id,v\n" + "".join(before) + f'0,"{value}"\nlast,y\n')

    got = records(path, comment=comment)

    assert len(got) == 1 + len(before) + 2 == count_records(path, "csv", CsvOptions(comment=comment)) + 1
    assert got[-2] == (len(before) + 2, ["0", value]) and got[-1] == (len(before) + 4, ["last", "y"])


@pytest.mark.parametrize("comment", [None, "#"], ids=["batched", "line-by-line"])
def test_a_broken_quote_swallows_nothing_across_batches(tmp_path: Path, comment: str | None) -> None:
    after = lines_to(2 * BATCH_CHARS)
    path = tmp_path / "f.csv"
    path.write_text('id,v\n1,"open\n' + "".join(after))

    got = records(path, comment=comment)

    assert got[1] == (2, "unterminated_quote")
    assert [fields for _, fields in got[2:]] == [line.rstrip("\n").split(",") for line in after]
    assert [line for line, _ in got[2:]] == list(range(3, len(after) + 3))
    assert count_records(path, "csv", CsvOptions(comment=comment)) == len(after) + 1
