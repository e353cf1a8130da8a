"""Database records: an incremental extract by a watermark column, streamed with a server-side cursor.

A run reads rows with ``low < watermark < interval end``, where ``low`` is the highest watermark an
earlier run landed, so runs neither skip nor repeat rows. Rows whose watermark ties the checkpoint but
commit after it was read are the one known gap of watermark extracts; give the source a commit-time
watermark (e.g. a trigger-maintained updated_at) to avoid it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from airlake.ingest.base import IngestContext, IngestSource, SourceBatch
from airlake.sql_text import quote_identifier, render_sql

log = logging.getLogger(__name__)


class DatabaseSource(IngestSource):
    """Rows of ``table`` newer than the checkpointed watermark, oldest first, in ``batch_rows`` batches.

    A timestamp watermark is also bounded by the run's data interval end, so a backfill of a past day
    stops at that day; an id watermark (``bounded_by_interval=False``) reads up to the newest row.
    """

    kind: ClassVar[str] = "database"

    def __init__(
        self,
        *,
        connect: Callable[[], Any],
        table: str,
        columns: Sequence[str],
        watermark_column: str,
        key_columns: Sequence[str],
        batch_rows: int = 50_000,
        bounded_by_interval: bool = True,
        event_time_column: str | None = None,
    ) -> None:
        self.connect = connect
        self.table = table
        self.columns = list(columns)
        self.watermark_column = watermark_column
        self.key_columns = list(key_columns)
        self.batch_rows = batch_rows
        self.bounded_by_interval = bounded_by_interval
        self.event_time_column = event_time_column

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": self.table, "watermark_column": self.watermark_column}

    def extract_sql(self, *, has_low: bool, event_range: bool = False) -> str:
        if event_range and not self.event_time_column:
            raise ValueError(f"{self.table}: a full refresh needs the contract's event_time column")
        return render_sql(
            "source/extract_incremental.sql",
            has_low=has_low,
            has_high=self.bounded_by_interval and not event_range,
            event_range=event_range,
            low_param="%(low)s",
            high_param="%(high)s",
            start_param="%(start)s",
            end_param="%(end)s",
            event_time=quote_identifier(self.event_time_column) if event_range else "",
            columns=", ".join(quote_identifier(name) for name in self.columns),
            table=quote_identifier(self.table),
            watermark=quote_identifier(self.watermark_column),
            order_keys=", ".join(quote_identifier(name) for name in self.key_columns),
        )

    def batches(self, ctx: IngestContext, checkpoint: dict[str, Any] | None) -> Iterator[SourceBatch]:
        """Rows after the checkpoint; with ``ctx.full_refresh``, every row whose event time is in the
        interval, leaving the checkpoint where it was (a refresh of past days is not progress)."""
        low = None if ctx.full_refresh else (checkpoint or {}).get("watermark")
        params = {"low": low, "high": ctx.interval_end, "start": ctx.interval_start, "end": ctx.interval_end}
        sql = self.extract_sql(has_low=low is not None, event_range=ctx.full_refresh)
        connection = self.connect()
        try:
            cursor = _streaming_cursor(connection)
            cursor.execute(sql, params)
            names = [description[0] for description in cursor.description]
            watermark_at = names.index(self.watermark_column)
            while rows := cursor.fetchmany(self.batch_rows):
                high = rows[-1][watermark_at]
                lines = [_json_line(names, row, table=self.table) for row in rows]
                yield SourceBatch(
                    checkpoint=checkpoint if ctx.full_refresh else {"watermark": _jsonable(high)},
                    inputs=[
                        {
                            "table": self.table,
                            "from": _jsonable(low),
                            "to": _jsonable(high),
                            "rows": len(rows),
                        }
                    ],
                    lines=lines,
                    rows=len(rows),
                )
                low = _jsonable(high)
            cursor.close()
        finally:
            connection.close()


def _streaming_cursor(connection: Any) -> Any:
    """A server-side (named) cursor where the driver has one, so the result never sits in memory."""
    try:
        cursor = connection.cursor(name="airlake_extract")
        cursor.itersize = 10_000
        return cursor
    except TypeError:
        return connection.cursor()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def _json_line(names: list[str], row: Sequence[Any], *, table: str = "") -> bytes:
    record = {name: _jsonable(value) for name, value in zip(names, row, strict=True)}
    try:
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError) as error:  # e.g. bytea (memoryview) or interval (timedelta)
        name, value = next(
            ((name, value) for name, value in record.items() if not _dumps_ok(value)), ("?", None)
        )
        raise TypeError(
            f"{table or 'source table'}: column {name!r} holds a {type(value).__name__} value that has no "
            f"JSON form ({error}); cast it in the source (e.g. a view) or drop it from the contract"
        ) from error


def _dumps_ok(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return False
    return True
