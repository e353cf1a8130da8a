"""One Glue table per dataset, from its contract: its ``TableInput``, schema evolution checks, create or evolve.

The table is named like the dataset, at ``s3://<bucket>/curated/<dataset>/``, partitioned by the contract's
partition column (a string ``YYYY-MM-DD``); added nullable columns and integer/float widenings evolve it,
every other schema change is refused naming the column, the old and the new type.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from airlake.catalog.errors import CatalogError, ColumnChange, SchemaEvolutionError, error_code, glue_call
from airlake.lake import curated_dataset_prefix, s3_uri

if TYPE_CHECKING:
    from airlake.contracts import Contract

log = logging.getLogger(__name__)

PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

PARAM_CONTRACT = "airlake.contract"
PARAM_SCHEMA_HASH = "airlake.schema_hash"
PARAM_VERSION = "airlake.version"
COLUMN_PARAM_NULLABLE = "airlake.nullable"
"""Column parameter holding the contract's nullability ("true"/"false"): Glue itself has none."""

MAX_COMMENT = 255
"""Glue's limit on a column comment."""
MAX_TABLE_DESCRIPTION = 2048

SAFE_WIDENINGS: frozenset[tuple[str, str]] = frozenset(
    {
        ("tinyint", "smallint"),
        ("tinyint", "int"),
        ("tinyint", "bigint"),
        ("smallint", "int"),
        ("smallint", "bigint"),
        ("int", "bigint"),
        ("float", "double"),
    }
)
"""Type changes Athena reads across old and new Parquet files (its documented integer and float
promotions). Every other type change is refused."""

# (integer digits, fraction digits) a numeric type holds: to call a refused change a narrowing.
_NUMERIC_CAPACITY: dict[str, tuple[int, int]] = {
    "tinyint": (3, 0),
    "smallint": (5, 0),
    "int": (10, 0),
    "bigint": (19, 0),
    "float": (38, 7),
    "double": (308, 15),
}


def curated_location(bucket: str, dataset: str) -> str:
    """``s3://<bucket>/curated/<dataset>/``: the table's location (partitions point below it)."""
    return s3_uri(bucket, curated_dataset_prefix(dataset))


def _comment(text: str | None, limit: int = MAX_COMMENT) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _glue_column(name: str, glue_type: str, description: str | None, nullable: bool) -> dict[str, Any]:
    column: dict[str, Any] = {"Name": name, "Type": glue_type}
    comment = _comment(description)
    if comment:
        column["Comment"] = comment
    column["Parameters"] = {COLUMN_PARAM_NULLABLE: "true" if nullable else "false"}
    return column


def table_input(contract: Contract, bucket: str) -> dict[str, Any]:
    """
    The Glue ``TableInput`` of a contract: an external Parquet table over the dataset's curated prefix.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.create_table`

    :param contract: the dataset contract.
    :param bucket: the lake bucket holding ``curated/<dataset>/``.
    :return: ``TableInput`` for ``create_table`` / ``update_table``.
    """
    partition_comment = f"Partition: UTC date (YYYY-MM-DD) of {contract.event_time}"
    return {
        "Name": contract.name,
        "Description": _comment(contract.description, MAX_TABLE_DESCRIPTION) or contract.name,
        "Owner": contract.owner,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "EXTERNAL": "TRUE",
            "parquet.compression": "ZSTD",
            PARAM_CONTRACT: contract.name,
            PARAM_SCHEMA_HASH: contract.schema_hash,
        },
        "PartitionKeys": [
            {"Name": contract.partition_column, "Type": "string", "Comment": partition_comment}
        ],
        "StorageDescriptor": parquet_storage_descriptor(
            [
                _glue_column(column.name, column.glue_type, column.description, column.nullable)
                for column in contract.columns
            ],
            curated_location(bucket, contract.name),
        ),
    }


def parquet_storage_descriptor(columns: list[dict[str, Any]], location: str) -> dict[str, Any]:
    """The ``StorageDescriptor`` every Airlake table shares: Parquet files under ``location``."""
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": PARQUET_INPUT_FORMAT,
        "OutputFormat": PARQUET_OUTPUT_FORMAT,
        "Compressed": False,
        "SerdeInfo": {
            "SerializationLibrary": PARQUET_SERDE,
            "Parameters": {"serialization.format": "1"},
        },
        "StoredAsSubDirectories": False,
    }


