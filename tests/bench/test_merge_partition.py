"""bench.stages.merge_partition spills the busiest day of a generated week as the parse would and
merges it to exactly the rows the generator says a correct curate keeps for that day."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from bench.generate import dataset
from bench.stages import merge_partition


def test_the_busiest_day_merges_to_the_expected_rows(tmp_path: Path) -> None:
    data = dataset(tmp_path / "work", 20_000, ("csv",))
    day, files = merge_partition.spill_of_busiest_day(data.path("csv"), tmp_path, pieces=3)

    assert day in data.written_by_dt  # the day with most incoming rows (duplicates included)
    assert (
        len(files) == 3
        and sum(pq.ParquetFile(path).metadata.num_rows for path in files) > data.written_by_dt[day]
    )
    rounds = merge_partition.measure(files, tmp_path, rounds=2)
    assert [result["rows"] for result in rounds] == [data.written_by_dt[day]] * 2
    assert rounds[0]["bytes"] == rounds[1]["bytes"] > 0
