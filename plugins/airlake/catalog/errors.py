"""The catalog's errors, and the one way a botocore ``ClientError`` of Glue becomes one of them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from botocore.exceptions import ClientError


class CatalogError(RuntimeError):
    """The Glue Data Catalog could not be brought in step with a contract or a run."""


@dataclass(frozen=True, slots=True)
class ColumnChange:
    """One incompatible difference between the Glue table and the contract."""

    column: str
    old_type: str
    new_type: str
    problem: str

    def __str__(self) -> str:
        return f"column {self.column!r}: {self.old_type} -> {self.new_type} ({self.problem})"


class SchemaEvolutionError(CatalogError):
    """The contract changed the schema in a way the existing table and its data cannot follow."""

    def __init__(self, database: str, table: str, contract: str, changes: Sequence[ColumnChange]) -> None:
        self.database = database
        self.table = table
        self.contract = contract
        self.changes: tuple[ColumnChange, ...] = tuple(changes)
        lines = "\n".join(f"  - {change}" for change in self.changes)
        super().__init__(
            f"Glue table {database}.{table} cannot evolve to contract {contract!r}: "
            f"{len(self.changes)} incompatible change(s)\n{lines}\n"
            "Only added nullable columns and integer/float widenings evolve a table; "
            "any other change needs a new dataset or a manual migration of the data already written."
        )


class ParquetSchemaError(CatalogError):
    """A written Parquet file does not match the Glue table it is about to be registered in."""

    def __init__(self, file: str, mismatches: Sequence[ColumnChange]) -> None:
        self.file = file
        self.mismatches: tuple[ColumnChange, ...] = tuple(mismatches)
        lines = "\n".join(
            f"  - column {m.column!r}: expected {m.old_type}, found {m.new_type}" for m in self.mismatches
        )
        super().__init__(f"Parquet file {file} does not match the Glue table:\n{lines}")


class PartitionPublishError(CatalogError):
    """Glue refused some partitions of a batch; ``errors`` maps each partition's values to the reason."""

    def __init__(self, database: str, table: str, action: str, errors: Mapping[tuple[str, ...], str]) -> None:
        self.errors = dict(errors)
        listed = "; ".join(f"{list(values)}: {reason}" for values, reason in self.errors.items())
        super().__init__(
            f"{action} of {len(self.errors)} partition(s) of {database}.{table} failed: {listed}"
        )


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ``ClientError`` (``EntityNotFoundException``, ...); empty when it has none."""
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def glue_call(what: str) -> Iterator[None]:
    """Turn a botocore ClientError into a CatalogError that says what was being done."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CatalogError(f"{what} failed: {error.get('Code', '?')}: {error.get('Message', exc)}") from exc
