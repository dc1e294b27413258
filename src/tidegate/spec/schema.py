"""JSON Schema of a pipeline file, for editor completion and validation as you type.

The top level comes from ``PipelineSpec``'s own fields (so new sections appear by themselves);
``source``, ``destination`` and each item of ``steps`` become a ``oneOf`` over every registered
kind: ``{"type": {"const": kind}}`` plus that kind's ``Settings`` properties, flat, as the
file writes them. Each kind's nested definitions are renamed ``<group>.<kind>.<Model>`` so two
plugins with a model of the same name cannot clash.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import structlog

from tidegate.errors import TidegateError
from tidegate.spec.models import LOADER_FIELDS, PLUGIN_SECTIONS, PipelineSpec, StepSpec
from tidegate.spec.quality import RULE_TYPES
from tidegate.spec.settings import PluginSettings

if TYPE_CHECKING:
    from tidegate.core import Registry

__all__ = ["pipeline_json_schema"]

log = structlog.get_logger(__name__)

_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_INTERNAL_DEFS = ("PluginSpec", "StepSpec", "PluginSettings")


def pipeline_json_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema of a ``pipeline.yaml`` for every kind known to ``registry``."""
    base = PipelineSpec.model_json_schema()
    defs: dict[str, Any] = {
        name: schema for name, schema in base.get("$defs", {}).items() if name not in _INTERNAL_DEFS
    }
    properties = {
        name: schema for name, schema in base["properties"].items() if name not in LOADER_FIELDS
    }
    for section, group in PLUGIN_SECTIONS.items():
        field = PipelineSpec.model_fields[section]
        variants = [
            variant
            for kind in registry.kinds(group)
            if (variant := _kind_schema(registry, group, kind, defs, step=section == "steps"))
        ]
        plugin: dict[str, Any] = {"oneOf": variants} if variants else {"type": "object"}
        if section == "steps":
            properties[section] = {
                "title": "Steps",
                "description": field.description,
                "type": "array",
                "items": plugin,
                "default": [],
            }
        else:
            properties[section] = {
                "title": section.capitalize(),
                "description": field.description,
                **plugin,
            }
    schema: dict[str, Any] = {
        "$schema": _SCHEMA_DIALECT,
        "title": "Tidegate pipeline",
        "description": "A pipeline.yaml: one source, optional steps, one destination.",
        "type": "object",
        "properties": properties,
        "required": [name for name in base.get("required", []) if name not in LOADER_FIELDS],
        "additionalProperties": False,
    }
    _rule_shorthands(defs)
    if defs:
        schema["$defs"] = defs
    return schema


def _rule_shorthands(defs: dict[str, Any]) -> None:
    """Let quality rules be written as in pipeline files: ``- not_null``, ``- regex: '^a'``.

    The model validates the explicit form the loader turns shorthands into; an editor sees the
    file before that, so the schema accepts a rule name, ``{rule: argument}`` or the explicit
    form. ``origin`` is set by Tidegate and is not offered.
    """
    rule = defs.get("Rule")
    quality = defs.get("QualitySpec")
    if rule is None or quality is None:
        return
    rule["properties"].pop("origin", None)
    item = {
        "anyOf": [
            {"type": "string", "enum": list(RULE_TYPES), "description": "A rule with no options."},
            {
                "type": "object",
                "description": "A rule name with its main argument or a mapping of options.",
                "minProperties": 1,
                "maxProperties": 1,
                "propertyNames": {"enum": list(RULE_TYPES)},
            },
            {"$ref": "#/$defs/Rule"},
        ]
    }
    quality["properties"]["columns"]["additionalProperties"]["items"] = item
    quality["properties"]["table"]["items"] = item


def _kind_schema(
    registry: Registry, group: str, kind: str, defs: dict[str, Any], *, step: bool
) -> dict[str, Any] | None:
    try:
        plugin = registry.load(group, kind)
    except TidegateError as exc:
        # One plugin whose extra is not installed must not cost the editor every other kind.
        log.warning("plugin_schema_skipped", group=group, kind=kind, error=exc.message)
        return None
    settings_cls = getattr(plugin, "Settings", None)
    if not (isinstance(settings_cls, type) and issubclass(settings_cls, PluginSettings)):
        log.warning("plugin_schema_skipped", group=group, kind=kind, error="no Settings class")
        return None
    prefix = f"{group}.{kind}."
    settings = settings_cls.model_json_schema(ref_template=f"#/$defs/{prefix}{{model}}")
    for name, definition in settings.get("$defs", {}).items():
        defs[prefix + name] = definition
    properties: dict[str, Any] = {
        "type": {"const": kind, "description": f"The {group[:-1]} kind: {kind}."}
    }
    required = ["type"]
    if step:
        properties["name"] = {
            **StepSpec.model_json_schema()["properties"]["name"],
            "type": "string",
        }
    properties.update(settings.get("properties", {}))
    required.extend(settings.get("required", []))
    variant: dict[str, Any] = {
        "title": f"{kind} {group[:-1]}",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    description = inspect.getdoc(plugin) or settings.get("description")
    if description:
        variant["description"] = description.split("\n\n", 1)[0].replace("\n", " ")
    return variant
