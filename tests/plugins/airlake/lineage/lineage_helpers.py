"""What the lineage tests share: the region, Athena's namespace, and readers of serialized datasets."""

from __future__ import annotations

import json
from typing import Any

from openlineage.client.serde import Serde

REGION = "us-east-1"
ATHENA = "awsathena://athena.us-east-1.amazonaws.com"


def as_json(dataset: Any) -> dict[str, Any]:
    return json.loads(Serde.to_json(dataset))


def subset(dataset: dict[str, Any]) -> Any:
    """The ``subset`` facet's condition of a serialized input or output dataset: locations or dt values."""
    facets = {**dataset.get("inputFacets", {}), **dataset.get("outputFacets", {})}
    condition = facets["subset"].get("inputCondition") or facets["subset"].get("outputCondition")
    if condition["type"] == "location":
        return sorted(condition["locations"])
    return sorted(p["dimensions"]["dt"] for p in condition["partitions"])


def dataset_ids(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


# --------------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------------
