"""The SQL of one load, rendered from ``sql/redshift/*.sql``: target table, staging, dedup, merge, COPY.

SQL that both Redshift and PostgreSQL 15 accept, so the offline stand-in runs the same de-duplication
and MERGE as production; only the COPY that fills the staging table differs between the two paths.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airlake.sql_text import quote_identifier, render_sql

if TYPE_CHECKING:
    from airlake.contracts import Column, Contract

SEQ_COLUMN = "airlake_seq"
"""Staging-only column: the arrival order of a row across the loaded files (ties of the dedup rule).
PostgreSQL fills it while streaming; a Redshift COPY cannot, so it stays NULL there."""
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^'\\\s;]+$")
IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/\-]{1,512}$")


def _warehouse(contract: Contract) -> Any:
    if contract.warehouse is None:
        raise ValueError(f"dataset {contract.name!r} has no warehouse target in its contract")
    return contract.warehouse


def _column_definition(column: Column, *, redshift: bool) -> str:
    type_name = column.redshift_type if redshift else column.postgres_type
    return f"{quote_identifier(column.name)} {type_name}" + ("" if column.nullable else " not null")


def _names(names: Any, prefix: str = "") -> str:
    return ", ".join(prefix + quote_identifier(name) for name in names)


def _key_condition(keys: Any) -> str:
    return " and ".join(f"tgt.{quote_identifier(k)} = src.{quote_identifier(k)}" for k in keys)


def _event_date(contract: Contract) -> str:
    """SQL expression of the UTC event date of a row (the ``dt`` of its curated partition)."""
    column = contract.column(contract.event_time)
    name = quote_identifier(column.name)
    base = column.column_type.base
    if base == "date":
        return name
    if base == "timestamptz":
        return f"cast({name} at time zone 'UTC' as date)"
    return f"cast({name} as date)"


def create_table_sql(contract: Contract, *, redshift: bool = False) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the contract's warehouse table (primary key on the keys for merge)."""
    warehouse = _warehouse(contract)
    elements = [_column_definition(column, redshift=redshift) for column in contract.columns]
    if warehouse.mode == "merge" and warehouse.keys:
        elements.append(f"primary key ({_names(warehouse.keys)})")
    options = ""
    if redshift:
        parts = []
        if warehouse.dist_key:
            parts.append(f"diststyle key distkey ({quote_identifier(warehouse.dist_key)})")
        if warehouse.sort_key:
            parts.append(f"compound sortkey ({_names(warehouse.sort_key)})")
        options = " ".join(parts)
    return render_sql(
        "redshift/create_table.sql",
        target=quote_identifier(warehouse.table),
        table_elements=",\n    ".join(elements),
        table_options=options,
    )


