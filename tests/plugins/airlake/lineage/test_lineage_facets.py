"""Conversion of recorded lineage to the provider's types (:mod:`airlake.lineage.facets`), and a failing
builder recording nothing (:mod:`airlake.lineage.records`)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airlake import lineage
from airlake.lineage import Lineage, LineageDataset
from tests.plugins.airlake.lineage.lineage_helpers import ATHENA, REGION, as_json, dataset_ids, subset

# --------------------------------------------------------------------------------------------------
# Conversion to the provider's OperatorLineage
# --------------------------------------------------------------------------------------------------


class TestOperatorLineage:
    def test_nothing_recorded_is_empty_lineage(self) -> None:
        from airflow.providers.openlineage.extractors import OperatorLineage

        assert lineage.operator_lineage(None) == OperatorLineage()

    def test_facets(self) -> None:
        recorded = Lineage(
            inputs=(
                lineage.zone_dataset(
                    "lake", "raw", "orders", locations=["raw/orders/p0.gz"], rows=3, files=1
                ),
                LineageDataset("s3://lake", "curated/orders/dt=1/v=1", dropped=True, files=2),
                LineageDataset(
                    "s3://lake",
                    "curated/orders",
                    assertions=({"assertion": "not_null", "success": False, "column": "id", "actual": "4"},),
                ),
            ),
            outputs=(
                lineage.table_dataset(
                    REGION, "db", "orders", storage=("lake", "curated/orders"), partitions=["1"]
                ),
                lineage.zone_dataset("lake", "curated", "orders", locations=["k"], rows=5, size=9, files=1),
            ),
        )
        result = lineage.operator_lineage(recorded)
        raw, dropped, checked = (as_json(d) for d in result.inputs)
        table, curated = (as_json(d) for d in result.outputs)

        assert subset(raw) == ["raw/orders/p0.gz"]
        assert raw["inputFacets"]["inputStatistics"]["rowCount"] == 3
        assert dropped["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "DROP"
        assert "inputStatistics" not in dropped["inputFacets"]
        [assertion] = checked["inputFacets"]["dataQualityAssertions"]["assertions"]
        assert assertion == {**assertion, "assertion": "not_null", "success": False, "column": "id"}
        assert dataset_ids([table]) == [(ATHENA, "AwsDataCatalog.db.orders")]
        assert table["facets"]["symlinks"]["identifiers"] == [
            {"namespace": "s3://lake", "name": "curated/orders", "type": "TABLE"}
        ]
        assert subset(table) == ["1"]
        assert curated["outputFacets"]["outputStatistics"] == {
            **curated["outputFacets"]["outputStatistics"],
            "rowCount": 5,
            "size": 9,
            "fileCount": 1,
        }

    def test_a_failing_builder_records_nothing_and_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        class BrokenStore:
            bucket = "lake"

            def get_json(self, key: str) -> Any:
                raise ConnectionError("S3 is down")

        with caplog.at_level(logging.WARNING, logger="airlake.lineage"):
            assert lineage.curate_lineage(BrokenStore(), "orders", {"manifest": "m"}) is None  # type: ignore[arg-type]
        assert "curate_lineage failed" in caplog.text
