"""The dataset contract: a typed pydantic v2 model of one ``include/contracts/<name>.yaml`` file.

Every model forbids unknown keys (a typo is an error, not a silently ignored setting) and is
frozen (contracts are cached and shared between DAGs). Cross-field rules (key columns exist and are
NOT NULL, the watermark column exists, ...) raise :class:`FieldIssues` so that each problem is
reported at its own field path.

Light at import: pydantic only (pyyaml in the loader, croniter when a cron schedule is validated,
pyarrow when :meth:`Contract.arrow_schema` is called).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from airlake.contracts import types as _types
from airlake.contracts.errors import FieldIssues, Loc
from airlake.contracts.names import (
    IDENTIFIER_PATTERN,
    QUALIFIED_PATTERN,
    TABLE_PATTERN,
    check_identifier,
    check_table_name,
)

if TYPE_CHECKING:
    import pyarrow as pa

# --------------------------------------------------------------------------------------------------
# Annotated scalar types with friendly validation messages (and patterns for the JSON Schema)
# --------------------------------------------------------------------------------------------------

SCHEDULE_PRESETS = ("@daily", "@hourly", "@weekly")
LAKE_ZONES = ("raw", "curated", "quarantine", "analytics", "_manifests")


def _check_schedule(value: str) -> str:
    if value in SCHEDULE_PRESETS:
        return value
    expected = f"expected {', '.join(SCHEDULE_PRESETS)} or a 5-field cron expression"
    if value.startswith("@"):
        raise ValueError(f"unknown schedule preset {value!r} ({expected})")
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid schedule {value!r}: a cron expression has 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)} ({expected})"
        )
    from croniter import croniter  # lazy: only contracts with a cron schedule pay for it

    if not croniter.is_valid(value):
        raise ValueError(f"invalid cron expression {value!r} ({expected})")
    return " ".join(fields)


def _check_type(value: str) -> str:
    return str(_types.parse_type(value))


def _check_source_table(value: str) -> str:
    return check_table_name(value, require_schema=True)


def _check_warehouse_table(value: str) -> str:
    return check_table_name(value)


def _first_failed(field: str, value: str, rules: Sequence[tuple[bool, str]]) -> str:
    """``value``, or ValueError ``invalid <field> <value>: <why>`` for the first rule it fails
    (``(failed, why)`` pairs, in the order the user should fix them)."""
    for failed, why in rules:
        if failed:
            raise ValueError(f"invalid {field} {value!r}: {why}")
    return value


def _check_conn_id(value: str) -> str:
    valid = re.fullmatch(r"[A-Za-z0-9_.\-]{1,250}", value)
    why = "use letters, digits, '_', '-' and '.' (at most 250)"
    return _first_failed("connection id", value, [(not valid, why)])


def _check_landing_prefix(value: str) -> str:
    segments = value.removesuffix("/").split("/")
    allowed = re.fullmatch(r"[A-Za-z0-9_.=\-/]+", value)
    rules = [
        ("://" in value, "give a key prefix inside the lake bucket (e.g. 'landing/products/'), not a URL"),
        (value.startswith("/"), "must be relative to the lake bucket (no leading '/')"),
        (not value.endswith("/"), f"must end with '/' ({value + '/'!r}) so that it matches one folder only"),
        (any(s in ("", ".", "..") for s in segments), "empty, '.' and '..' segments are not allowed"),
        (not allowed, "use letters, digits and '_', '-', '.', '=' and '/' only"),
        (segments[0] in LAKE_ZONES, f"{segments[0] + '/'!r} is a lake zone written by Airlake itself"),
    ]
    return _first_failed("landing_prefix", value, rules)


def _check_endpoint(value: str) -> str:
    rules = [
        ("://" in value, "give a path like '/rates'; the host comes from the Airflow connection"),
        (not value.startswith("/"), "must start with '/', e.g. '/rates'"),
        ("?" in value or "#" in value, "put query parameters in params, not in the endpoint"),
        (any(ch.isspace() for ch in value) or ".." in value.split("/"), "no whitespace or '..' segments"),
    ]
    return _first_failed("endpoint", value, rules)


def _check_token(value: str) -> str:
    blank = not value or any(ch.isspace() for ch in value)
    return _first_failed("value", value, [(blank, "must be non-empty without whitespace")])


def _check_encoding(value: str) -> str:
    import codecs

    try:
        info = codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, latin-1, cp1252, cp949, utf-16)") from None
    if not isinstance(info.decode(b"")[0], str):  # base64, zlib, ...: bytes codecs, not text
        raise ValueError(f"{value!r} is not a text encoding")
    return value


def _check_time_format(value: str) -> str:
    if value == "iso":
        return value
    if "%" not in value:
        raise ValueError(
            f"invalid format {value!r}: a strptime format with % directives (e.g. '%d/%m/%Y %H:%M') "
            "or 'iso' for ISO 8601"
        )
    sample = datetime.datetime(2001, 2, 3, 4, 5, 6, 7000, tzinfo=datetime.UTC)
    try:
        datetime.datetime.strptime(sample.strftime(value), value)
    except ValueError as exc:
        raise ValueError(f"invalid format {value!r}: {exc}") from None
    return value


def _check_time_zone(value: str) -> str:
    import zoneinfo  # lazy: only contracts that name a zone pay for it

    if value == "UTC":
        return value
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (an IANA name such as 'UTC', 'Europe/Paris', 'Asia/Seoul')"
        ) from None
    return value


def _to_date(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        raise ValueError(f"expected a date (YYYY-MM-DD), got a timestamp {value.isoformat()!r}")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"invalid date {value!r} (expected YYYY-MM-DD)")


def _to_scalar(value: Any) -> Any:
    if isinstance(value, str | int | float | datetime.date):  # bool is an int
        return value
    raise ValueError(f"expected a string, number or boolean, got {type(value).__name__} {value!r}")


def _to_bound(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | datetime.date):
        raise ValueError(f"expected a number, a date or a timestamp, got {type(value).__name__} {value!r}")
    return value


def _pattern(pattern: str) -> Any:
    return Field(json_schema_extra={"pattern": pattern})


Name = Annotated[str, AfterValidator(check_identifier), _pattern(IDENTIFIER_PATTERN)]
ColumnTypeName = Annotated[str, AfterValidator(_check_type), _pattern(_types.TYPE_PATTERN)]
SourceTable = Annotated[str, AfterValidator(_check_source_table), _pattern(QUALIFIED_PATTERN)]
WarehouseTable = Annotated[str, AfterValidator(_check_warehouse_table), _pattern(TABLE_PATTERN)]
ConnId = Annotated[str, AfterValidator(_check_conn_id), _pattern(r"^[A-Za-z0-9_.\-]{1,250}$")]
LandingPrefix = Annotated[
    str, AfterValidator(_check_landing_prefix), _pattern(r"^[A-Za-z0-9_.=\-][A-Za-z0-9_.=\-/]*/$")
]
Endpoint = Annotated[str, AfterValidator(_check_endpoint), _pattern(r"^/[^\s?#]*$")]
Token = Annotated[str, AfterValidator(_check_token), _pattern(r"^\S+$")]
Schedule = Annotated[
    str,
    AfterValidator(_check_schedule),
    Field(json_schema_extra={"examples": ["@daily", "@hourly", "@weekly", "15 3 * * *"]}),
]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
Encoding = Annotated[str, AfterValidator(_check_encoding), Field(min_length=1)]
TimeFormat = Annotated[str, AfterValidator(_check_time_format), Field(min_length=1)]
TimeZone = Annotated[str, AfterValidator(_check_time_zone), Field(min_length=1)]
AddedIn = Annotated[datetime.date, BeforeValidator(_to_date)]
Scalar = Annotated[
    Any,
    BeforeValidator(_to_scalar),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}),
]
Bound = Annotated[
    Any,
    BeforeValidator(_to_bound),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
            ]
        }
    ),
]


class _Model(BaseModel):
    # The attribute docstrings below document the fields in the JSON Schema. pydantic's
    # use_attribute_docstrings would read them while each class is created, walking the call stack with
    # inspect.getmodule (0.5-0.8 s of every DAG parse with Airflow loaded); json_schema() adds them when
    # the schema is asked for instead (_describe_fields).
    # defer_build: a model's validator is built when first used, not when its class is created. The DAG
    # files' parse validates contracts with Contract alone, whose one build holds the nested models' schemas:
    # built class by class, each nested model's validator was built for itself and again inside every
    # model embedding it (23 builds, ~25 ms of each parse, instead of one, ~10 ms). A nested model used
    # on its own (a source's model_dump at run time) builds its own when first asked.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------


class Column(_Model):
    """One column of the dataset."""

    name: Name
    """Column name: lowercase letters, digits and '_', starting with a letter; not a reserved SQL word."""
    type: ColumnTypeName
    """string, boolean, int, bigint, double, date, timestamp, timestamptz or decimal(p,s)
    (1 <= p <= 38, 0 <= s <= p)."""
    nullable: bool = True
    """Whether the column may be NULL. Rows with NULL in a NOT NULL column are quarantined."""
    description: str | None = None
    """What the column means."""
    added_in: AddedIn | None = None
    """Date (YYYY-MM-DD) the column was added to the dataset; older data has no value for it."""
    null_values: tuple[str, ...] | None = None
    """Field values read as NULL in this column (files sources); default: the source's null_values."""
    formats: tuple[TimeFormat, ...] | None = None
    """date/timestamp columns: strptime formats tried in order ('iso' = ISO 8601); default: the
    source's timestamp_formats, else ISO 8601."""
    timezone: TimeZone | None = None
    """timestamp/timestamptz columns: IANA zone of values without an offset; default: the source's
    timezone (UTC)."""

    @property
    def column_type(self) -> _types.ColumnType:
        """The parsed type (base, precision, scale)."""
        return _types.parse_type(self.type)

    def arrow_type(self) -> pa.DataType:
        return _types.arrow_type(self.column_type)

    @property
    def glue_type(self) -> str:
        return _types.glue_type(self.column_type)

    @property
    def postgres_type(self) -> str:
        return _types.postgres_type(self.column_type)

    @property
    def redshift_type(self) -> str:
        return _types.redshift_type(self.column_type)

    @property
    def duckdb_type(self) -> str:
        return _types.duckdb_type(self.column_type)