def redshift_copy_sql(table: str, manifest_s3_uri: str, iam_role: str, *, columns: Sequence[str]) -> str:
    """Redshift ``COPY`` of exactly the Parquet files listed in a manifest (the AWS path).

    ``table`` and ``columns`` are quoted as identifiers (Parquet columns map to ``columns`` by
    position); the manifest URI and the role ARN are checked and rendered as string literals (COPY
    takes no bind parameters). The result holds the role: never log it."""
    if not _S3_URI.match(manifest_s3_uri):
        raise ValueError(f"not an s3:// manifest URI: {manifest_s3_uri!r}")
    if not IAM_ROLE_ARN.match(iam_role):
        raise ValueError("not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    if not columns:
        raise ValueError("a COPY needs the list of the Parquet files' columns")
    return render_sql(
        "redshift/copy_manifest.sql",
        target=quote_identifier(table),
        load_columns=_names(columns),
        manifest_uri=f"'{manifest_s3_uri}'",
        iam_role=f"'{iam_role}'",
    )


@dataclass(frozen=True)
class ApplyStatements:
    """The statements that apply a load to the target, reading one source table (the de-duplicated
    table, or the staging table itself when it is unique by key)."""

    count_matched: str | None
    merge: str | None
    delete_partitions: str | None
    insert: str | None


@dataclass(frozen=True)
class LoadStatements:
    """The SQL of one load, in the order it runs; the same on PostgreSQL and Redshift (only the COPY
    that fills ``staging`` differs). Names are unquoted; statements are one each. ``count_matched``
    .. ``insert`` read the de-duplicated table; ``from_staging`` holds the same statements reading the
    staging table, run when ``count_duplicate_keys`` finds no repeated key."""

    staging: str
    deduped: str
    create_staging: str
    add_seq_column: str
    count_staged: str
    count_duplicate_keys: str
    dedup: str
    count_deduped: str
    count_matched: str | None
    merge: str | None
    delete_partitions: str | None
    insert: str | None
    from_staging: ApplyStatements
    drop: tuple[str, ...]


def load_statements(contract: Contract, *, token: str | None = None) -> LoadStatements:
    """Render every statement of one load of ``contract`` (``token`` names its staging tables).

    De-duplication keeps one row per dedup key: by the contract's ``order_by``, then the event date,
    then the arrival order. The event date makes ties deterministic on Redshift too, where COPY leaves
    no arrival order; for curated files (one partition per event date, listed in date order) it agrees
    with the arrival order."""
    warehouse = _warehouse(contract)
    token = token or uuid.uuid4().hex[:12]
    staging, deduped = f"airlake_stage_{token}", f"airlake_dedup_{token}"
    dedup = contract.dedup
    keys = dedup.keys or contract.primary_key
    direction = "desc" if dedup.keep == "latest" else "asc"
    order = [f"{quote_identifier(dedup.order_by)} {direction}"] if dedup.order_by else []
    order.append(f"{_event_date(contract)} {direction}")
    order.append(f"{quote_identifier(SEQ_COLUMN)} {direction}")
    values = {
        "target": quote_identifier(warehouse.table),
        "staging": quote_identifier(staging),
        "deduped": quote_identifier(deduped),
        "load_columns": _names(contract.column_names),
    }
    applied = _apply_statements(contract, values)
    return LoadStatements(
        staging=staging,
        deduped=deduped,
        create_staging=render_sql("redshift/create_staging.sql", **values),
        add_seq_column=render_sql(
            "redshift/add_column.sql",
            target=values["staging"],
            column_definition=f"{quote_identifier(SEQ_COLUMN)} bigint",
        ),
        count_staged=render_sql("redshift/count_rows.sql", staging=values["staging"]),
        count_duplicate_keys=render_sql(
            "redshift/count_duplicate_keys.sql", staging=values["staging"], dedup_keys=_names(keys)
        ),
        dedup=render_sql(
            "redshift/dedup.sql", **values, dedup_keys=_names(keys), dedup_order=", ".join(order)
        ),
        count_deduped=render_sql("redshift/count_rows.sql", staging=values["deduped"]),
        count_matched=applied.count_matched,
        merge=applied.merge,
        delete_partitions=applied.delete_partitions,
        insert=applied.insert,
        from_staging=_apply_statements(contract, {**values, "deduped": values["staging"]}),
        drop=tuple(
            render_sql("redshift/drop_table.sql", staging=quote_identifier(name))
            for name in (staging, deduped)
        ),
    )


def _apply_statements(contract: Contract, values: dict[str, str]) -> ApplyStatements:
    """Merge / partition delete / insert of the warehouse mode, reading ``values["deduped"]``."""
    warehouse = _warehouse(contract)
    if warehouse.mode == "merge":
        key_condition = _key_condition(warehouse.keys)
        non_keys = [name for name in contract.column_names if name not in warehouse.keys]
        return ApplyStatements(
            count_matched=render_sql("redshift/count_matched.sql", **values, key_condition=key_condition),
            merge=render_sql(
                "redshift/merge.sql",
                **values,
                key_condition=key_condition,
                update_assignments=", ".join(
                    f"{quote_identifier(n)} = src.{quote_identifier(n)}" for n in non_keys
                ),
                source_columns=_names(contract.column_names, "src."),
            ),
            delete_partitions=None,
            insert=None,
        )
    delete = None
    if warehouse.mode == "partition_replace":
        delete = render_sql("redshift/delete_partitions.sql", **values, event_date=_event_date(contract))
    return ApplyStatements(
        count_matched=None,
        merge=None,
        delete_partitions=delete,
        insert=render_sql("redshift/insert.sql", **values),
    )
