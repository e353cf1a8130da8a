"""Glue Data Catalog from the dataset contracts: database, table, schema evolution, partition publishing.

Plain functions over a boto3 ``glue`` client (``GlueCatalogHook(aws_conn_id=...).get_conn()`` in the
operator, ``boto3.client("glue", endpoint_url=...)`` in tests), so everything here runs without Airflow.

One table per dataset, named like the dataset, at ``s3://<bucket>/curated/<dataset>/``, partitioned by
the contract's partition column (``dt``, a string ``YYYY-MM-DD``). A partition points at exactly one
version prefix ``.../dt=<dt>/v=<version>/``: moving the pointer (:func:`publish_partitions`) is the
atomic publish of a new version; readers see the old or the new one, never half of one.

pyarrow is imported only by the functions that read Parquet footers.
"""

from __future__ import annotations

import copy
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    import pyarrow as pa

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
BATCH_SIZE = 100
"""Most partitions one batch_create_partition / batch_update_partition call accepts."""
BATCH_GET_SIZE = 1000
"""Most partitions one batch_get_partition call accepts."""
FOOTER_TAIL_BYTES = 1024 * 1024
"""Bytes fetched from the end of a Parquet file to read its footer (one ranged GET in the common case)."""

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


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


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


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _glue_call(what: str) -> Iterator[None]:
    """Turn a botocore ClientError into a CatalogError that says what was being done."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CatalogError(f"{what} failed: {error.get('Code', '?')}: {error.get('Message', exc)}") from exc


# --------------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------------


def ensure_database(glue: Any, database: str) -> bool:
    """
    Create the Glue database when it does not exist.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_database`
        - :external+boto3:py:meth:`Glue.Client.create_database`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :return: True when it did not exist before this call (created by it, or by a lost-reply resend or a
        concurrent run while it ran), False when it already existed.
    """
    try:
        glue.get_database(Name=database)
        return False
    except ClientError as exc:
        if _error_code(exc) != "EntityNotFoundException":
            raise CatalogError(f"get_database {database} failed: {exc}") from exc
    try:
        glue.create_database(
            DatabaseInput={
                "Name": database,
                "Description": "Airlake curated datasets: tables managed by the catalog stage from contracts.",
            }
        )
    except ClientError as exc:
        if _error_code(exc) != "AlreadyExistsException":
            raise CatalogError(f"create_database {database} failed: {exc}") from exc
        # absent a moment ago: the resend of a create whose reply was lost, or a concurrent run; a
        # database has nothing else to match than its name
        log.info("Glue database %s already created (a lost reply or a concurrent run)", database)
    else:
        log.info("Created Glue database %s", database)
    return True
    log.info("Created Glue database %s", database)
    return True


# --------------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------------


def curated_location(bucket: str, dataset: str) -> str:
    """``s3://<bucket>/curated/<dataset>/``: the table's location (partitions point below it)."""
    return f"s3://{bucket}/curated/{dataset}/"


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
            "database": self.database,
            "table": self.table,
            "action": self.action,
            "schema_hash": self.schema_hash,
            "previous_schema_hash": self.previous_schema_hash,
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


def _comparable(table: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a table (GetTable output or TableInput) this module manages, normalised."""
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

    before, after = _comparable(current), _comparable(new_input)
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
            if _error_code(exc) != "AlreadyExistsException":
                raise CatalogError(f"create_table {database}.{contract.name} failed: {exc}") from exc
            current = get_table(glue, database, contract.name)
            if current is None:
                raise CatalogError(f"table {database}.{contract.name} exists and does not") from exc
            if _comparable(current) == _comparable(wanted):
                # the resend of a create whose reply was lost (or a concurrent run of the same contract)
                log.info("Glue table %s.%s already created as wanted (a lost reply)", database, contract.name)
                return TableChange(database, contract.name, "created", schema_hash=contract.schema_hash)
            # created concurrently from another contract version: evolve it (or refuse, naming the columns)
        else:
            log.info("Created Glue table %s.%s (schema %s)", database, contract.name, contract.schema_hash)
            return TableChange(database, contract.name, "created", schema_hash=contract.schema_hash)
    new_input, change = plan_table({"DatabaseName": database, **current}, contract, bucket)
    if change.changed:
        with _glue_call(f"update_table {database}.{contract.name}"):
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
        if _error_code(exc) == "EntityNotFoundException":
            return None
        raise CatalogError(f"get_table {database}.{table} failed: {exc}") from exc


# --------------------------------------------------------------------------------------------------
# Partitions
# --------------------------------------------------------------------------------------------------


def _normalize_location(location: str) -> str:
    if not location.startswith("s3://"):
        raise ValueError(f"partition location must be an s3:// URI, got {location!r}")
    return location.rstrip("/") + "/"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _current_locations(glue: Any, database: str, table: str, dts: Sequence[str]) -> dict[str, str]:
    """{dt: location} of the partitions among ``dts`` that exist (batch_get_partition)."""
    found: dict[str, str] = {}
    for chunk in _chunks(dts, BATCH_GET_SIZE):
        to_get = [{"Values": [dt]} for dt in chunk]
        while to_get:
            with _glue_call(f"batch_get_partition {database}.{table}"):
                response = glue.batch_get_partition(
                    DatabaseName=database, TableName=table, PartitionsToGet=to_get
                )
            for partition in response.get("Partitions", []):
                location = (partition.get("StorageDescriptor") or {}).get("Location") or ""
                found[partition["Values"][0]] = location
            to_get = response.get("UnprocessedKeys") or []
    return found


def _batch_errors(errors: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for error in errors:
        values = tuple(error.get("PartitionValues") or error.get("PartitionValueList") or ())
        detail = error.get("ErrorDetail") or {}
        out[values] = f"{detail.get('ErrorCode', '?')}: {detail.get('ErrorMessage', '')}".strip()
    return out


def _check_already_created(
    glue: Any,
    database: str,
    table: str,
    wanted: Mapping[str, Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]],
) -> None:
    """
    Accept the ``AlreadyExistsException`` of a partition that already points at the wanted location (the
    resend of a batch whose first reply was lost after Glue applied it, or a concurrent publish of the
    same version); raise :class:`PartitionPublishError` for every other refusal, and for a partition
    that exists at another location (naming the wanted and the found location).
    """
    refused = _batch_errors(errors)
    existing = [
        values[0] for values, reason in refused.items() if reason.startswith("AlreadyExistsException")
    ]
    found = _current_locations(glue, database, table, existing) if existing else {}
    problems: dict[tuple[str, ...], str] = {}
    for values, reason in refused.items():
        dt = values[0] if values else ""
        if dt not in existing:
            problems[values] = reason
            continue
        location = found.get(dt)
        if location is None:
            problems[values] = f"{reason}, yet no partition dt={dt} is there"
        elif dt not in wanted or _normalize_location(location) != wanted[dt]["location"]:
            wanted_location = wanted[dt]["location"] if dt in wanted else "(not asked for)"
            problems[values] = f"exists at another location: wanted {wanted_location}, found {location}"
    if problems:
        raise PartitionPublishError(database, table, "creation", problems)
    if existing:
        log.info(
            "Partitions %s of %s.%s already pointed at the wanted versions (a lost reply): created",
            ", ".join(sorted(existing)),
            database,
            table,
        )


def _partition_input(
    dt: str, location: str, template: Mapping[str, Any], version: str | None
) -> dict[str, Any]:
    storage = copy.deepcopy(dict(template))
    storage["Location"] = location
    partition: dict[str, Any] = {"Values": [dt], "StorageDescriptor": storage}
    if version:
        partition["Parameters"] = {PARAM_VERSION: str(version)}
    return partition


def publish_partitions(
    glue: Any,
    database: str,
    table: str,
    partitions: Iterable[Mapping[str, Any]],
    storage_descriptor_template: Mapping[str, Any],
) -> dict[str, Any]:
    """
    Point each partition at its new version: create the missing ones, move the others. Idempotent.

    A partition already at the given location is left alone, so publishing the same run twice
    changes nothing. Creating and moving are batched (100 per call); moving a partition's location
    is atomic in Glue, so readers see the old or the new version.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.batch_get_partition`
        - :external+boto3:py:meth:`Glue.Client.batch_create_partition`
        - :external+boto3:py:meth:`Glue.Client.batch_update_partition`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :param table: name of the table (partitioned by one string key).
    :param partitions: entries with ``dt`` (the partition value) and ``location`` (``s3://...`` prefix of
        the version), optionally ``version`` (kept as partition parameter ``airlake.version``) and
        ``previous_location`` (the live location the producer saw; a mismatch is logged). The
        ``partitions`` list of a curate manifest fits as it is.
    :param storage_descriptor_template: the table's ``StorageDescriptor``; each partition gets a copy
        with its own ``Location``.
    :return: ``{"created": [dt, ...], "updated": [{"dt", "previous_location", "location"}, ...],
        "unchanged": [dt, ...]}``.
    :raises PartitionPublishError: when Glue refuses partitions of a batch (their values and reasons).
    """
    wanted: dict[str, dict[str, Any]] = {}
    for entry in partitions:
        dt = str(entry.get("dt") or "")
        if not dt:
            raise ValueError(f"partition entry without a 'dt' value: {dict(entry)!r}")
        location = _normalize_location(str(entry.get("location") or ""))
        seen = wanted.get(dt)
        if seen is not None and seen["location"] != location:
            raise ValueError(
                f"partition dt={dt} given twice with different locations: {seen['location']}, {location}"
            )
        wanted[dt] = {**entry, "dt": dt, "location": location}

    dts = sorted(wanted)
    current = _current_locations(glue, database, table, dts)
    to_create: list[dict[str, Any]] = []
    to_update: list[dict[str, Any]] = []
    report: dict[str, Any] = {"created": [], "updated": [], "unchanged": []}
    for dt in dts:
        entry = wanted[dt]
        partition = _partition_input(dt, entry["location"], storage_descriptor_template, entry.get("version"))
        if dt not in current:
            to_create.append(partition)
            report["created"].append(dt)
            continue
        live = current[dt]
        if live and _normalize_location(live) == entry["location"]:
            report["unchanged"].append(dt)
            continue
        expected = entry.get("previous_location")
        if expected and live and _normalize_location(expected) != _normalize_location(live):
            log.warning(
                "Partition %s.%s dt=%s moved since it was curated (expected %s, found %s): publishing %s",
                database,
                table,
                dt,
                expected,
                live,
                entry["location"],
            )
        to_update.append({"PartitionValueList": [dt], "PartitionInput": partition})
        report["updated"].append({"dt": dt, "previous_location": live or None, "location": entry["location"]})

    for chunk in _chunks(to_create, BATCH_SIZE):
        with _glue_call(f"batch_create_partition {database}.{table}"):
            response = glue.batch_create_partition(
                DatabaseName=database, TableName=table, PartitionInputList=list(chunk)
            )
        if response.get("Errors"):
            _check_already_created(glue, database, table, wanted, response["Errors"])
    for chunk in _chunks(to_update, BATCH_SIZE):
        with _glue_call(f"batch_update_partition {database}.{table}"):
            response = glue.batch_update_partition(
                DatabaseName=database, TableName=table, Entries=list(chunk)
            )
        if response.get("Errors"):
            raise PartitionPublishError(database, table, "update", _batch_errors(response["Errors"]))
    log.info(
        "Published partitions of %s.%s: %d created, %d updated, %d unchanged",
        database,
        table,
        len(report["created"]),
        len(report["updated"]),
        len(report["unchanged"]),
    )
    return report


def live_location_lookup(glue: Any, database: str, table: str) -> Callable[[str], str | None]:
    """
    A function ``dt -> location of the live partition version`` (None when there is none).

    One ``get_partition`` call per distinct ``dt``, remembered: a run asks about the few days it
    touches. A missing database, table or partition all mean "no live version".

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_partition`

    :param glue: a boto3 Glue client.
    :param database: name of the Glue database.
    :param table: name of the table (the dataset).
    """
    cache: dict[str, str | None] = {}

    def lookup(dt: str) -> str | None:
        if dt not in cache:
            try:
                partition = glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=[dt])
            except ClientError as exc:
                if _error_code(exc) != "EntityNotFoundException":
                    raise CatalogError(f"get_partition {database}.{table} dt={dt} failed: {exc}") from exc
                cache[dt] = None
            else:
                cache[dt] = (partition["Partition"].get("StorageDescriptor") or {}).get("Location") or None
        return cache[dt]

    return lookup


# --------------------------------------------------------------------------------------------------
# Parquet schema check
# --------------------------------------------------------------------------------------------------


def arrow_to_glue_type(data_type: pa.DataType) -> str:
    """Glue type name of an Arrow type (as Athena reads it from Parquet); ``str(type)`` when it has none."""
    import pyarrow as pa

    t = pa.types
    if t.is_string(data_type) or t.is_large_string(data_type) or t.is_string_view(data_type):
        return "string"
    checks: tuple[tuple[Callable[[pa.DataType], bool], str], ...] = (
        (t.is_boolean, "boolean"),
        (t.is_int8, "tinyint"),
        (t.is_int16, "smallint"),
        (t.is_int32, "int"),
        (t.is_int64, "bigint"),
        (t.is_float32, "float"),
        (t.is_float64, "double"),
        (t.is_date, "date"),
        (t.is_timestamp, "timestamp"),
        (t.is_binary, "binary"),
        (t.is_large_binary, "binary"),
    )
    for check, name in checks:
        if check(data_type):
            return name
    if t.is_decimal(data_type):
        return f"decimal({data_type.precision},{data_type.scale})"
    return str(data_type)


def check_parquet_schema(
    parquet_schema: pa.Schema,
    table_columns: Sequence[Mapping[str, Any]],
    *,
    file: str = "(parquet file)",
    ignore: Iterable[str] = (),
) -> None:
    """
    Check a written Parquet file's schema against the Glue table's columns, before registering it.

    Every table column must be in the file with the same type (Arrow types mapped as Athena reads
    them: int32 -> int, timestamp[us, tz=UTC] -> timestamp, ...), and the file must have no other
    column. Nullability is not compared: Glue has none.

    :param parquet_schema: the file's schema (``pyarrow.parquet.read_schema``; :func:`read_parquet_schema`).
    :param table_columns: the table's ``StorageDescriptor.Columns`` (``Name``, ``Type``).
    :param file: the file's name for the error message (``s3://bucket/key``).
    :param ignore: column names to leave out, such as the partition column when a file carries it.
    :raises ParquetSchemaError: listing each column with the expected and the found type.
    """
    skipped = set(ignore)
    found = {f.name: arrow_to_glue_type(f.type) for f in parquet_schema if f.name not in skipped}
    mismatches: list[ColumnChange] = []
    expected_names: set[str] = set()
    for column in table_columns:
        name = column["Name"]
        if name in skipped:
            continue
        expected_names.add(name)
        expected = normalize_glue_type(column["Type"])
        actual = found.get(name)
        if actual is None:
            mismatches.append(ColumnChange(name, expected, "(missing)", "missing"))
        elif actual != expected:
            mismatches.append(ColumnChange(name, expected, actual, "type differs"))
    for name, actual in found.items():
        if name not in expected_names:
            mismatches.append(ColumnChange(name, "(not in table)", actual, "extra column"))
    if mismatches:
        raise ParquetSchemaError(file, mismatches)


class _S3TailFile(io.RawIOBase):
    """A read-only file over an S3 object that fetches the tail in one ranged GET, more only on demand.

    Reading a Parquet footer touches only the end of the file: one request, whatever the file's size
    (a small file comes back whole, which suits moto).
    """

    def __init__(self, s3: Any, bucket: str, key: str, tail_bytes: int = FOOTER_TAIL_BYTES) -> None:
        super().__init__()
        self._s3, self._bucket, self._key = s3, bucket, key
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{tail_bytes}")
        self._data = response["Body"].read()
        content_range = response.get("ContentRange")  # "bytes 596-695/696"
        self.size = int(content_range.rsplit("/", 1)[1]) if content_range else len(self._data)
        self._start = self.size - len(self._data)
        self._pos = 0
        self.requests = 1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        end = min(self._pos + len(buffer), self.size)
        if end <= self._pos:
            return 0
        if self._pos < self._start:
            response = self._s3.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-{self._start - 1}"
            )
            self._data = response["Body"].read() + self._data
            self._start = self._pos
            self.requests += 1
        chunk = self._data[self._pos - self._start : end - self._start]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def read_parquet_schema(s3: Any, bucket: str, key: str) -> pa.Schema:
    """
    The Arrow schema in a Parquet file's footer, read with one ranged GET of the object's tail.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.get_object`

    :param s3: a boto3 S3 client.
    :param bucket: the bucket.
    :param key: the Parquet object's key.
    """
    import pyarrow.parquet as pq

    try:
        with _S3TailFile(s3, bucket, key) as handle:
            return pq.read_schema(handle)
    except ClientError as exc:
        raise CatalogError(f"cannot read the Parquet footer of s3://{bucket}/{key}: {exc}") from exc


# --------------------------------------------------------------------------------------------------
# Crawler (optional)
# --------------------------------------------------------------------------------------------------


def crawler_config(contract: Contract, bucket: str, database: str, *, name: str, role: str) -> dict[str, Any]:
    """
    ``create_crawler`` / ``update_crawler`` arguments for a crawler over a dataset's curated prefix.

    The table still comes from the contract (:func:`ensure_table`): the crawler only logs schema
    differences (``SchemaChangePolicy`` LOG) and adds partitions that inherit the table's schema. It
    registers every folder it finds, including superseded ``v=`` versions, until maintenance
    removes them: explicit registration (:func:`publish_partitions`) is the default for a reason.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.create_crawler`

    :param contract: the dataset contract.
    :param bucket: the lake bucket.
    :param database: the Glue database the crawler writes to.
    :param name: the crawler's name.
    :param role: IAM role the crawler runs as (read access to the prefix, Glue catalog access).
    """
    configuration = {
        "Version": 1.0,
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
        # s3://bucket (1) / curated (2) / <dataset> (3): the table is the dataset's folder.
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": 3},
    }
    return {
        "Name": name,
        "Role": role,
        "DatabaseName": database,
        "Description": f"Airlake: partitions of {database}.{contract.name} from its curated prefix",
        "Targets": {
            "S3Targets": [{"Path": curated_location(bucket, contract.name), "Exclusions": ["**/_*", "**/.*"]}]
        },
        "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
        "Configuration": json.dumps(configuration, sort_keys=True),
    }