# --------------------------------------------------------------------------------------------------
# Sources (discriminated on ``kind``)
# --------------------------------------------------------------------------------------------------


Trim = Literal["none", "strings", "all"]
HeaderExtra = Literal["ignore", "warn", "refuse"]
HeaderMissing = Literal["null", "refuse"]
MIB = 1024 * 1024


class CsvOptions(_Model):
    """How CSV files are read: the dialect, the text encoding, NULL markers and structural limits."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    """Field delimiter, one character."""
    header: bool = True
    """Whether the first record holds the column names (checked against the schema, see
    on_extra_columns and on_missing_nullable); without one, columns come in schema order."""
    quote: str | None = Field('"', min_length=1, max_length=1)
    """Quote character; null: fields are never quoted."""
    escape: str | None = Field(None, min_length=1, max_length=1)
    """Escape character inside fields (e.g. '\\'); null: a quote inside a quoted field is doubled."""
    encoding: Encoding = "utf-8"
    """Text encoding (utf-8, latin-1, cp1252, cp949, utf-16, ...); a byte order mark is removed.
    Bytes that are invalid in it make their record a reject (bad_encoding)."""
    null_values: tuple[str, ...] = ("",)
    """Field values read as NULL (after trim, see there); a column's own null_values replace them."""
    trim: Trim = "none"
    """Blanks around values. none: strings are kept as written; strings: string columns are trimmed;
    all: every field is trimmed. Trimming happens before NULL markers are matched. Numbers, booleans,
    dates and timestamps ignore surrounding blanks under every setting."""
    skip_rows: int = Field(0, ge=0, le=10_000)
    """Physical lines to skip before the header (or the first record): a preamble, not records."""
    comment: str | None = Field(None, min_length=1, max_length=1)
    """Lines starting with this character (outside a record) are comments, not records."""
    newlines_in_values: bool = True
    """Whether a quoted field may span lines. Even so, a record that then breaks (unterminated
    quote, wrong field count) is split back into its physical lines, each judged on its own."""
    max_field_bytes: int = Field(MIB, ge=1, le=256 * MIB)
    """Largest field (UTF-8 bytes); a record with a bigger one is a reject (field_too_large)."""

    @model_validator(mode="after")
    def _check_distinct(self) -> CsvOptions:
        roles = {
            "delimiter": self.delimiter,
            "quote": self.quote,
            "escape": self.escape,
            "comment": self.comment,
        }
        issues: list[tuple[Loc, str]] = []
        seen: dict[str, str] = {}
        for role, char in roles.items():
            if char is None:
                continue
            if char in "\r\n":
                issues.append(((role,), "must not be a line break"))
            elif char in seen:
                issues.append(
                    ((role,), f"{char!r} is also the {seen[char]}; each role needs its own character")
                )
            seen.setdefault(char, role)
        if issues:
            raise FieldIssues(issues)
        return self


