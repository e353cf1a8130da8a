"""DB-API plumbing of the load, shared by the PostgreSQL and Redshift paths: one transaction, one scalar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

DbApiConnection = Any
"""A PEP 249 connection (psycopg 3, redshift_connector, or a test double)."""
DbApiCursor = Any


@contextmanager
def transaction(conn: DbApiConnection) -> Iterator[DbApiCursor]:
    """One transaction on a DB-API connection, whatever its autocommit mode: a cursor, then COMMIT, or
    ROLLBACK on any error. Autocommit is switched off for the block (and restored) so that every
    statement inside belongs to the one transaction."""
    autocommit = bool(getattr(conn, "autocommit", False))
    if autocommit:
        conn.autocommit = False
    try:
        with closing(conn.cursor()) as cursor:
            yield cursor
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        if autocommit:
            conn.autocommit = True


def _scalar(cursor: DbApiCursor, sql: str) -> int:
    cursor.execute(sql)
    row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0
