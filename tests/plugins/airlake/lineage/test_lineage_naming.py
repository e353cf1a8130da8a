"""Lineage dataset naming (:mod:`airlake.lineage.naming`): as the providers name the same things."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

from airlake import lineage
from airlake.contracts import get_contract
from tests.plugins.airlake.lineage.lineage_helpers import ATHENA, REGION


class TestNaming:
    def test_lake_datasets_are_zone_and_dataset_in_the_bucket_namespace(self) -> None:
        raw = lineage.zone_dataset("lake", "raw", "orders", locations=["raw/orders/a.gz"], rows=2)
        assert (raw.namespace, raw.name, raw.locations, raw.rows) == (
            "s3://lake",
            "raw/orders",
            ("raw/orders/a.gz",),
            2,
        )
        assert lineage.s3_dataset("lake", "/landing/products/").name == "landing/products"

    def test_glue_tables_are_named_as_athena_names_them(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from airflow.providers.amazon.aws.hooks.athena_sql import AthenaSQLHook

        athena = json.dumps({"conn_type": "aws", "extra": {"region_name": REGION}})
        monkeypatch.setenv("AIRFLOW_CONN_ATHENA_DEFAULT", athena)

        table = lineage.table_dataset(
            REGION, "airlake", "orders", storage=("lake", "curated/orders/"), partitions=["2", "1", "2"]
        )
        provider = AthenaSQLHook().get_openlineage_database_info(
            Connection.from_json(athena, conn_id="athena")
        )
        assert table.namespace == f"{provider.scheme}://{provider.authority}" == ATHENA
        assert table.name == f"{provider.database}.airlake.orders" == "AwsDataCatalog.airlake.orders"
        assert table.symlink == ("s3://lake", "curated/orders")
        assert table.partitions == ("1", "2")
        assert lineage.athena_namespace(None) == "awsathena://athena.amazonaws.com"

    def test_qualified_tables_default_to_the_database(self) -> None:
        names = [t.name for t in lineage.qualified_tables(REGION, ["other.a", "b"], "airlake")]
        assert names == ["AwsDataCatalog.other.a", "AwsDataCatalog.airlake.b"]

    def test_postgres_is_named_as_the_postgres_provider_names_it(self) -> None:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        connection = Connection(
            conn_id="wh", conn_type="postgres", host="127.0.0.1", port=5433, schema="warehouse", login="u"
        )
        provider = PostgresHook().get_openlineage_database_info(connection)
        assert lineage.database_namespace(connection) == f"postgres://{provider.authority}"
        assert lineage.database_namespace(connection) == "postgres://127.0.0.1:5433"
        no_port = Connection(conn_id="wh", conn_type="postgres", host="db", schema="warehouse")
        assert lineage.database_namespace(no_port) == "postgres://db:5432"
        assert lineage.database_table(connection, "orders").name == "warehouse.public.orders"
        assert lineage.database_table(connection, "sales.orders").name == "warehouse.sales.orders"

    @pytest.mark.parametrize(
        ("host", "extra"),
        [
            pytest.param("airlake.abc123xyz.us-east-1.redshift.amazonaws.com", {}, id="cluster-host"),
            pytest.param("10.0.0.7", {}, id="ip"),
            pytest.param("ignored", {"iam": True, "cluster_identifier": "airlake"}, id="iam-cluster"),
        ],
    )
    def test_redshift_is_named_as_redshift_sql_hook_names_it(self, host: str, extra: dict[str, Any]) -> None:
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        connection = Connection(
            conn_id="wh", conn_type="redshift", host=host, port=5439, schema="dev", extra=json.dumps(extra)
        )
        hook = RedshiftSQLHook(redshift_conn_id="wh", aws_conn_id=None, region_name=REGION)
        if extra.get("iam"):
            provider = f"airlake.{REGION}:5439"  # AwsBaseHook(aws_conn_id).region_name, offline here
        else:
            provider = hook.get_openlineage_database_info(connection).authority
        assert lineage.database_namespace(connection, REGION) == f"redshift://{provider}"
        assert lineage.database_table(connection, "orders", region=REGION).name == "dev.public.orders"

    @pytest.mark.parametrize(
        ("dataset", "described", "expected"),
        [
            pytest.param("products", {}, ("s3://lake", "landing/products"), id="files"),
            pytest.param(
                "clickstream", {}, ("kinesis://kinesis.us-east-1.amazonaws.com", "clickstream"), id="kinesis"
            ),
            pytest.param("payments", {}, ("sqs://sqs.us-east-1.amazonaws.com", "payments"), id="sqs"),
            pytest.param(
                "fx_rates",
                {"url": "http://127.0.0.1:8765/v1/rates?date=2026-11-20&api_key=***"},
                ("http://127.0.0.1:8765", "/v1/rates"),
                id="http",
            ),
        ],
    )
    def test_source_datasets(
        self, dataset: str, described: dict[str, Any], expected: tuple[str, str]
    ) -> None:
        contract = get_contract(dataset)
        if contract.source.kind == "kinesis":
            expected = (expected[0], contract.source.stream_name)
        if contract.source.kind == "sqs":
            expected = (expected[0], contract.source.queue_name)
        source = lineage.source_dataset(contract, described, bucket="lake", region=REGION, keys=["k1"])
        assert (source.namespace, source.name) == expected

    def test_database_source_is_the_source_table(self) -> None:
        contract = get_contract("orders")
        connection = Connection(
            conn_id="shop_db", conn_type="postgres", host="127.0.0.1", port=5433, schema="shop"
        )
        source = lineage.source_dataset(contract, {}, bucket="lake", region=REGION, connection=connection)
        assert (source.namespace, source.name) == ("postgres://127.0.0.1:5433", "shop.public.orders")