class JsonlOptions(_Model):
    """How JSON Lines files are read (JSON has its own null; these add text markers and trimming)."""

    null_values: tuple[str, ...] = ()
    """String values read as NULL, e.g. ["", "NA"]; a column's own null_values replace them."""
    trim: Trim = "none"
    """As csv.trim, for string values: none, strings (string columns) or all (every string value)."""


class FilesSource(_Model):
    """Files dropped into a landing prefix of the lake bucket."""

    kind: Literal["files"]
    landing_prefix: LandingPrefix
    """Key prefix in the lake bucket, relative, ending with '/', e.g. 'landing/products/'."""
    format: Literal["csv", "jsonl", "parquet"]
    compression: Literal["auto", "gzip", "none"] = "auto"
    """auto: from the file extension (.gz = gzip)."""
    csv: CsvOptions = Field(default_factory=CsvOptions)
    """CSV options (format csv only)."""
    jsonl: JsonlOptions = Field(default_factory=JsonlOptions)
    """JSON Lines options (format jsonl only)."""
    timestamp_formats: tuple[TimeFormat, ...] = ()
    """strptime formats of date/timestamp text, tried in order ('iso' = ISO 8601); empty: ISO 8601."""
    timezone: TimeZone = "UTC"
    """IANA zone of timestamps without an offset (a column's timezone overrides it)."""
    on_extra_columns: HeaderExtra = "warn"
    """A file's header (CSV) or columns (Parquet) name columns the schema does not have. ignore;
    warn: recorded in the curate manifest and logged, the column is dropped; refuse: every record of
    that file is quarantined (extra_column)."""
    on_missing_nullable: HeaderMissing = "null"
    """A nullable schema column is absent from a file. null: its rows get NULL (recorded in the
    manifest); refuse: every record of that file is quarantined (missing_column). A missing NOT NULL
    column always refuses the file."""
    events_queue: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]{1,80}$")
    """SQS queue (name) receiving the landing prefix's S3 ObjectCreated notifications: a new file also
    starts a run within a minute (airlake.events), the schedule stays; unset: the schedule only."""

    @model_validator(mode="after")
    def _check_format_options(self) -> FilesSource:
        issues: list[tuple[Loc, str]] = []
        if self.format != "csv" and self.csv != CsvOptions():  # defaults pass: dumps round-trip
            issues.append((("csv",), f"csv options apply to format csv only (format is {self.format!r})"))
        if self.format != "jsonl" and self.jsonl != JsonlOptions():
            issues.append(
                (("jsonl",), f"jsonl options apply to format jsonl only (format is {self.format!r})")
            )
        if self.format == "parquet" and self.compression == "gzip":
            issues.append((("compression",), "parquet is compressed inside the file: use auto or none"))
        if issues:
            raise FieldIssues(issues)
        return self


