"""The OpenLineage JSON schemas the lineage tests validate events against, resolved offline.

openlineage-python ships its facet classes (generated from the spec) but not the spec's JSON
schema files, and the tests may not fetch them. So the schemas of the event (spec 2-0-2) and
of every facet Tidegate emits are written out here from the published specification, under
the very ``$id`` each facet's ``_schemaURL`` names: an event validates against the core
schema, and each facet against the schema its own ``_schemaURL`` points to, looked up in a
local registry (a facet naming a schema not listed here fails the test).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
FACETS = "https://openlineage.io/spec/facets"

_STRING = {"type": "string"}
_INT = {"type": "integer"}
_NUMBER = {"type": "number"}

_CORE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SPEC,
    "$defs": {
        "RunEvent": {
            "allOf": [
                {"$ref": "#/$defs/BaseEvent"},
                {
                    "type": "object",
                    "properties": {
                        "eventType": {
                            "type": "string",
                            "enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"],
                        },
                        "run": {"$ref": "#/$defs/Run"},
                        "job": {"$ref": "#/$defs/Job"},
                        "inputs": {"type": "array", "items": {"$ref": "#/$defs/InputDataset"}},
                        "outputs": {"type": "array", "items": {"$ref": "#/$defs/OutputDataset"}},
                    },
                    "required": ["run", "job"],
                },
            ]
        },
        "BaseEvent": {
            "type": "object",
            "properties": {
                "eventTime": {"type": "string", "format": "date-time"},
                "producer": {"type": "string", "format": "uri"},
                "schemaURL": {"type": "string", "format": "uri"},
            },
            "required": ["eventTime", "producer", "schemaURL"],
        },
        "Run": {
            "type": "object",
            "properties": {
                "runId": {"type": "string", "format": "uuid"},
                "facets": {"type": "object", "additionalProperties": {"$ref": "#/$defs/BaseFacet"}},
            },
            "required": ["runId"],
        },
        "Job": {
            "type": "object",
            "properties": {
                "namespace": _STRING,
                "name": _STRING,
                "facets": {"type": "object", "additionalProperties": {"$ref": "#/$defs/BaseFacet"}},
            },
            "required": ["namespace", "name"],
        },
        "Dataset": {
            "type": "object",
            "properties": {
                "namespace": _STRING,
                "name": _STRING,
                "facets": {"type": "object", "additionalProperties": {"$ref": "#/$defs/BaseFacet"}},
            },
            "required": ["namespace", "name"],
        },
        "InputDataset": {
            "allOf": [
                {"$ref": "#/$defs/Dataset"},
                {
                    "type": "object",
                    "properties": {
                        "inputFacets": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/$defs/BaseFacet"},
                        }
                    },
                },
            ]
        },
        "OutputDataset": {
            "allOf": [
                {"$ref": "#/$defs/Dataset"},
                {
                    "type": "object",
                    "properties": {
                        "outputFacets": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/$defs/BaseFacet"},
                        }
                    },
                },
            ]
        },
        "BaseFacet": {
            "type": "object",
            "properties": {
                "_producer": {"type": "string", "format": "uri"},
                "_schemaURL": {"type": "string", "format": "uri"},
            },
            "additionalProperties": True,
            "required": ["_producer", "_schemaURL"],
        },
        "DatasetFacet": {
            "allOf": [
                {"$ref": "#/$defs/BaseFacet"},
                {"type": "object", "properties": {"_deleted": {"type": "boolean"}}},
            ]
        },
    },
}


def _facet(version: str, name: str, base: str, body: dict[str, Any]) -> dict[str, Any]:
    """A facet schema: the spec's base facet plus the facet's own properties."""
    body = dict(body)
    defs = body.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{FACETS}/{version}/{name}.json",
        "$defs": {
            name: {
                "allOf": [{"$ref": f"{SPEC}#/$defs/{base}"}, {"type": "object", **body}],
                "type": "object",
            },
            **defs,
        },
    }


_TRANSFORMATION = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["DIRECT", "INDIRECT"]},
        "subtype": _STRING,
        "description": _STRING,
        "masking": {"type": "boolean"},
    },
    "required": ["type"],
    "additionalProperties": False,
}
_INPUT_FIELD = {
    "type": "object",
    "properties": {
        "namespace": _STRING,
        "name": _STRING,
        "field": _STRING,
        "transformations": {"type": "array", "items": _TRANSFORMATION},
    },
    "required": ["namespace", "name", "field"],
    "additionalProperties": False,
}
_SCHEMA_FIELD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": _STRING,
        "type": _STRING,
        "description": _STRING,
        "ordinal_position": {"type": "integer", "minimum": 1},
        "fields": {"type": "array", "items": {"$ref": "#/$defs/SchemaDatasetFacetFields"}},
    },
    "required": ["name"],
    "additionalProperties": False,
}
_COLUMN_METRICS = {
    "type": "object",
    "properties": {
        "nullCount": _INT,
        "distinctCount": _INT,
        "sum": _NUMBER,
        "count": _NUMBER,
        "min": _NUMBER,
        "max": _NUMBER,
        "quantiles": {"type": "object", "additionalProperties": _NUMBER},
    },
    "additionalProperties": False,
}

_FACETS = [
    _facet(
        "1-2-0",
        "ColumnLineageDatasetFacet",
        "DatasetFacet",
        {
            "properties": {
                "fields": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "inputFields": {"type": "array", "items": _INPUT_FIELD},
                            "transformationDescription": _STRING,
                            "transformationType": _STRING,
                        },
                        "required": ["inputFields"],
                        "additionalProperties": False,
                    },
                },
                "dataset": {"type": "array", "items": _INPUT_FIELD},
            },
            "required": ["fields"],
        },
    ),
    _facet(
        "1-2-0",
        "SchemaDatasetFacet",
        "DatasetFacet",
        {
            "properties": {"fields": {"type": "array", "items": _SCHEMA_FIELD}},
            "$defs": {"SchemaDatasetFacetFields": _SCHEMA_FIELD},
        },
    ),
    _facet(
        "1-0-1",
        "DataQualityMetricsDatasetFacet",
        "DatasetFacet",
        {
            "properties": {
                "rowCount": _INT,
                "bytes": _INT,
                "fileCount": _INT,
                "lastUpdated": {"type": "string", "format": "date-time"},
                "captureDate": {"type": "string", "format": "date-time"},
                "columnMetrics": {"type": "object", "additionalProperties": _COLUMN_METRICS},
            },
            "required": ["columnMetrics"],
        },
    ),
    _facet(
        "1-1-0",
        "DataQualityAssertionsDatasetFacet",
        "DatasetFacet",
        {
            "properties": {
                "assertions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "assertion": _STRING,
                            "success": {"type": "boolean"},
                            "column": _STRING,
                            "severity": _STRING,
                            "name": _STRING,
                            "description": _STRING,
                            "expected": _STRING,
                            "actual": _STRING,
                            "content": _STRING,
                            "contentType": _STRING,
                            "params": {"type": "object"},
                        },
                        "required": ["assertion", "success"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["assertions"],
        },
    ),
    _facet(
        "1-0-2",
        "OutputStatisticsOutputDatasetFacet",
        "BaseFacet",
        {"properties": {"rowCount": _INT, "size": _INT, "fileCount": _INT}},
    ),
    _facet(
        "1-0-0",
        "InputStatisticsInputDatasetFacet",
        "BaseFacet",
        {"properties": {"rowCount": _INT, "size": _INT, "fileCount": _INT}},
    ),
    _facet(
        "1-0-1",
        "ErrorMessageRunFacet",
        "BaseFacet",
        {
            "properties": {
                "message": _STRING,
                "programmingLanguage": _STRING,
                "stackTrace": _STRING,
            },
            "required": ["message", "programmingLanguage"],
        },
    ),
    _facet(
        "1-1-1",
        "ProcessingEngineRunFacet",
        "BaseFacet",
        {
            "properties": {
                "version": _STRING,
                "name": _STRING,
                "openlineageAdapterVersion": _STRING,
            },
            "required": ["version"],
        },
    ),
    _facet(
        "2-0-4",
        "JobTypeJobFacet",
        "BaseFacet",
        {
            "properties": {
                "processingType": {"type": "string", "enum": ["BATCH", "STREAMING"]},
                "integration": _STRING,
                "jobType": _STRING,
                "_deleted": {"type": "boolean"},
            },
            "required": ["processingType", "integration"],
        },
    ),
    _facet(
        "1-1-0",
        "DocumentationJobFacet",
        "BaseFacet",
        {
            "properties": {
                "description": _STRING,
                "contentType": _STRING,
                "_deleted": {"type": "boolean"},
            },
            "required": ["description"],
        },
    ),
    _facet(
        "1-0-1",
        "OwnershipJobFacet",
        "BaseFacet",
        {
            "properties": {
                "owners": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"name": _STRING, "type": _STRING},
                        "required": ["name"],
                        "additionalProperties": False,
                    },
                },
                "_deleted": {"type": "boolean"},
            }
        },
    ),
]

REGISTRY: Registry[Any] = Registry().with_resources(
    (document["$id"], Resource.from_contents(document, default_specification=DRAFT202012))
    for document in [_CORE, *_FACETS]
)


FORMATS = FormatChecker()
"""uuid as jsonschema checks it; uri and date-time checked here too (jsonschema checks those
only with optional packages installed, and a format it cannot check passes silently)."""


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value).tzinfo is not None


def _validator(url: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": url}, registry=REGISTRY, format_checker=FORMATS)


def problems(event: dict[str, Any]) -> list[str]:
    """Everything wrong with ``event``: against the core schema its ``schemaURL`` names, and
    each facet against the schema its ``_schemaURL`` names. Empty when it is valid."""
    found = [
        f"event: {error.message} at {list(error.absolute_path)}"
        for error in _validator(event.get("schemaURL", SPEC + "#/$defs/RunEvent")).iter_errors(
            event
        )
    ]
    for where, facet in _facets(event):
        url = facet.get("_schemaURL")
        if not isinstance(url, str) or url.split("#")[0] not in REGISTRY:
            found.append(f"{where}: schema {url!r} is not one the tests know")
            continue
        found += [
            f"{where}: {error.message} at {list(error.absolute_path)}"
            for error in _validator(url).iter_errors(facet)
        ]
    return found


def _facets(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"run.{k}", v) for k, v in event["run"].get("facets", {}).items()]
    found += [(f"job.{k}", v) for k, v in event["job"].get("facets", {}).items()]
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for dataset in event.get(side, []):
            for group in ("facets", extra):
                found += [(f"{dataset['name']}.{k}", v) for k, v in dataset.get(group, {}).items()]
    return found