@dataclass(frozen=True)
class TableChange:
    """What :func:`ensure_table` did to the table: ``created``, ``updated`` or ``unchanged``."""

    database: str
    table: str
    action: str
    schema_hash: str
    previous_schema_hash: str | None = None
    added_columns: tuple[str, ...] = ()
    widened_columns: tuple[tuple[str, str, str], ...] = ()
    """(column, old type, new type) of each accepted widening."""
    details: tuple[str, ...] = ()
    """Other table fields that were brought in step (location, description, comments, ...)."""

    @property
    def changed(self) -> bool:
        return self.action != "unchanged"

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "added_columns": list(self.added_columns),
            "widened_columns": [
                {"column": name, "old_type": old, "new_type": new} for name, old, new in self.widened_columns
            ],
            "details": list(self.details),
        }


def normalize_glue_type(glue_type: str) -> str:
    """``DECIMAL(12, 2)`` -> ``decimal(12,2)``: Glue keeps type names as written."""
    return "".join(glue_type.split()).lower()


def _numeric_capacity(glue_type: str) -> tuple[int, int] | None:
    if glue_type.startswith("decimal(") and glue_type.endswith(")"):
        try:
            precision, scale = (int(part) for part in glue_type[8:-1].split(","))
        except ValueError:
            return None
        return precision - scale, scale
    return _NUMERIC_CAPACITY.get(glue_type)


def _type_change_problem(old: str, new: str) -> str | None:
    """None when ``old -> new`` is safe for the Parquet data already written, else what is wrong."""
    if old == new or (old, new) in SAFE_WIDENINGS:
        return None
    old_capacity, new_capacity = _numeric_capacity(old), _numeric_capacity(new)
    if old_capacity and new_capacity:
        if new_capacity[0] < old_capacity[0] or new_capacity[1] < old_capacity[1]:
            return "narrowing: values already written may not fit the new type"
        return "changed numeric type: Parquet files already written keep the old physical type"
    return "changed type: Parquet files already written keep the old type"


def _is_nullable(column: Mapping[str, Any]) -> bool | None:
    value = (column.get("Parameters") or {}).get(COLUMN_PARAM_NULLABLE)
    return None if value is None else value == "true"