class HttpPagination(_Model):
    """How an HTTP API is paged through."""

    style: Literal["page", "cursor"] = "page"
    """page: page number and page size parameters; cursor: the response names the next cursor."""
    page_param: Token = "page"
    size_param: Token = "page_size"
    page_size: int = Field(100, ge=1, le=10_000)
    cursor_param: Token = "cursor"
    next_cursor_field: Token = "next_cursor"
    """Field of the response body holding the next cursor (style cursor); empty or missing = last page."""
    items_field: Token = "items"
    """Field of the response body holding the list of records."""
    max_pages: int = Field(10_000, ge=1)
    """Safety stop: fail the task rather than page forever."""

    @model_validator(mode="after")
    def _check_style_fields(self) -> HttpPagination:
        other = {"page": ("cursor_param", "next_cursor_field"), "cursor": ("page_param",)}[self.style]
        issues: list[tuple[Loc, str]] = [
            ((name,), f"does not apply to pagination style {self.style!r}")
            for name in other
            if getattr(self, name) != type(self).model_fields[name].default  # defaults pass: dumps round-trip
        ]
        if issues:
            raise FieldIssues(issues)
        return self


class HttpSource(_Model):
    """A paginated JSON HTTP API, reached through an Airflow HTTP connection."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    kind: Literal["http"]
    conn_id: ConnId
    """Airflow connection holding the base URL and credentials."""
    endpoint: Endpoint
    """Path below the connection's base URL, e.g. '/rates'."""
    params: dict[Token, str] = Field(default_factory=dict)
    """Query parameters; values may be Airflow templates such as '{{ ds }}'."""
    pagination: HttpPagination = Field(default_factory=HttpPagination)
    timeout_seconds: float = Field(30, gt=0, le=600)
    max_retries: int = Field(5, ge=0, le=20)


class DatabaseSource(_Model):
    """A table of a SQL database, extracted incrementally by a watermark column."""

    kind: Literal["database"]
    conn_id: ConnId
    """Airflow connection of the source database."""
    table: SourceTable
    """Source table as schema.table."""
    watermark_column: str
    """Monotonic column (timestamp or integer) selecting rows changed since the last run."""
    batch_rows: int = Field(50_000, ge=1, le=1_000_000)
    """Rows fetched per batch (bounded memory)."""


class KinesisSource(_Model):
    """A Kinesis data stream."""

    kind: Literal["kinesis"]
    stream_name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,128}$")
    max_records_per_call: int = Field(1000, ge=1, le=10_000)
    """GetRecords Limit (Kinesis allows at most 10000)."""
    max_batch_records: int = Field(10_000, ge=1)
    """Records written per raw file."""


