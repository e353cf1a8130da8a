"""Helpers of the vector-path identity tests: one contract with a column of every type and checks on
several, a part parsed to its spill, and the row path alone (every block's rules switched off)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from airlake.contracts import Contract
from airlake.curate.parts import PartResult, PartTask, parse_part
from airlake.curate.vector import VectorTyper


def vector_contract(fmt: str = "csv", **source: Any) -> Contract:
    """Every column type, NOT NULL columns, accepted values and ranges; ``source``: reading options."""
    schema = [
        {"name": "id", "type": "bigint", "nullable": False},
        {"name": "small", "type": "int"},
        {"name": "name", "type": "string"},
        {"name": "kind", "type": "string"},
        {"name": "amount", "type": "decimal(8,2)"},
        {"name": "ratio", "type": "double"},
        {"name": "flag", "type": "boolean"},
        {"name": "day", "type": "date"},
        {"name": "naive", "type": "timestamp"},
        {"name": "at", "type": "timestamptz", "nullable": False},
    ]
    checks = [
        {"kind": "accepted_values", "column": "kind", "values": ["a", "b", "c"]},
        {"kind": "range", "column": "amount", "min": 0, "max": 1000},
        {"kind": "range", "column": "at", "min": date(2000, 1, 1), "max": date(2100, 1, 1)},
    ]
    return Contract.model_validate(
        {
            "name": "vec",
            "description": "vector identity",
            "owner": "tests",
            "source": {"kind": "files", "landing_prefix": "landing/v/", "format": fmt, **source},
            "schema": schema,
            "primary_key": ["id"],
            "event_time": "at",
            "quality": {"checks": checks},
        }
    )


def parse_body(tmp_path: Path, name: str, body: bytes, contract: Contract) -> PartResult:
    """``body`` parsed as one raw part of ``contract``'s format (spill and rejects under ``name``)."""
    suffix = contract.source.format  # type: ignore[union-attr]
    path = tmp_path / f"{name}.{suffix}"
    path.write_bytes(body)
    out = tmp_path / name
    out.mkdir()
    key = f"raw/v/part-00003.{suffix}"
    task = PartTask(index=3, key=key, path=path, out_dir=out, contract=contract, flush_rows=700)
    return parse_part(task)


def spilled(result: PartResult) -> dict[str, list[dict[str, Any]]]:
    """The spilled rows of a part per partition date, in ``_seq`` order."""
    return {
        dt: sorted(
            (row for path in paths for row in pq.read_table(path).to_pylist()), key=lambda row: row["_seq"]
        )
        for dt, paths in result.spill_files.items()
    }


def no_vectors(self: VectorTyper, contract: Contract) -> None:
    """A VectorTyper.__init__ with no rules: every row goes through the row parser."""
    self.exact = False
