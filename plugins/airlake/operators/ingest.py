"""IngestOperator: land one dataset's new source data in the raw zone (any source kind)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.operators.base import DatasetOperator, argument

if TYPE_CHECKING:
    from airflow.sdk import Context


class IngestOperator(DatasetOperator):
    """
    Land what is new in the dataset's source (as its contract declares) in the raw zone, with a manifest
    and a checkpoint (:mod:`airlake.ingest`). An unreadable file is quarantined whole; the task fails when
    every file of the run is; errors a retry would repeat fail at once (:func:`airlake.errors.is_transient`).

    :param max_part_bytes: uncompressed bytes per raw part before it rolls.
    """

    ui_color = "#d7ecff"

    max_part_bytes: int = argument(128 * 1024 * 1024)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airlake.errors import is_transient

        try:
            summary = self._ingest(context)
        except AirflowFailException:
            raise
        except Exception as error:
            if is_transient(error):
                raise
            raise AirflowFailException(
                f"{self.dataset}: ingest failed and is not retried (the same input fails the same way): "
                f"{type(error).__name__}: {error}"
            ) from error
        if summary["poison_files"] and not summary["parts"]:
            raise AirflowFailException(all_poison_message(summary))
        return summary

    def _ingest(self, context: Context) -> dict[str, Any]:
        from airlake.contracts import get_contract
        from airlake.ingest.base import IngestContext
        from airlake.ingest.factory import build_source
        from airlake.ingest.runner import run_ingest
        from airlake.intervals import interval_of
        from airlake.lineage import ingest_lineage, region_of

        contract = get_contract(self.dataset)
        interval = interval_of(context)
        if interval.full_refresh and contract.source.kind != "database":
            raise ValueError(
                f"{self.dataset}: full_refresh re-extracts a database source by event time; a "
                f"{contract.source.kind} source cannot replay past days"
            )
        store = self.lake_store()
        start, end = interval.start, interval.end
        # The source's templates (e.g. an API's ``date: "{{ data_interval_start | ds }}"``) render with the
        # interval this run processes: the trigger form's days when given, which is not the run's data
        # interval (a run triggered without a logical date, as airlake_reprocess does, has none at all).
        interval_context = {
            **context,
            "data_interval_start": start,
            "data_interval_end": end,
            "ds": interval.ds,
            "ds_nodash": interval.ds.replace("-", ""),
        }
        source = build_source(
            contract,
            store=store,
            aws_conn_id=self.aws_conn_id,
            render=lambda value: self.render_template(value, interval_context),
        )
        with tempfile.TemporaryDirectory(prefix=f"airlake-ingest-{self.dataset}-") as work_dir:
            ctx = IngestContext(
                dataset=self.dataset,
                run_id=context["run_id"],
                ingest_date=start.date(),
                interval_start=start,
                interval_end=end,
                work_dir=Path(work_dir),
                full_refresh=interval.full_refresh,
            )
            summary = run_ingest(source, store, ctx, max_part_bytes=self.max_part_bytes)
        self._lineage = ingest_lineage(contract, store, summary, region=region_of(self.hook))
        return summary


def all_poison_message(summary: dict[str, Any]) -> str:
    """Why a run that landed nothing fails: every file it took was quarantined, named one per line."""
    files = summary["poison_files"]
    lines = "\n".join(f"- {item['message']} [{item['reason']}] -> {item['quarantine_key']}" for item in files)
    return (
        f"{summary['dataset']} run {summary['run_id']}: all {len(files)} new file(s) are unreadable and were "
        "quarantined whole; nothing landed. Upload corrected files (the same key again is fine: its new ETag "
        "is taken) and let the next run, or a new manual one, land them; clearing this run reports the same "
        f"files again:\n{lines}"
    )
