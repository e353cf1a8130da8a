"""The header contract and the contract's value rules, applied by every reader.

A file's header (CSV) or column names (Parquet) are checked against the schema before its rows
(:func:`check_header`: a refused file quarantines every record, naming file and column); the per-column
NULL markers and trimming (:func:`null_sets`, :func:`trimmed_columns`) say how field texts become values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airlake.curate.parse import EXTRA_COLUMN, MISSING_COLUMN, Reject

if TYPE_CHECKING:
    from airlake.contracts import Contract


@dataclass
class HeaderCheck:
    """What one file's header (or Parquet columns) says against the schema, and whether it is refused.

    ``as_dict()`` is what the curate manifest records for the part.
    """

    columns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: Reject | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"missing": self.missing, "extra": self.extra}
        if self.duplicates:
            out["duplicates"] = self.duplicates
        if self.refused is not None:
            out["refused"] = {"reason": self.refused.reason, "message": self.refused.message}
        if self.warnings:
            out["warnings"] = self.warnings
        return out


def check_header(names: Sequence[str], contract: Contract, source_key: str) -> HeaderCheck:
    """The header ``names`` of file ``source_key`` against the schema and the contract's policies."""
    on_extra, on_missing = "warn", "null"
    if contract.source.kind == "files":
        on_extra, on_missing = contract.source.on_extra_columns, contract.source.on_missing_nullable
    found = HeaderCheck(columns=list(names))
    seen: set[str] = set()
    for name in names:
        if name in seen and name not in found.duplicates:
            found.duplicates.append(name)
        seen.add(name)
    schema = {column.name: column for column in contract.columns}
    found.missing = [name for name in schema if name not in seen]
    found.extra = [name for name in dict.fromkeys(names) if name not in schema]
    required = [name for name in found.missing if not schema[name].nullable]
    nullable = [name for name in found.missing if schema[name].nullable]
    where = f"the header of {source_key}"
    if required:
        found.refused = Reject(
            MISSING_COLUMN,
            f"NOT NULL column(s) {', '.join(required)} missing from {where}: the file is refused",
            required[0],
        )
    elif nullable and on_missing == "refuse":
        found.refused = Reject(
            MISSING_COLUMN,
            f"column(s) {', '.join(nullable)} missing from {where} (on_missing_nullable: refuse)",
            nullable[0],
        )
    elif found.extra and on_extra == "refuse":
        found.refused = Reject(
            EXTRA_COLUMN,
            f"column(s) {', '.join(found.extra)} in {where} are not in the schema (on_extra_columns: refuse)",
            found.extra[0],
        )
    if found.refused is None:
        if nullable:
            found.warnings.append(f"{where} lacks nullable column(s) {', '.join(nullable)}: NULL in its rows")
        if found.extra and on_extra == "warn":
            found.warnings.append(
                f"{where} has column(s) {', '.join(found.extra)} not in the schema: dropped"
            )
        if found.duplicates:
            found.warnings.append(
                f"{where} names column(s) {', '.join(found.duplicates)} twice: the first one is read"
            )
    return found


def null_sets(contract: Contract, default: Sequence[str]) -> dict[str, frozenset[str]]:
    """Each column's NULL markers: its own ``null_values`` or the reading options' ``default``."""
    return {
        column.name: frozenset(column.null_values if column.null_values is not None else default)
        for column in contract.columns
    }


def trimmed_columns(contract: Contract, trim: str) -> frozenset[str]:
    """The columns whose texts are trimmed by the ``trim`` option (none, strings or all)."""
    if trim == "all":
        return frozenset(contract.column_names)
    if trim == "strings":
        return frozenset(c.name for c in contract.columns if c.column_type.base == "string")
    return frozenset()