def _columns_of(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((table.get("StorageDescriptor") or {}).get("Columns") or [])


def comparable_table(table: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a table (GetTable output or TableInput) the lake manages, normalised: equal when the
    table is what a ``TableInput`` asks for."""
    sd = table.get("StorageDescriptor") or {}
    serde = sd.get("SerdeInfo") or {}

    def column(c: Mapping[str, Any]) -> tuple[Any, ...]:
        params = tuple(sorted((c.get("Parameters") or {}).items()))
        return c["Name"], normalize_glue_type(c["Type"]), c.get("Comment") or None, params

    return {
        "Description": table.get("Description"),
        "Owner": table.get("Owner"),
        "TableType": table.get("TableType"),
        "Parameters": dict(table.get("Parameters") or {}),
        "PartitionKeys": [column(c) for c in table.get("PartitionKeys") or []],
        "Columns": [column(c) for c in sd.get("Columns") or []],
        "Location": sd.get("Location"),
        "InputFormat": sd.get("InputFormat"),
        "OutputFormat": sd.get("OutputFormat"),
        "SerializationLibrary": serde.get("SerializationLibrary"),
        "SerdeParameters": dict(serde.get("Parameters") or {}),
    }


def plan_table(
    current: Mapping[str, Any], contract: Contract, bucket: str
) -> tuple[dict[str, Any], TableChange]:
    """
    The ``TableInput`` that evolves ``current`` (a GetTable result) to ``contract``, and what changes.

    Existing columns keep their order (new data is read by name); added nullable columns are appended.
    Raise :class:`SchemaEvolutionError` listing every incompatible change: a changed or narrowed type,
    a dropped column, an added NOT NULL column, changed partition keys.

    :param current: the table as returned by ``get_table``.
    :param contract: the dataset contract.
    :param bucket: the lake bucket.
    :return: (``TableInput`` for ``update_table``, the :class:`TableChange`; action ``unchanged`` when
        the table already matches).
    """
    database = str(current.get("DatabaseName", ""))
    name = str(current.get("Name", contract.name))
    desired = table_input(contract, bucket)
    current_params = dict(current.get("Parameters") or {})
    owner = current_params.get(PARAM_CONTRACT)
    if owner and owner != contract.name:
        raise CatalogError(
            f"Glue table {database}.{name} belongs to contract {owner!r}, not {contract.name!r}: "
            "choose another database or drop the table"
        )

    problems: list[ColumnChange] = []
    old_keys = [(k["Name"], normalize_glue_type(k["Type"])) for k in current.get("PartitionKeys") or []]
    new_keys = [(k["Name"], k["Type"]) for k in desired["PartitionKeys"]]
    if old_keys != new_keys:
        problems.append(
            ColumnChange(
                column="(partition keys)",
                old_type=", ".join(f"{n} {t}" for n, t in old_keys) or "none",
                new_type=", ".join(f"{n} {t}" for n, t in new_keys),
                problem="partition keys cannot change: the data is laid out by them",
            )
        )

    wanted = {c["Name"]: c for c in desired["StorageDescriptor"]["Columns"]}
    evolved: list[dict[str, Any]] = []
    widened: list[tuple[str, str, str]] = []
    for old in _columns_of(current):
        old_type = normalize_glue_type(old["Type"])
        new = wanted.get(old["Name"])
        if new is None:
            required = _is_nullable(old) is False
            problems.append(
                ColumnChange(
                    column=old["Name"],
                    old_type=old_type,
                    new_type="(dropped)",
                    problem=("dropped required column" if required else "dropped column")
                    + ": data already written has it; keep it in the contract (nullable) instead",
                )
            )
            continue
        problem = _type_change_problem(old_type, new["Type"])
        if problem:
            problems.append(ColumnChange(old["Name"], old_type, new["Type"], problem))
        elif old_type != new["Type"]:
            widened.append((old["Name"], old_type, new["Type"]))
        evolved.append(new)
    known = {c["Name"] for c in _columns_of(current)}
    added = [c for c in desired["StorageDescriptor"]["Columns"] if c["Name"] not in known]
    for column in added:
        if column["Parameters"][COLUMN_PARAM_NULLABLE] != "true":
            problems.append(
                ColumnChange(
                    column=column["Name"],
                    old_type="(absent)",
                    new_type=column["Type"],
                    problem="added column must be nullable: partitions already written have no value for it",
                )
            )
    if problems:
        raise SchemaEvolutionError(database, name, contract.name, problems)

    evolved.extend(added)
    new_input = copy.deepcopy(desired)
    new_input["StorageDescriptor"]["Columns"] = evolved
    new_input["Parameters"] = {**current_params, **desired["Parameters"]}
    # Keep what other tools set on the storage descriptor (statistics, Athena properties).
    current_sd = current.get("StorageDescriptor") or {}
    if current_sd.get("Parameters"):
        new_input["StorageDescriptor"]["Parameters"] = dict(current_sd["Parameters"])

    before, after = comparable_table(current), comparable_table(new_input)
    details = tuple(key for key in after if before[key] != after[key] and key != "Columns")
    columns_changed = before["Columns"] != after["Columns"]
    change = TableChange(
        database=database,
        table=name,
        action="updated" if details or columns_changed else "unchanged",
        schema_hash=contract.schema_hash,
        previous_schema_hash=current_params.get(PARAM_SCHEMA_HASH),
        added_columns=tuple(c["Name"] for c in added),
        widened_columns=tuple(widened),
        details=details + (("Columns",) if columns_changed else ()),
    )
    return new_input, change


def ensure_table(glue: Any, database: str, contract: Contract, bucket: str) -> TableChange:
    """
    Create the dataset's table from its contract, or evolve the existing one to it.

    Added nullable columns are appended and integer/float types may widen; any other schema change
    raises :class:`SchemaEvolutionError` naming the column, the old and the new type (see
    :func:`plan_table`). Nothing is written when the table already matches.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_table`
        - :external+boto3:py:meth:`Glue.Client.create_table`
        - :external+boto3:py:meth:`Glue.Client.update_table`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database (it must exist: :func:`ensure_database`).
    :param contract: the dataset contract; the table is named like the dataset.
    :param bucket: the lake bucket holding ``curated/<dataset>/``.
    :return: what was done.
    """
    current = get_table(glue, database, contract.name)
    if current is None:
        wanted = table_input(contract, bucket)
        try:
            glue.create_table(DatabaseName=database, TableInput=wanted)
        except ClientError as exc:
            if error_code(exc) != "AlreadyExistsException":
                raise CatalogError(f"create_table {database}.{contract.name} failed: {exc}") from exc
            current = get_table(glue, database, contract.name)
            if current is None:
                raise CatalogError(f"table {database}.{contract.name} exists and does not") from exc
            if comparable_table(current) == comparable_table(wanted):
                # the resend of a create whose reply was lost (or a concurrent run of the same contract)
                log.info("Glue table %s.%s already created as wanted (a lost reply)", database, contract.name)
                return TableChange(database, contract.name, "created", schema_hash=contract.schema_hash)
            # created concurrently from another contract version: evolve it (or refuse, naming the columns)
        else:
            log.info("Created Glue table %s.%s (schema %s)", database, contract.name, contract.schema_hash)
            return TableChange(database, contract.name, "created", schema_hash=contract.schema_hash)
    new_input, change = plan_table({"DatabaseName": database, **current}, contract, bucket)
    if change.changed:
        with glue_call(f"update_table {database}.{contract.name}"):
            glue.update_table(DatabaseName=database, TableInput=new_input)
        log.info(
            "Updated Glue table %s.%s: added %s, widened %s, changed %s",
            database,
            contract.name,
            list(change.added_columns) or "-",
            list(change.widened_columns) or "-",
            list(change.details) or "-",
        )
    return change


def create_table(glue: Any, database: str, table_input: Mapping[str, Any]) -> None:
    """
    Create a table. One already there exactly as ``table_input`` asks is success: the resend of a create
    whose reply was lost after Glue applied it (or a concurrent run creating the same). Any other table of
    that name is a :class:`CatalogError` naming each field that differs, as wanted and as found.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.create_table`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :param table_input: the ``TableInput``.
    """
    name = table_input["Name"]
    try:
        glue.create_table(DatabaseName=database, TableInput=dict(table_input))
    except ClientError as exc:
        if error_code(exc) != "AlreadyExistsException":
            error = exc.response.get("Error", {})
            raise CatalogError(
                f"create_table {database}.{name} failed: {error.get('Code', '?')}: {error.get('Message', exc)}"
            ) from exc
        current = get_table(glue, database, name)
        if current is None:
            raise CatalogError(f"create_table {database}.{name}: it exists and does not") from exc
        wanted, found = comparable_table(table_input), comparable_table(current)
        differing = [key for key in wanted if wanted[key] != found[key]]
        if differing:
            lines = "; ".join(f"{key}: wanted {wanted[key]!r}, found {found[key]!r}" for key in differing)
            raise CatalogError(
                f"create_table {database}.{name}: another table of that name is there ({lines})"
            ) from exc
        log.info("Glue table %s.%s already created as wanted (a lost reply)", database, name)
        return
    log.info("Created Glue table %s.%s", database, name)


def get_table(glue: Any, database: str, table: str) -> dict[str, Any] | None:
    """
    The table, or None when it (or its database) does not exist.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_table`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :param table: name of the table.
    """
    try:
        return glue.get_table(DatabaseName=database, Name=table)["Table"]
    except ClientError as exc:
        if error_code(exc) == "EntityNotFoundException":
            return None
        raise CatalogError(f"get_table {database}.{table} failed: {exc}") from exc


def partition_key_of(table: Mapping[str, Any] | None) -> str | None:
    """
    The partition column of a Glue table (its one ``PartitionKeys`` entry, lower case): the
    contract's ``partitioning.column`` for a dataset's table. None when it has none, or several.
    """
    keys = [str(key["Name"]).lower() for key in (table or {}).get("PartitionKeys") or []]
    return keys[0] if len(keys) == 1 else None