class SqsSource(_Model):
    """An SQS queue."""

    kind: Literal["sqs"]
    queue_name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,75}(\.fifo)?$")
    max_messages_per_batch: int = Field(10, ge=1, le=10)
    """ReceiveMessage MaxNumberOfMessages (SQS allows at most 10)."""
    visibility_timeout_seconds: int = Field(300, ge=0, le=43_200)
    max_batch_records: int = Field(10_000, ge=1)
    """Messages written per raw file."""
    run_on_message: bool = False
    """A message waiting in the queue also starts a run within a minute (airlake.events; the watcher
    only peeks, it never deletes a message); false: the schedule only."""


Source = Annotated[
    FilesSource | HttpSource | DatabaseSource | KinesisSource | SqsSource,
    Field(discriminator="kind"),
]
SOURCE_KINDS: tuple[str, ...] = ("files", "http", "database", "kinesis", "sqs")


# --------------------------------------------------------------------------------------------------
# Partitioning, de-duplication, quality, tiering, warehouse
# --------------------------------------------------------------------------------------------------


class Partitioning(_Model):
    """How curated data is partitioned."""

    by: Literal["event_date"] = "event_date"
    """event_date: the UTC date of the event_time column."""
    column: Name = "dt"
    """Name of the partition column (Hive style dt=YYYY-MM-DD); must not clash with a schema column."""


class Dedup(_Model):
    """How duplicate rows (same keys) are resolved."""

    keys: tuple[str, ...] = ()
    """Columns identifying a row. Default: primary_key."""
    keep: Literal["latest", "first"] = "first"
    """latest: the row with the greatest order_by; first: the row with the smallest order_by
    (the first seen without order_by)."""
    order_by: str | None = None
    """Column ordering duplicates; required when keep is latest."""


class NotNullCheck(_Model):
    kind: Literal["not_null"]
    column: str


class UniqueCheck(_Model):
    kind: Literal["unique"]
    columns: tuple[str, ...] = Field(min_length=1)


class AcceptedValuesCheck(_Model):
    kind: Literal["accepted_values"]
    column: str
    values: tuple[Scalar, ...] = Field(min_length=1)


class RangeCheck(_Model):
    kind: Literal["range"]
    column: str
    min: Bound | None = None
    """Smallest allowed value (inclusive)."""
    max: Bound | None = None
    """Greatest allowed value (inclusive)."""

    @model_validator(mode="after")
    def _check_bounds(self) -> RangeCheck:
        if self.min is None and self.max is None:
            raise FieldIssues([((), "give min, max or both")])
        if self.min is not None and self.max is not None:
            try:
                inverted = self.min > self.max
            except TypeError:
                raise FieldIssues([(("max",), "min and max must be of the same kind")]) from None
            if inverted:
                raise FieldIssues([(("max",), f"max ({self.max}) is smaller than min ({self.min})")])
        return self


class FreshnessCheck(_Model):
    kind: Literal["freshness"]
    max_delay_hours: float = Field(gt=0)
    """The newest event_time must be at most this old at the end of the data interval."""


class RowCountMinCheck(_Model):
    kind: Literal["row_count_min"]
    value: int = Field(ge=0)
    """Fewest rows a run must produce."""


QualityCheck = Annotated[
    NotNullCheck | UniqueCheck | AcceptedValuesCheck | RangeCheck | FreshnessCheck | RowCountMinCheck,
    Field(discriminator="kind"),
]
CHECK_KINDS: tuple[str, ...] = (
    "not_null",
    "unique",
    "accepted_values",
    "range",
    "freshness",
    "row_count_min",
)


class Quality(_Model):
    """Row-level reject budget and dataset-level checks."""

    reject_rate_max: float = Field(0.05, ge=0, le=1)
    """Largest share of rows a run may quarantine before it fails."""
    checks: tuple[QualityCheck, ...] = ()


class Tiering(_Model):
    """S3 storage tiering of the dataset's objects, in days after creation (or after the partition date)."""

    standard_ia_after_days: int | None = Field(30, ge=30)
    """Move to Standard-IA after this many days (S3 minimum: 30); null: never."""
    glacier_after_days: int | None = Field(90, ge=0)
    """Move to Glacier after this many days (at least 30 days after Standard-IA); null: never."""
    expire_after_days: int | None = Field(None, ge=1)
    """Delete after this many days (after the last transition); null: keep forever."""

    @model_validator(mode="after")
    def _check_order(self) -> Tiering:
        issues: list[tuple[Loc, str]] = []
        ia, glacier, expire = self.standard_ia_after_days, self.glacier_after_days, self.expire_after_days
        if ia is not None and glacier is not None and glacier < ia + 30:
            issues.append(
                (
                    ("glacier_after_days",),
                    f"must be at least 30 days after standard_ia_after_days ({ia}), i.e. >= {ia + 30}: "
                    "S3 keeps objects 30 days in Standard-IA before Glacier",
                )
            )
        last = max((d for d in (ia, glacier) if d is not None), default=None)
        if expire is not None and last is not None and expire <= last:
            name = "glacier_after_days" if last == glacier else "standard_ia_after_days"
            issues.append((("expire_after_days",), f"must be greater than {name} ({last})"))
        if issues:
            raise FieldIssues(issues)
        return self


