"""The lineage as Apache Atlas v2 entities, in the shape Microsoft Purview's Atlas API accepts.

``atlas_export`` returns two request bodies: ``typeDefs`` for ``POST
/api/atlas/v2/types/typedefs`` (once per Purview account: Tidegate's dataset, column and
process types) and ``entities`` for ``POST /api/atlas/v2/entity/bulk``:

- one ``tidegate_dataset`` per input and output, holding its columns (``tidegate_column``,
  related to their dataset by ``tidegate_dataset_columns``);
- one ``tidegate_pipeline`` process with the input datasets as ``inputs``, the output as
  ``outputs`` and Purview's ``columnMapping`` attribute (which Purview draws as column
  lineage on the process);
- one ``tidegate_column_lineage`` process per output column with its input columns as
  ``inputs`` and its transformation, so plain Atlas shows column lineage too.

Qualified names are the OpenLineage dataset URIs (``file:///data/customers.csv``,
``postgres://db:5432/shop.public.orders``), ``#column`` for columns, so the same dataset
exported twice is one entity. New entities get negative GUIDs, as the bulk API expects.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidegate.lineage.columns import PipelineLineage
    from tidegate.lineage.datasets import Dataset

__all__ = ["COLUMN_TYPE", "DATASET_TYPE", "PROCESS_TYPE", "atlas_export", "atlas_typedefs"]

DATASET_TYPE = "tidegate_dataset"
COLUMN_TYPE = "tidegate_column"
PROCESS_TYPE = "tidegate_pipeline"
COLUMN_PROCESS_TYPE = "tidegate_column_lineage"
RELATIONSHIP_TYPE = "tidegate_dataset_columns"


def _attribute(name: str, type_name: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "typeName": type_name,
        "isOptional": True,
        "cardinality": "SINGLE",
        "isUnique": False,
        "isIndexable": False,
    }


def atlas_typedefs() -> dict[str, Any]:
    """The body of ``POST /api/atlas/v2/types/typedefs`` declaring Tidegate's types."""
    return {
        "entityDefs": [
            {
                "category": "ENTITY",
                "name": DATASET_TYPE,
                "superTypes": ["DataSet"],
                "attributeDefs": [_attribute("namespace"), _attribute("kind")],
            },
            {
                "category": "ENTITY",
                "name": COLUMN_TYPE,
                "superTypes": ["DataSet"],
                "attributeDefs": [_attribute("data_type"), _attribute("transformation")],
            },
            {
                "category": "ENTITY",
                "name": PROCESS_TYPE,
                "superTypes": ["Process"],
                "attributeDefs": [_attribute("columnMapping"), _attribute("namespace")],
            },
            {
                "category": "ENTITY",
                "name": COLUMN_PROCESS_TYPE,
                "superTypes": ["Process"],
                "attributeDefs": [_attribute("transformation"), _attribute("steps")],
            },
        ],
        "relationshipDefs": [
            {
                "category": "RELATIONSHIP",
                "name": RELATIONSHIP_TYPE,
                "relationshipCategory": "COMPOSITION",
                "endDef1": {
                    "type": DATASET_TYPE,
                    "name": "columns",
                    "isContainer": True,
                    "cardinality": "SET",
                },
                "endDef2": {
                    "type": COLUMN_TYPE,
                    "name": "dataset",
                    "isContainer": False,
                    "cardinality": "SINGLE",
                },
            }
        ],
    }


class _Guids:
    """Negative GUIDs for new entities, one per qualified name."""

    def __init__(self) -> None:
        self._by_name: dict[str, str] = {}

    def __call__(self, qualified_name: str) -> str:
        if qualified_name not in self._by_name:
            self._by_name[qualified_name] = str(-1 - len(self._by_name))
        return self._by_name[qualified_name]


def _ref(guids: _Guids, type_name: str, qualified_name: str) -> dict[str, Any]:
    return {
        "guid": guids(qualified_name),
        "typeName": type_name,
        "uniqueAttributes": {"qualifiedName": qualified_name},
    }


def _dataset(guids: _Guids, dataset: Dataset) -> dict[str, Any]:
    name = dataset.name.rsplit("/", 1)[-1]
    return {
        "typeName": DATASET_TYPE,
        "guid": guids(dataset.uri),
        "attributes": {
            "qualifiedName": dataset.uri,
            "name": name,
            "namespace": dataset.namespace,
            "kind": dataset.kind,
        },
    }


def _column(
    guids: _Guids, dataset: Dataset, column: str, transformation: str | None = None
) -> dict[str, Any]:
    attributes: dict[str, Any] = {"qualifiedName": f"{dataset.uri}#{column}", "name": column}
    if transformation is not None:
        attributes["transformation"] = transformation
    return {
        "typeName": COLUMN_TYPE,
        "guid": guids(f"{dataset.uri}#{column}"),
        "attributes": attributes,
        "relationshipAttributes": {"dataset": _ref(guids, DATASET_TYPE, dataset.uri)},
    }


def atlas_export(lineage: PipelineLineage, *, namespace: str = "tidegate") -> dict[str, Any]:
    """``{"typeDefs": ..., "entities": [...]}``: the type definitions and every entity of the
    pipeline's lineage, ready for Purview's (or Atlas's) v2 REST API."""
    guids = _Guids()
    entities: list[dict[str, Any]] = [_dataset(guids, d) for d in (*lineage.inputs, lineage.output)]
    seen: set[str] = set()
    for dataset in lineage.inputs:
        for column in lineage.input_columns.get(dataset, ()):
            seen.add(f"{dataset.uri}#{column}")
            entities.append(_column(guids, dataset, column))
    for item in lineage.columns:  # input columns the walk met but no schema listed
        for source in item.inputs:
            key = f"{source.dataset.uri}#{source.column}"
            if key not in seen:
                seen.add(key)
                entities.append(_column(guids, source.dataset, source.column))
    output = lineage.output
    for item in lineage.columns:
        entities.append(_column(guids, output, item.column, item.transformation))
    process_name = f"tidegate://{namespace}/{lineage.pipeline}"
    mapping = [
        {
            "DatasetMapping": {"Source": dataset.uri, "Sink": output.uri},
            "ColumnMapping": [
                {"Source": source.column, "Sink": item.column}
                for item in lineage.columns
                for source in item.inputs
                if source.dataset == dataset
            ],
        }
        for dataset in lineage.inputs
    ]
    entities.append(
        {
            "typeName": PROCESS_TYPE,
            "guid": guids(process_name),
            "attributes": {
                "qualifiedName": process_name,
                "name": lineage.pipeline,
                "namespace": namespace,
                "inputs": [_ref(guids, DATASET_TYPE, d.uri) for d in lineage.inputs],
                "outputs": [_ref(guids, DATASET_TYPE, output.uri)],
                "columnMapping": json.dumps(mapping),
            },
        }
    )
    for item in lineage.columns:
        name = f"{process_name}#{item.column}"
        entities.append(
            {
                "typeName": COLUMN_PROCESS_TYPE,
                "guid": guids(name),
                "attributes": {
                    "qualifiedName": name,
                    "name": f"{lineage.pipeline}.{item.column}",
                    "transformation": item.transformation,
                    "steps": ", ".join(item.steps),
                    "inputs": [
                        _ref(guids, COLUMN_TYPE, f"{s.dataset.uri}#{s.column}") for s in item.inputs
                    ],
                    "outputs": [_ref(guids, COLUMN_TYPE, f"{output.uri}#{item.column}")],
                },
            }
        )
    return {"typeDefs": atlas_typedefs(), "entities": entities}
