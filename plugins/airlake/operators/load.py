"""WarehouseLoadOperator: load the partitions a run published into the warehouse table, idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airlake.operators.base import DatasetOperator, argument

if TYPE_CHECKING:
    from airflow.sdk import Connection, Context

    from airlake.contracts import Contract
    from airlake.store import LakeStore

POSTGRES_CONN_TYPES = frozenset({"postgres", "postgresql"})
REDSHIFT_CONN_TYPES = frozenset({"redshift"})


class WarehouseLoadOperator(DatasetOperator):
    """
    Load exactly the Parquet files the run's curate stage wrote (never a prefix) into the contract's
    warehouse table: staging, de-duplication by the contract's rule, then MERGE (or partition replace,
    or append), in one transaction. Each file holds a whole partition version, so re-loading a run
    leaves the table unchanged.

    The warehouse connection's type picks the path: ``redshift`` (the Amazon provider's
    RedshiftSQLHook; COPY of a manifest of the files, with the IAM role from the connection's extra
    ``copy_iam_role`` or ``iam_role``) or ``postgres`` (the local stand-in; the files are streamed).

    The dataset and the lake's arguments (``kms_key_id`` also for the Redshift COPY manifest):
    :class:`~airlake.operators.base.DatasetOperator`.

    :param warehouse_conn_id: the warehouse connection (``redshift``, or ``postgres`` locally).
    """

    template_fields: Sequence[str] = (*DatasetOperator.template_fields, "warehouse_conn_id")
    ui_color = "#ffe8cc"

    warehouse_conn_id: str = argument("airlake_warehouse")

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk import BaseHook

        from airlake.contracts import get_contract
        from airlake.lineage import load_lineage, region_of
        from airlake.manifest import CurateRecord, Manifest, read_record

        contract = get_contract(self.dataset)
        if contract.warehouse is None:
            self.log.info("%s has no warehouse target in its contract: nothing to load", self.dataset)
            return {"dataset": self.dataset, "loaded": False}
        run_id = context["run_id"]
        store = self.lake_store()
        curate = read_record(store, self.dataset, run_id, CurateRecord)
        if curate is None or not curate.complete:
            raise RuntimeError(f"{self.dataset} run {run_id}: no complete curate manifest to load")
        files = curate.files

        connection = BaseHook.get_connection(self.warehouse_conn_id)
        conn_type = (connection.conn_type or "").lower()
        if conn_type in REDSHIFT_CONN_TYPES:
            added, result, details = self._load_redshift(contract, store, run_id, files)
        elif conn_type in POSTGRES_CONN_TYPES:
            added, result, details = self._load_postgres(connection, contract, store, files)
        else:
            raise ValueError(
                f"warehouse connection {self.warehouse_conn_id!r} is {connection.conn_type!r}: expected "
                "'redshift' (AWS) or 'postgres' (the local stand-in)"
            )
        manifest = Manifest(dataset=self.dataset, run_id=run_id, stage="load")
        manifest.inputs = [{"key": key} for key in files]
        manifest.extra = {"table": contract.warehouse.table, "added_columns": added, **details}
        manifest.rows = {name: value for name, value in (result or {}).items() if isinstance(value, int)}
        manifest.write(store)
        self._lineage = load_lineage(
            self.bucket,
            self.dataset,
            files,
            connection,
            contract.warehouse.table,
            result,
            region=region_of(self.hook),
        )
        return {"dataset": self.dataset, "table": contract.warehouse.table, **manifest.rows}

    def _load_postgres(
        self, connection: Connection, contract: Contract, store: LakeStore, files: list[str]
    ) -> tuple[list[str], dict[str, Any] | None, dict[str, Any]]:
        import psycopg

        from airlake.load import ensure_target_table, load_partitions

        uri = connection.get_uri().replace("postgres://", "postgresql://", 1)
        with psycopg.connect(uri, autocommit=True) as conn:
            added = ensure_target_table(conn, contract)
            result = load_partitions(conn, contract, store, files) if files else None
        return added, result, {"warehouse": "postgres"}

    def _load_redshift(
        self, contract: Contract, store: LakeStore, run_id: str, files: list[str]
    ) -> tuple[list[str], dict[str, Any] | None, dict[str, Any]]:
        from airlake.load import ensure_target_table, load_manifest, write_copy_manifest
        from airlake.load.redshift_hook import RedshiftLoadHook

        hook = RedshiftLoadHook(redshift_conn_id=self.warehouse_conn_id, aws_conn_id=self.aws_conn_id)
        iam_role = hook.copy_iam_role()
        manifest_uri = write_copy_manifest(store, self.dataset, run_id, files) if files else None
        conn = hook.get_conn()
        try:
            added = ensure_target_table(conn, contract, redshift=True)
            result = None
            if manifest_uri is not None:
                result = load_manifest(
                    conn, contract, manifest_uri=manifest_uri, iam_role=iam_role, files=len(files)
                )
        finally:
            conn.close()
        return added, result, {"warehouse": "redshift", "copy_manifest": manifest_uri}
