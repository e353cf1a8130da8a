"""Redshift load: one ``COPY ... FORMAT AS PARQUET`` of a manifest listing exactly the run's files.

Plain functions over a DB-API connection (redshift_connector in production, a recording double in
tests); the de-duplication and MERGE are the shared statements of :mod:`airlake.load.statements`.

- :func:`write_copy_manifest` writes the COPY manifest (``mandatory`` entries with the
  ``content_length`` Redshift needs for Parquet) to the lake, server-side encrypted;
- :func:`load_manifest` stages it with COPY (IAM role from the connection, never logged) and applies
  it in one transaction; a failed COPY raises :class:`RedshiftCopyError` naming the file, line, column
  and reason that Redshift logged in ``stl_load_errors``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airlake.lake import copy_manifest_key, s3_uri
from airlake.load.dbapi import DbApiConnection, DbApiCursor
from airlake.load.statements import IAM_ROLE_ARN, LoadStatements, load_statements, redshift_copy_sql
from airlake.load.warehouse import run_load
from airlake.sql_text import render_sql

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

COPY_ROLE_KEYS = ("copy_iam_role", "iam_role")
"""Keys of the warehouse connection's extra that may hold the role COPY assumes to read the lake."""
_ANY_ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/\-]+")
REDACTED_ROLE = "arn:aws:iam::***:role/***"


class RedshiftCopyError(RuntimeError):
    """A COPY into the staging table failed; the message names the rejected file, line, column, reason."""


@dataclass(frozen=True)
class LoadError:
    """One row of ``stl_load_errors``."""

    query: int
    file: str
    line: int
    column: str
    column_type: str
    code: int
    reason: str

    def describe(self) -> str:
        column = f"column {self.column!r}" + (f" ({self.column_type})" if self.column_type else "")
        return f"{self.file} line {self.line}, {column}: {self.reason} (error {self.code})"


# --------------------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------------------


def copy_iam_role(extra: Mapping[str, Any], conn_id: str) -> str:
    """The IAM role ARN for COPY from a connection's extra (``copy_iam_role``, else ``iam_role``).

    Errors never repeat the value: it is an account id and role name an attacker could use."""
    for key in COPY_ROLE_KEYS:
        value = extra.get(key)
        if value:
            if not isinstance(value, str) or not IAM_ROLE_ARN.match(value):
                raise ValueError(
                    f"connection {conn_id!r}: extra {key!r} is not an IAM role ARN "
                    "(arn:aws:iam::<account>:role/<name>)"
                )
            return value
    raise ValueError(
        f"connection {conn_id!r}: no IAM role for COPY; set extra 'copy_iam_role' (or 'iam_role') to the "
        "ARN of a role the cluster may assume to read the lake"
    )


def redact(text: str, *secrets: str) -> str:
    """``text`` without the given secrets nor any IAM role ARN (database errors quote the role)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED_ROLE)
    return _ANY_ROLE_ARN.sub(REDACTED_ROLE, text)


# --------------------------------------------------------------------------------------------------
# The manifest
# --------------------------------------------------------------------------------------------------


def copy_manifest(store: LakeStore, files: list[str]) -> dict[str, Any]:
    """The COPY manifest document of ``files`` (keys in ``store``), in their order.

    Every entry is mandatory (COPY fails if a file is missing rather than loading less) and carries
    the object's size from S3, which Redshift requires for Parquet."""
    if not files:
        raise ValueError("a COPY manifest needs at least one file")
    duplicates = sorted({key for key in files if files.count(key) > 1})
    if duplicates:
        raise ValueError(f"files listed twice would be loaded twice: {duplicates}")
    entries = []
    for key in files:
        size = int(store.head(key)["ContentLength"])
        entries.append(
            {"url": s3_uri(store.bucket, key), "mandatory": True, "meta": {"content_length": size}}
        )
    return {"entries": entries}


def write_copy_manifest(store: LakeStore, dataset: str, run_id: str, files: list[str]) -> str:
    """Write the COPY manifest of one run's load to the lake (SSE like every put); its s3:// URI."""
    key = copy_manifest_key(dataset, run_id)
    store.put_json(key, copy_manifest(store, files))
    uri = s3_uri(store.bucket, key)
    log.info("Wrote the COPY manifest of %d file(s) to %s", len(files), uri)
    return uri


# --------------------------------------------------------------------------------------------------
# The load
# --------------------------------------------------------------------------------------------------


def read_load_errors(cursor: DbApiCursor) -> list[LoadError]:
    """The ``stl_load_errors`` rows of this session's failed COPY (the newest COPY only)."""
    cursor.execute(render_sql("redshift/load_errors.sql"))
    rows = cursor.fetchall() or []
    errors = [
        LoadError(
            query=int(row[0]),
            file=str(row[1] or "").strip(),
            line=int(row[2] or 0),
            column=str(row[3] or "").strip(),
            column_type=str(row[4] or "").strip(),
            code=int(row[5] or 0),
            reason=str(row[6] or "").strip(),
        )
        for row in rows
    ]
    return [error for error in errors if error.query == errors[0].query] if errors else []


class _CopyFailed(Exception):
    """Carries a failed COPY out of the aborted transaction (stl_load_errors is read after ROLLBACK)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def load_manifest(
    conn: DbApiConnection,
    contract: Contract,
    *,
    manifest_uri: str,
    iam_role: str,
    files: int,
) -> dict[str, Any]:
    """Redshift: COPY the Parquet files of ``manifest_uri`` into a staging table, de-duplicate them and
    apply the contract's warehouse mode, in one transaction (autocommit off, then COMMIT).

    ``files`` is the number of files the manifest lists (for the result). The target must exist
    (:func:`airlake.load.warehouse.ensure_target_table` with ``redshift=True``). Returns
    :class:`~airlake.load.warehouse.LoadResult` as a dict.
    """
    table = contract.warehouse.table if contract.warehouse else contract.name

    def copy_into_staging(cursor: DbApiCursor, sql: LoadStatements) -> None:
        statement = redshift_copy_sql(sql.staging, manifest_uri, iam_role, columns=contract.column_names)
        log.info("COPY %s (%d file(s)) into %s for %s", manifest_uri, files, sql.staging, table)
        try:
            cursor.execute(statement)
        except Exception as exc:
            raise _CopyFailed(exc) from None

    try:
        return run_load(conn, contract, copy_into_staging, files=files, statements=load_statements(contract))
    except _CopyFailed as failed:
        raise _copy_error(conn, table, manifest_uri, iam_role, failed.error) from None


def _copy_error(
    conn: DbApiConnection, table: str, manifest_uri: str, iam_role: str, error: BaseException
) -> RedshiftCopyError:
    """The error to raise for a failed COPY, from ``stl_load_errors`` (the transaction is rolled back)."""
    database_error = redact(str(error).strip() or type(error).__name__, iam_role)
    try:
        with closing(conn.cursor()) as cursor:
            errors = read_load_errors(cursor)
    except Exception as exc:  # the COPY's own error matters more than why its details are missing
        log.warning("Could not read stl_load_errors: %s", redact(str(exc), iam_role))
        errors = []
    finally:
        conn.rollback()  # a read: end its implicit transaction, leave the session clean
    head = f"COPY of {manifest_uri} into the staging table of {table} failed"
    if not errors:
        message = (
            f"{head}: {database_error} (stl_load_errors has no row for it: the failure came before the "
            "rows were read, e.g. access to the bucket, the manifest or the role)"
        )
    else:
        shown = "; ".join(redact(error.describe(), iam_role) for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        message = f"{head}: {shown}{more}. Database error: {database_error}"
    return RedshiftCopyError(message)
