"""MaterialiseOperator: one view of sql/athena for one day -> a versioned Parquet partition in Glue."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

from airlake.operators.query import QueryOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

_VIEW = re.compile(r"^[a-z][a-z0-9_]*$")


def _checked_day(value: Any) -> str:
    """``YYYY-MM-DD`` after checking it is a real date: it is spliced into the view's SQL."""
    from datetime import date

    text = str(value).strip()
    with contextlib.suppress(ValueError):
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
    raise ValueError(f"ds must be a date YYYY-MM-DD, got {text!r}")


def view_sql_path(view: str) -> Any:
    """``sql/athena/<view>.sql`` after checking the name; ValueError when it is unsafe or missing."""
    from airlake.paths import sql_dir

    if not isinstance(view, str) or not _VIEW.match(view):
        raise ValueError(f"view {view!r} must match {_VIEW.pattern}")
    path = sql_dir() / "athena" / f"{view}.sql"
    if not path.is_file():
        raise ValueError(f"view {view!r} has no SQL file {path}")
    return path


class MaterialiseOperator(QueryOperator):
    """
    Materialise one view for one day: ``sql/athena/<view>.sql`` rendered with ``{{ ds }}``, run on the
    query engine, written as a new version of partition ``dt=<ds>`` of table ``<database>.<view>`` and
    published (:mod:`airlake.analytics`). The engine's arguments: :class:`~airlake.operators.query.QueryOperator`.

    :param view: name of ``sql/athena/<view>.sql`` (``^[a-z][a-z0-9_]*$``); also the table name.
    :param ds: the day (``YYYY-MM-DD``) to materialise; default the run's ``ds``.
    :param scan_limit_bytes: refuse to run when the live partitions read are larger; None: no check.
    :param memory_limit: DuckDB memory limit.
    """

    aws_hook_class = GlueCatalogHook
    template_fields: Sequence[str] = (
        *QueryOperator.template_fields,
        "view",
        "ds",
        "scan_limit_bytes",
        "memory_limit",
    )
    ui_color = "#fff1cc"

    def __init__(
        self,
        *,
        view: str,
        ds: str = "{{ ds }}",
        scan_limit_bytes: int | None = None,
        memory_limit: str | None = "1GB",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if "{{" not in view:
            view_sql_path(view)  # fail at parse time for a literal name
        self.view = view
        self.ds = ds
        self.scan_limit_bytes = scan_limit_bytes
        self.memory_limit = memory_limit

    def execute(self, context: Context) -> dict[str, Any]:
        from airlake.analytics import materialise_view
        from airlake.lineage import materialise_lineage, region_of

        path = view_sql_path(self.view)
        ds = _checked_day(self.ds)
        sql = self.render_template(path.read_text(), {**context, "ds": ds, "ds_nodash": ds.replace("-", "")})
        glue = self.glue_client()
        store = self.lake_store()
        limit = None if self.scan_limit_bytes in (None, "", "None") else int(self.scan_limit_bytes)
        with self.query_engine(glue, store, memory_limit=self.memory_limit) as engine:
            result = materialise_view(
                engine,
                glue,
                store,
                database=self.database,
                view=self.view,
                sql=sql,
                ds=ds,
                scan_limit_bytes=limit,
                run_id=context["run_id"],
            )
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {"view": self.view, "partitions": [result["dt"]]}
        self._lineage = materialise_lineage(
            self.bucket, self.database, self.view, sql, result, region=region_of(self.hook)
        )
        self.log.info(
            "Materialised %s.%s dt=%s with %s: %d row(s) at %s, %s bytes scanned",
            self.database,
            self.view,
            result["dt"],
            self.engine_name,
            result["rows"],
            result["location"],
            result["bytes_scanned"],
        )
        return result
