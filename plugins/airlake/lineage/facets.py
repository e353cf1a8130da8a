"""Conversion of a recorded :class:`~airlake.lineage.records.Lineage` to the OpenLineage provider's types
(imported here only, when the listener asks: operators stay light to parse)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airlake.lineage.records import Lineage, LineageDataset

PARTITION_COLUMN = "dt"


def operator_lineage(lineage: Lineage | None) -> OperatorLineage:
    """``OperatorLineage`` of the recorded datasets; empty when nothing was recorded."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    if lineage is None:
        return OperatorLineage()
    return OperatorLineage(
        inputs=[_input_dataset(item) for item in lineage.inputs],
        outputs=[_output_dataset(item) for item in lineage.outputs],
    )


def _dataset_facets(item: LineageDataset) -> dict[str, Any]:
    from airflow.providers.common.compat.openlineage.facet import (
        Identifier,
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
        PreviousIdentifier,
        SymlinksDatasetFacet,
    )

    facets: dict[str, Any] = {}
    if item.symlink is not None:
        namespace, name = item.symlink
        facets["symlinks"] = SymlinksDatasetFacet(
            identifiers=[Identifier(namespace=namespace, name=name, type="TABLE")]
        )
    if item.dropped:
        facets["lifecycleStateChange"] = LifecycleStateChangeDatasetFacet(
            lifecycleStateChange=LifecycleStateChange.DROP.value,
            previousIdentifier=PreviousIdentifier(namespace=item.namespace, name=item.name),
        )
    return facets


def _subset_condition(item: LineageDataset) -> Any:
    from openlineage.client.facet_v2 import base_subset_dataset as subset

    if item.partitions:
        return subset.PartitionSubsetCondition(
            partitions=[
                subset.Partition(dimensions={PARTITION_COLUMN: dt}, identifier=f"{PARTITION_COLUMN}={dt}")
                for dt in item.partitions
            ]
        )
    if item.locations:
        return subset.LocationSubsetCondition(locations=list(item.locations))
    return None


def _run_facets(
    item: LineageDataset, subset: Callable[[Any], Any], statistics: tuple[str, Callable[..., Any]] | None
) -> dict[str, Any]:
    """The facets an input and an output share in shape: ``subset`` (wrapping the subset condition) and,
    when the item has figures, ``statistics`` = (facet name, facet class) of rows, size and files."""
    facets: dict[str, Any] = {}
    condition = _subset_condition(item)
    if condition is not None:
        facets["subset"] = subset(condition)
    if statistics is not None and any(value is not None for value in (item.rows, item.size, item.files)):
        name, facet = statistics
        facets[name] = facet(rowCount=item.rows, size=item.size, fileCount=item.files)
    return facets


def _input_dataset(item: LineageDataset) -> Any:
    from airflow.providers.common.compat.openlineage.facet import InputDataset
    from openlineage.client.facet_v2 import (
        base_subset_dataset,
        data_quality_assertions_dataset,
        input_statistics_input_dataset,
    )

    facets = _run_facets(
        item,
        lambda condition: base_subset_dataset.InputSubsetInputDatasetFacet(inputCondition=condition),
        None
        if item.dropped
        else ("inputStatistics", input_statistics_input_dataset.InputStatisticsInputDatasetFacet),
    )
    if item.assertions:
        facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=[data_quality_assertions_dataset.Assertion(**a) for a in item.assertions]
        )
    return InputDataset(
        namespace=item.namespace, name=item.name, facets=_dataset_facets(item), inputFacets=facets
    )


def _output_dataset(item: LineageDataset) -> Any:
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )
    from openlineage.client.facet_v2 import base_subset_dataset

    facets = _run_facets(
        item,
        lambda condition: base_subset_dataset.OutputSubsetOutputDatasetFacet(outputCondition=condition),
        ("outputStatistics", OutputStatisticsOutputDatasetFacet),
    )
    return OutputDataset(
        namespace=item.namespace, name=item.name, facets=_dataset_facets(item), outputFacets=facets
    )
