"""WarehouseLoadOperator: load the partitions a run published into the warehouse table, idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context


class WarehouseLoadOperator(AwsBaseOperator[S3Hook]):
    """
    Load exactly the Parquet files the run's curate stage wrote (never a prefix) into the contract's
    warehouse table: staging, de-duplication by the contract's rule, then MERGE (or partition replace,
    or append), in one transaction. Each file holds a whole partition version, so re-loading a run
    leaves the table unchanged.

    :param dataset: contract name.
    :param bucket: the lake bucket.
    :param warehouse_conn_id: the warehouse connection (``postgres`` locally).
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("dataset", "bucket", "warehouse_conn_id")
    ui_color = "#ffe8cc"

    def __init__(
        self, *, dataset: str, bucket: str, warehouse_conn_id: str = "airlake_warehouse", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.bucket = bucket
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        import psycopg
        from airflow.sdk import BaseHook

        from airlake.contracts import get_contract
        from airlake.load import ensure_target_table, load_partitions
        from airlake.manifest import COMPLETE, Manifest, read_manifest
        from airlake.store import LakeStore

        contract = get_contract(self.dataset)
        if contract.warehouse is None:
            self.log.info("%s has no warehouse target in its contract: nothing to load", self.dataset)
            return {"dataset": self.dataset, "loaded": False}
        store = LakeStore(self.hook, self.bucket)
        curate = read_manifest(store, self.dataset, context["run_id"], "curate")
        if not curate or curate.get("status") != COMPLETE:
            raise RuntimeError(f"{self.dataset} run {context['run_id']}: no complete curate manifest to load")
        files = [key for partition in curate.get("partitions", []) for key in partition["files"]]

        connection = BaseHook.get_connection(self.warehouse_conn_id)
        if connection.conn_type not in ("postgres", "postgresql"):
            raise NotImplementedError(
                f"warehouse connection {self.warehouse_conn_id!r} is {connection.conn_type!r}: only the "
                "PostgreSQL stand-in is wired so far (the Redshift COPY path is open work)"
            )
        uri = connection.get_uri().replace("postgres://", "postgresql://", 1)
        with psycopg.connect(uri, autocommit=True) as conn:
            added = ensure_target_table(conn, contract)
            result = load_partitions(conn, contract, store, files) if files else None
        manifest = Manifest(dataset=self.dataset, run_id=context["run_id"], stage="load")
        manifest.inputs = [{"key": key} for key in files]
        manifest.extra = {"table": contract.warehouse.table, "added_columns": added}
        counts = result or {}
        manifest.rows = {name: value for name, value in counts.items() if isinstance(value, int)}
        manifest.write(store)
        return {"dataset": self.dataset, "table": contract.warehouse.table, **manifest.rows}
