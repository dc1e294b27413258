"""``pipeline.yaml`` -> frozen pydantic models, with located, secret-free error messages.

``load_pipeline`` reads a pipeline file (plus the ``tidegate.yaml`` defaults beside it and any
``--set`` overrides), substitutes ``${VAR}`` references and validates every plugin section
against the ``Settings`` model of the kind the registry names; it raises one ``SpecError``
listing every problem at ``file:line``. ``pipeline_json_schema`` describes the same file for
editors. ``parse_type`` and ``ColumnTypes`` read the column type strings (``int64``,
``decimal(12,2)``) that sources and the cast step accept.
"""

from tidegate.spec.loader import PROJECT_FILE, load_pipeline
from tidegate.spec.models import LoggingSpec, PipelineSpec, PluginSpec, StepSpec
from tidegate.spec.schema import pipeline_json_schema
from tidegate.spec.settings import PluginSettings, Secret
from tidegate.spec.types import TYPE_NAMES, ColumnTypes, parse_type

__all__ = [
    "PROJECT_FILE",
    "TYPE_NAMES",
    "ColumnTypes",
    "LoggingSpec",
    "PipelineSpec",
    "PluginSettings",
    "PluginSpec",
    "Secret",
    "StepSpec",
    "load_pipeline",
    "parse_type",
    "pipeline_json_schema",
]