class Warehouse(_Model):
    """Where and how the curated data is loaded into the warehouse (Redshift; PostgreSQL locally)."""

    table: WarehouseTable
    """Target table, 'table' or 'schema.table'."""
    mode: Literal["merge", "append", "partition_replace"] = "merge"
    """merge: upsert on keys; append: insert only; partition_replace: replace the loaded event dates."""
    keys: tuple[str, ...] = ()
    """Merge keys. Default: primary_key."""
    sort_key: tuple[str, ...] = ()
    dist_key: str | None = None


class Curate(_Model):
    """Where the curate stage runs."""

    engine: Literal["worker", "athena"] = "worker"
    """worker: inside the Airflow worker (every raw format); athena: as SQL on the query engine (Athena
    on AWS, DuckDB on the same SQL locally) for days too big for one worker; JSON Lines raw parts
    only (:func:`airlake.curate.sql.sql_unsupported` lists what the SQL path does not cover)."""


# --------------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    return repr(value.isoformat()) if isinstance(value, datetime.date) else repr(value)


def _unknown_column(name: Any, columns: dict[str, Column]) -> str:
    import difflib  # only for a contract with an error (not at every DAG parse)

    close = difflib.get_close_matches(str(name), list(columns), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown column {name!r} (not in schema{hint})"


_VALUE_KINDS = {
    "string": ((str,), "a string"),
    "boolean": ((bool,), "a boolean"),
    "int": ((int,), "an integer"),
    "bigint": ((int,), "an integer"),
    "double": ((int, float), "a number"),
    "decimal": ((int, float), "a number"),
}


class Contract(_Model):
    """A dataset contract: everything the stages need to ingest, curate, catalog, load and tier it."""

    model_config = ConfigDict(
        title="Airlake dataset contract",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    name: Name
    """Dataset name (equals the file name stem): an S3 prefix segment and an unquoted SQL identifier."""
    description: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    """Owning team; becomes the DAG owner."""
    schedule: Schedule = "@daily"
    """@daily, @hourly, @weekly or a 5-field cron expression (UTC)."""
    tags: tuple[Tag, ...] = ()
    source: Source
    columns: tuple[Column, ...] = Field(alias="schema", min_length=1)
    """Columns of the dataset (YAML key: schema)."""
    primary_key: tuple[str, ...] = Field(min_length=1)
    """Columns identifying a row; each must be NOT NULL."""
    event_time: str
    """Column holding the time of the event (timestamp, timestamptz or date, NOT NULL)."""
    partitioning: Partitioning = Field(default_factory=Partitioning)
    dedup: Dedup = Field(default_factory=Dedup)
    quality: Quality = Field(default_factory=Quality)
    tiering: Tiering = Field(default_factory=Tiering)
    warehouse: Warehouse | None = None
    """Warehouse target; none: the dataset stays in the lake only."""
    curate: Curate = Field(default_factory=Curate)
    """Curate engine: worker (default) or athena."""

    # ---- defaults that depend on other fields ---------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _default_keys(cls, data: Any) -> Any:
        """dedup.keys and warehouse.keys default to primary_key."""
        if not isinstance(data, dict) or not isinstance(data.get("primary_key"), list | tuple):
            return data
        data = dict(data)
        primary_key = list(data["primary_key"])
        if "dedup" not in data:
            data["dedup"] = {"keys": primary_key}
        for section in ("dedup", "warehouse"):
            value = data.get(section)
            if isinstance(value, dict) and "keys" not in value:
                data[section] = {**value, "keys": primary_key}
        return data

    # ---- cross-field rules --------------------------------------------------------------------

    @model_validator(mode="after")
    def _check_references(self) -> Contract:
        issues: list[tuple[Loc, str]] = []
        columns: dict[str, Column] = {}
        positions: dict[str, int] = {}
        for i, column in enumerate(self.columns):
            if column.name in columns:
                issues.append(
                    (
                        ("schema", i, "name"),
                        f"duplicate column {column.name!r} (also schema[{positions[column.name]}])",
                    )
                )
            else:
                columns[column.name] = column
                positions[column.name] = i
            ctype = column.column_type
            if column.formats is not None and not ctype.is_temporal:
                issues.append(
                    (
                        ("schema", i, "formats"),
                        f"formats apply to date and timestamp columns, not {column.type}",
                    )
                )
            if column.timezone is not None and ctype.base not in ("timestamp", "timestamptz"):
                issues.append(
                    (("schema", i, "timezone"), f"timezone applies to timestamp columns, not {column.type}")
                )
            if column.null_values is not None and not isinstance(self.source, FilesSource):
                issues.append(
                    (
                        ("schema", i, "null_values"),
                        f"null_values apply to files sources only (source kind is {self.source.kind!r})",
                    )
                )
            if column.added_in is not None and not column.nullable:
                issues.append(
                    (
                        ("schema", i, "nullable"),
                        f"column {column.name!r} has added_in, so it must be nullable: "
                        "older data has no value for it",
                    )
                )

        def check_columns(loc: Loc, names: tuple[str, ...], *, not_null: str | None = None) -> None:
            seen: set[str] = set()
            for i, name in enumerate(names):
                if name in seen:
                    issues.append(((*loc, i), f"column {name!r} is listed twice"))
                seen.add(name)
                check_column((*loc, i), name, not_null=not_null)

        def check_column(loc: Loc, name: str, *, not_null: str | None = None) -> Column | None:
            column = columns.get(name)
            if column is None:
                issues.append((loc, _unknown_column(name, columns)))
            elif not_null and column.nullable:
                issues.append((loc, f"{not_null} column {name!r} is nullable; set nullable: false in schema"))
            return column

        check_columns(("primary_key",), self.primary_key, not_null="primary key")

        event = check_column(("event_time",), self.event_time, not_null="event_time")
        if event is not None and not event.column_type.is_temporal:
            issues.append(
                (
                    ("event_time",),
                    f"column {event.name!r} is {event.type}; expected timestamp, timestamptz or date",
                )
            )

        if self.partitioning.column in columns:
            issues.append(
                (
                    ("partitioning", "column"),
                    f"partition column {self.partitioning.column!r} clashes with schema column "
                    f"schema[{positions[self.partitioning.column]}]; choose another name",
                )
            )

        if isinstance(self.source, DatabaseSource):
            mark = check_column(
                ("source", "watermark_column"), self.source.watermark_column, not_null="watermark"
            )
            if mark is not None and not (mark.column_type.is_temporal or mark.column_type.is_integer):
                issues.append(
                    (
                        ("source", "watermark_column"),
                        f"column {mark.name!r} is {mark.type}; a watermark is a timestamp, date or integer",
                    )
                )

        # keys equal to primary_key (the default) were checked there: do not report them twice
        if not self.dedup.keys:
            issues.append((("dedup", "keys"), "must not be empty"))
        elif self.dedup.keys != self.primary_key:
            check_columns(("dedup", "keys"), self.dedup.keys)
        if self.dedup.order_by is not None:
            check_column(("dedup", "order_by"), self.dedup.order_by)
        elif self.dedup.keep == "latest":
            issues.append(
                (("dedup", "order_by"), "required when keep is 'latest' (which row is the latest?)")
            )

        for i, check in enumerate(self.quality.checks):
            self._check_quality(("quality", "checks", i), check, columns, check_column, check_columns, issues)

        if self.warehouse is not None:
            wh = self.warehouse
            if wh.mode == "merge" and not wh.keys:
                issues.append((("warehouse", "keys"), "mode merge needs keys"))
            if wh.keys != self.primary_key:
                check_columns(("warehouse", "keys"), wh.keys)
            check_columns(("warehouse", "sort_key"), wh.sort_key)
            if wh.dist_key is not None:
                check_column(("warehouse", "dist_key"), wh.dist_key)

        if len(set(self.tags)) != len(self.tags):
            issues.append((("tags",), "duplicate tags"))

        if self.curate.engine == "athena":
            from airlake.curate.sql import sql_unsupported

            issues.extend((loc, f"{text} (curate.engine athena)") for loc, text in sql_unsupported(self))

        if issues:
            raise FieldIssues(issues)
        return self

    @staticmethod
    def _check_quality(
        loc: Loc,
        check: Any,
        columns: dict[str, Column],
        check_column: Any,
        check_columns: Any,
        issues: list[tuple[Loc, str]],
    ) -> None:
        if isinstance(check, UniqueCheck):
            check_columns((*loc, "columns"), check.columns)
            return
        if not isinstance(check, NotNullCheck | AcceptedValuesCheck | RangeCheck):
            return
        column = check_column((*loc, "column"), check.column)
        if column is None:
            return
        ctype = column.column_type
        if isinstance(check, AcceptedValuesCheck):
            if ctype.is_temporal:
                issues.append(
                    ((*loc, "column"), f"accepted_values does not apply to {column.type} columns; use range")
                )
                return
            kinds, expected = _VALUE_KINDS[ctype.base]
            seen: set[Any] = set()
            for j, value in enumerate(check.values):
                is_bool = isinstance(value, bool)
                if not isinstance(value, kinds) or (is_bool and ctype.base != "boolean"):
                    hint = " (YAML reads yes/no/on/off as booleans: quote them)" if is_bool else ""
                    issues.append(
                        (
                            (*loc, "values", j),
                            f"{_show(value)} is not {expected} like column {column.name!r} ({column.type}){hint}",
                        )
                    )
                if value in seen:
                    issues.append(((*loc, "values", j), f"duplicate value {value!r}"))
                seen.add(value)
        elif isinstance(check, RangeCheck):
            if not (ctype.is_numeric or ctype.is_temporal):
                issues.append(((*loc, "column"), f"range does not apply to {column.type} columns"))
                return
            for bound in ("min", "max"):
                value = getattr(check, bound)
                if value is None:
                    continue
                if ctype.is_numeric:
                    ok = isinstance(value, int | float)
                elif ctype.base == "date":
                    ok = isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)
                else:
                    ok = isinstance(value, datetime.date)
                if not ok:
                    issues.append(
                        ((*loc, bound), f"{_show(value)} does not fit column {column.name!r} ({column.type})")
                    )

    # ---- helpers ------------------------------------------------------------------------------

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in schema order."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError if there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(
            f"dataset {self.name!r} has no column {name!r} (columns: {', '.join(self.column_names)})"
        )

    def _resolve(self, column: Column | str) -> Column:
        return column if isinstance(column, Column) else self.column(column)

    @property
    def partition_column(self) -> str:
        """Name of the Hive-style partition column (``dt``)."""
        return self.partitioning.column

    @property
    def schema_hash(self) -> str:
        """sha256 of the ordered (name, type, nullable) of the columns: changes when the schema changes."""
        canonical = json.dumps([[c.name, c.type, c.nullable] for c in self.columns], separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def arrow_schema(self) -> pa.Schema:
        """pyarrow schema of the curated data (imports pyarrow when called).

        Column descriptions are kept as field metadata (``description``)."""
        import pyarrow as pa

        return pa.schema(
            [
                pa.field(
                    column.name,
                    column.arrow_type(),
                    nullable=column.nullable,
                    metadata={"description": column.description} if column.description else None,
                )
                for column in self.columns
            ]
        )

    def glue_type(self, column: Column | str) -> str:
        """Glue / Athena type of a column: string, boolean, int, bigint, double, date, timestamp,
        decimal(p,s)."""
        return self._resolve(column).glue_type

    def postgres_type(self, column: Column | str) -> str:
        """PostgreSQL type of a column: text, boolean, integer, bigint, double precision, date, timestamp,
        timestamptz, numeric(p,s)."""
        return self._resolve(column).postgres_type

    def redshift_type(self, column: Column | str) -> str:
        """Redshift type of a column (as PostgreSQL, strings as varchar(65535))."""
        return self._resolve(column).redshift_type

    def duckdb_type(self, column: Column | str) -> str:
        """DuckDB type of a column."""
        return self._resolve(column).duckdb_type


def _attribute_docstrings() -> dict[str, dict[str, str]]:
    """Class name -> field -> the string right after the field's annotation, read from this module's
    source the way pydantic's ``use_attribute_docstrings`` reads it (cleaned with ``inspect.cleandoc``)."""
    import ast
    import inspect
    import sys

    docs: dict[str, dict[str, str]] = {}
    for node in ast.parse(inspect.getsource(sys.modules[__name__])).body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = docs.setdefault(node.name, {})
        for stmt, following in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                fields[stmt.target.id] = inspect.cleandoc(following.value.value)
    return docs


_described = False


def _describe_fields() -> None:
    """Give every field without a description its attribute docstring (an inherited field its parent's),
    then rebuild the models so that their JSON Schema carries them: what ``use_attribute_docstrings``
    did at import, done once and only for the schema."""
    import inspect

    global _described
    if _described:
        return
    docs = _attribute_docstrings()
    models = [
        value
        for value in globals().values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == __name__
    ]

    def described(model: type[BaseModel], name: str) -> str | None:
        if name not in inspect.get_annotations(model):  # inherited: the parent's field
            parent = next(
                (b for b in model.__mro__[1:] if issubclass(b, BaseModel) and name in b.model_fields), None
            )
            if parent is not None and (found := described(parent, name)) is not None:
                return found
        return docs.get(model.__name__, {}).get(name)

    for model in models:
        for name, field in model.model_fields.items():
            if field.description is None:
                field.description = described(model, name)
    for _ in range(2):  # nested models first, then the models that embed them
        for model in models:
            model.model_rebuild(force=True)
    _described = True


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a contract file, for editors and CI."""
    _describe_fields()
    schema = Contract.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated by `python -m airlake.contracts schema --write`; do not edit by hand.",
        **schema,
    }
