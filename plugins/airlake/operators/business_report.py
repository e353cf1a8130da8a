"""BusinessReportOperator: the week's answers from the materialised views, as JSON and HTML in the lake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airlake.operators.base import LakeOperator
from airlake.operators.materialise import QUERY_ENGINE

if TYPE_CHECKING:
    from airflow.sdk import Context


class BusinessReportOperator(LakeOperator):
    """
    Query the views for the ISO week starting ``week_start`` and the week before
    (``sql/athena/reports/*.sql``: revenue by country, funnel per day, most popular products) and write
    ``reports/business/week=<week_start>/report.json`` and ``report.html`` (charts, formatted numbers,
    the change against the week before; see :mod:`airlake.analytics.report`).

    :param week_start: the Monday of the week, ``YYYY-MM-DD`` (templated).
    :param bucket: the lake bucket.
    :param database: the Glue database of the view tables.
    :param engine: ``duckdb`` or ``athena`` (default: Variable ``airlake_query_engine``).
    :param athena_output_location: ``s3://...`` for Athena's result files (with athena).
    :param workgroup: the Athena workgroup (with athena).
    """

    aws_hook_class = GlueCatalogHook
    template_fields: Sequence[str] = aws_template_fields(
        "week_start", "bucket", "database", "engine", "athena_output_location", "workgroup"
    )
    ui_color = "#fff1cc"

    def __init__(
        self,
        *,
        week_start: str,
        engine: str = QUERY_ENGINE,
        athena_output_location: str | None = None,
        workgroup: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.week_start = week_start
        self.engine = engine
        self.athena_output_location = athena_output_location
        self.workgroup = workgroup

    def execute(self, context: Context) -> dict[str, Any]:
        from airlake.analytics.report import build_report, write_report
        from airlake.engines.factory import build_query_engine
        from airlake.lineage import region_of, report_lineage
        from airlake.paths import sql_dir

        week_start = str(self.week_start)
        store = self.lake_store()
        engine = build_query_engine(
            self.engine,
            glue=self.glue_client(),
            store=store,
            database=self.database,
            hook_parameters=self._hook_parameters,
            athena_output_location=self.athena_output_location,
            workgroup=self.workgroup,
        )

        queries: list[str] = []

        def render(relative_path: str, ds: str) -> str:
            text = (sql_dir() / relative_path).read_text()
            queries.append(self.render_template(text, {**context, "ds": ds}))
            return queries[-1]

        try:
            report = build_report(engine, render, week_start=week_start)
        finally:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
        keys = write_report(store, report)
        self._lineage = report_lineage(
            self.bucket, self.database, queries, keys.values(), region=region_of(self.hook)
        )
        for row in report["top_countries"][:5]:
            self.log.info("Revenue %s: %s EUR", row["country"], row["revenue_eur"])
        self.log.info("Report written to s3://%s/%s", self.bucket, keys["html"])
        return {"week_start": week_start, **keys, "bytes_scanned": report["bytes_scanned"]}
