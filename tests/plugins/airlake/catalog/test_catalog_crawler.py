"""The optional crawler (:mod:`airlake.catalog.crawler`)."""

from __future__ import annotations

from airlake.catalog import (
    crawler_config,
)
from airlake.contracts import get_contract
from tests.plugins.airlake.catalog.catalog_helpers import (
    BUCKET,
)

# --------------------------------------------------------------------------------------------------
# Crawler option
# --------------------------------------------------------------------------------------------------


def test_crawler_config_targets_the_curated_prefix() -> None:
    config = crawler_config(
        get_contract("orders"), BUCKET, "airlake", name="airlake-orders", role="CrawlerRole"
    )
    assert config["Targets"] == {
        "S3Targets": [{"Path": f"s3://{BUCKET}/curated/orders/", "Exclusions": ["**/_*", "**/.*"]}]
    }
    assert config["DatabaseName"] == "airlake"
    assert config["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
    assert '"TableLevelConfiguration": 3' in config["Configuration"]
