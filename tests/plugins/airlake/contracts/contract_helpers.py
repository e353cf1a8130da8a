"""A base contract to mutate, and helpers to write it and read its errors (shared by the contract tests)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from airlake.contracts import ContractError, load_contract

DEMO_DATASETS = ("clickstream", "fx_rates", "orders", "payments", "products")

BASE = textwrap.dedent(
    """\
    name: widgets
    description: Widgets sold by the test shop.
    owner: test-team
    schedule: "@daily"
    tags: [test]
    source:
      kind: database
      conn_id: shop_db
      table: public.widgets
      watermark_column: updated_at
    schema:
      - name: widget_id
        type: bigint
        nullable: false
      - name: color
        type: string
      - name: price
        type: decimal(10,2)
        nullable: false
      - name: updated_at
        type: timestamptz
        nullable: false
    primary_key: [widget_id]
    event_time: updated_at
    dedup:
      keep: latest
      order_by: updated_at
    quality:
      checks:
        - kind: range
          column: price
          min: 0
        - kind: accepted_values
          column: color
          values: [red, green]
    tiering:
      standard_ia_after_days: 30
      glacier_after_days: 90
    warehouse:
      table: widgets
      mode: merge
    """
)

BASE_SOURCE = textwrap.dedent(
    """\
    source:
      kind: database
      conn_id: shop_db
      table: public.widgets
      watermark_column: updated_at
    """
)


def write(folder: Path, text: str, stem: str = "widgets") -> Path:
    path = folder / f"{stem}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def mutate(old: str, new: str) -> str:
    assert old in BASE, f"{old!r} is not in the base contract"
    return BASE.replace(old, new, 1)


def with_source(block: str) -> str:
    return BASE.replace(BASE_SOURCE, textwrap.dedent(block), 1)


def error_lines(path: Path) -> list[str]:
    with pytest.raises(ContractError) as excinfo:
        load_contract(path)
    return str(excinfo.value).splitlines()


def assert_reported(lines: list[str], file_name: str, field_path: str, reason: str) -> None:
    prefix = f"{file_name}: {field_path}: " if field_path else f"{file_name}: "
    matching = [line for line in lines if prefix in line and reason in line]
    assert matching, f"no error line with {prefix!r} and {reason!r} in:\n" + "\n".join(lines)
