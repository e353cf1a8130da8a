"""Build the source a contract declares, with clients from the providers' hooks and Airflow connections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airlake.ingest.base import IngestSource

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.store import LakeStore

# A stream or queue that never stops producing must still let a run finish.
MAX_RUN_RECORDS = 1_000_000


def build_source(
    contract: Contract,
    *,
    store: LakeStore,
    aws_conn_id: str | None,
    render: Any = None,
) -> IngestSource:
    """The IngestSource for ``contract.source``; ``render`` renders templated values (HTTP params)."""
    spec = contract.source
    if spec.kind == "files":
        from airlake.ingest.sources.files import LandingFilesSource

        return LandingFilesSource(
            store=store,
            landing_prefix=spec.landing_prefix,
            file_format=spec.format,
            compression=spec.compression,
            csv_delimiter=spec.csv.delimiter,
            csv_header=spec.csv.header,
            # the contract's CSV encoding once it declares one (issue 13 item 1); UTF-8 until then
            encoding=getattr(spec.csv, "encoding", None) or "utf-8",
            csv_options=spec.csv,
            columns=len(contract.columns),
        )
    if spec.kind == "database":
        from airflow.sdk import BaseHook

        from airlake.ingest.sources.database import DatabaseSource

        hook = BaseHook.get_connection(spec.conn_id).get_hook()
        watermark_type = contract.column(spec.watermark_column).column_type.base
        return DatabaseSource(
            connect=hook.get_conn,
            table=spec.table,
            columns=contract.column_names,
            watermark_column=spec.watermark_column,
            key_columns=contract.primary_key,
            batch_rows=spec.batch_rows,
            bounded_by_interval=watermark_type in {"timestamp", "timestamptz", "date"},
            event_time_column=contract.event_time,
        )
    if spec.kind == "kinesis":
        from airflow.providers.amazon.aws.hooks.kinesis import KinesisHook

        from airlake.aws import lake_client
        from airlake.ingest.sources.kinesis import KinesisSource

        client = lake_client(KinesisHook(aws_conn_id=aws_conn_id))
        return KinesisSource.from_spec(spec, client=client, max_run_records=MAX_RUN_RECORDS)
    if spec.kind == "sqs":
        from airflow.providers.amazon.aws.hooks.sqs import SqsHook

        from airlake.aws import lake_client
        from airlake.ingest.sources.sqs import SqsSource

        client = lake_client(SqsHook(aws_conn_id=aws_conn_id))
        return SqsSource.from_spec(spec, client=client, max_run_records=MAX_RUN_RECORDS)
    if spec.kind == "http":
        from airflow.providers.http.hooks.http import HttpHook

        from airlake.ingest.sources.http_api import HttpApiSource

        hook = HttpHook(method="GET", http_conn_id=spec.conn_id)
        session = hook.get_conn()
        params = {name: (render(value) if render else value) for name, value in spec.params.items()}
        return HttpApiSource.from_spec(spec, base_url=hook.base_url, params=params, session=session)
    raise ValueError(f"{contract.name}: unsupported source kind {spec.kind!r}")
