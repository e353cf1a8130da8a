"""BusinessReportOperator: the week's answers from the materialised views, as JSON and HTML in the lake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

from airlake.operators.base import argument
from airlake.operators.query import QueryOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class BusinessReportOperator(QueryOperator):
    """
    The week's business report from the views (revenue by country, the funnel, popular products, each
    against the week before) as ``reports/business/week=<week_start>/report.json`` and ``report.html``
    (:mod:`airlake.report.business`). The engine's arguments: :class:`~airlake.operators.query.QueryOperator`.

    :param week_start: the Monday of the ISO week, ``YYYY-MM-DD``.
    """

    aws_hook_class = GlueCatalogHook
    template_fields: Sequence[str] = (*QueryOperator.template_fields, "week_start")
    ui_color = "#fff1cc"

    week_start: str = argument()

    def execute(self, context: Context) -> dict[str, Any]:
        from airlake.lineage import region_of, report_lineage
        from airlake.paths import sql_dir
        from airlake.report.business import build_report, write_report

        week_start = str(self.week_start)
        store = self.lake_store()
        queries: list[str] = []

        def render(relative_path: str, ds: str) -> str:
            text = (sql_dir() / relative_path).read_text()
            queries.append(self.render_template(text, {**context, "ds": ds}))
            return queries[-1]

        with self.query_engine(self.glue_client(), store) as engine:
            report = build_report(engine, render, week_start=week_start)
        keys = write_report(store, report)
        self._lineage = report_lineage(
            self.bucket, self.database, queries, keys.values(), region=region_of(self.hook)
        )
        for row in report["top_countries"][:5]:
            self.log.info("Revenue %s: %s EUR", row["country"], row["revenue_eur"])
        self.log.info("Report written to s3://%s/%s", self.bucket, keys["html"])
        return {"week_start": week_start, **keys, "bytes_scanned": report["bytes_scanned"]}
