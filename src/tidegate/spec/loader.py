"""``load_pipeline``: a ``pipeline.yaml`` path in, a frozen ``PipelineSpec`` out, or every problem.

The order is: read and parse the pipeline file (keeping each key's line), deep-merge the
optional ``tidegate.yaml`` beside it *under* it, apply ``--set`` overrides, substitute
``${VAR}`` references, then validate the plugin sections against the registry's ``Settings``
models and the rest against ``PipelineSpec``. Problems are collected along the way and raised
together as one ``SpecError``, each located at the file and line (or ``--set``) its value came
from.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import ValidationError

from tidegate.errors import ConfigError, InternalError, Problem, SpecError, TidegateError
from tidegate.spec._env import substitute_env
from tidegate.spec._overrides import apply_overrides, parse_override
from tidegate.spec._problems import Locator, type_name, validation_problems
from tidegate.spec._yaml import KeyPath, parse_yaml
from tidegate.spec.models import (
    LOADER_FIELDS,
    NAME_PATTERN,
    PipelineSpec,
    PluginSpec,
    StepSpec,
)
from tidegate.spec.settings import PluginSettings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tidegate.core import Registry
    from tidegate.spec._yaml import ParsedYaml

__all__ = ["PROJECT_FILE", "load_pipeline"]

log = structlog.get_logger(__name__)

PROJECT_FILE = "tidegate.yaml"
"""Project defaults merged under every pipeline file of the same folder."""

_DEFAULT_PIPELINE_FILE = "pipeline.yaml"
_NAME = re.compile(NAME_PATTERN)
_NOUNS = {"sources": "source", "steps": "step", "destinations": "destination"}
_Locations = dict[KeyPath, tuple[str, int | None]]


def load_pipeline(
    path: str | os.PathLike[str],
    *,
    registry: Registry,
    overrides: Sequence[str] = (),
) -> PipelineSpec:
    """Load, merge, override, substitute and validate a pipeline file.

    Raises ``ConfigError`` when the file cannot be read or parsed or an override is malformed,
    and ``SpecError`` (a ``ConfigError``) listing *every* validation problem otherwise.
    """
    parsed_overrides = [parse_override(raw) for raw in overrides]
    file, display = _pipeline_file(Path(path))
    pipeline = parse_yaml(_read(file, display), display=display)
    problems = list(pipeline.problems)
    if not isinstance(pipeline.data, dict):
        raise SpecError([*problems, _not_a_mapping(pipeline, display, "pipeline")])

    data: dict[str, Any] = pipeline.data
    locations: _Locations = {key: (display, line) for key, line in pipeline.lines.items()}
    project_file = file.parent / PROJECT_FILE
    if project_file.is_file() and project_file != file:
        project_display = str(Path(display).parent / PROJECT_FILE)
        project = parse_yaml(_read(project_file, project_display), display=project_display)
        problems.extend(project.problems)
        if isinstance(project.data, dict):
            data, locations = _merge_project(project, project_display, pipeline, display)
        elif project.data is not None:
            problems.append(_not_a_mapping(project, project_display, "project defaults"))

    data, applied = apply_overrides(data, parsed_overrides)
    for target, override, created in applied:
        _forget_below(locations, target)
        for located in (target, *created):
            locations[located] = (override.label, None)

    substituted = substitute_env(data, os.environ)
    locator = Locator(
        locations,
        from_env=substituted.from_env,
        suppressed={issue.path for issue in substituted.issues},
    )
    problems.extend(locator.problem(i.path, i.message, i.hint) for i in substituted.issues)

    spec = _validate(substituted.data, locator, registry, file, problems)
    if problems or spec is None:
        raise SpecError(_ordered(problems, display))
    log.debug("pipeline_loaded", file=str(file), pipeline=spec.name, steps=len(spec.steps))
    return spec


def _pipeline_file(given: Path) -> tuple[Path, str]:
    """The absolute pipeline file and how to name it in messages (as the user wrote it)."""
    given = given.expanduser()
    if given.is_dir():
        candidate = given / _DEFAULT_PIPELINE_FILE
        if not candidate.is_file():
            raise ConfigError(
                f"{given} is a folder without a {_DEFAULT_PIPELINE_FILE}",
                location=str(given),
                hint="pass the pipeline file itself, or create one with `tidegate init`",
            )
        given = candidate
    return Path(os.path.abspath(given)), str(given)


def _read(file: Path, display: str) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError(
            "pipeline file not found", location=display, hint="create one with `tidegate init`"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"file is not UTF-8 text (byte {exc.start})",
            location=display,
            hint="save the file as UTF-8",
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot read file ({exc.strerror})",
            location=display,
            hint="check the path and its permissions",
        ) from exc


def _not_a_mapping(parsed: ParsedYaml, display: str, what: str) -> Problem:
    if parsed.data is None:
        return Problem(
            file=display,
            line=None,
            path="",
            message=f"the {what} file is empty",
            hint="a pipeline needs at least name, source and destination; `tidegate init` "
            "writes an example",
        )
    return Problem(
        file=display,
        line=parsed.lines.get((), 1),
        path="",
        message=f"the {what} file must be a mapping of keys, got {_kind(parsed.data)}",
        hint="start with keys like `name:`, `source:` and `destination:`",
    )


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else f"a single value ({type(value).__name__})"


def _merge_project(
    project: ParsedYaml, project_display: str, pipeline: ParsedYaml, display: str
) -> tuple[dict[str, Any], _Locations]:
    """Deep-merge the project defaults under the pipeline, and where each key now comes from."""
    replaced = {key for key in pipeline.lines if not isinstance(_get(pipeline.data, key), dict)}
    locations: _Locations = {
        key: (project_display, line)
        for key, line in project.lines.items()
        if not any(key[:size] in replaced for size in range(len(key)))
    }
    locations.update({key: (display, line) for key, line in pipeline.lines.items()})
    merged = _deep_merge(project.data, pipeline.data)
    return merged, locations


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key, ``over`` winning; lists and scalars are replaced whole."""
    merged = dict(base)
    for key, value in over.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _get(data: Any, path: KeyPath) -> Any:
    for key in path:
        data = data[key]
    return data


def _forget_below(locations: _Locations, path: KeyPath) -> None:
    """Drop the locations under ``path``: an override replaced what was there."""
    for key in [k for k in locations if len(k) > len(path) and k[: len(path)] == path]:
        del locations[key]


def _ordered(problems: list[Problem], display: str) -> list[Problem]:
    """The pipeline file's problems first, then the project file's, then ``--set``; by line."""
    files = list(dict.fromkeys([display, *(p.file for p in problems)]))
    return sorted(problems, key=lambda p: (files.index(p.file), p.line or 0))


def _validate(
    data: dict[str, Any],
    locator: Locator,
    registry: Registry,
    file: Path,
    problems: list[Problem],
) -> PipelineSpec | None:
    """Validate plugin sections and the rest; append problems; the spec if there were none."""
    raw = dict(data)
    for name in sorted(LOADER_FIELDS & raw.keys()):
        problems.append(
            locator.problem(
                (name,),
                f"unknown key {name!r}",
                "Tidegate sets it from the pipeline file's location; remove it",
            )
        )
        del raw[name]
    for name, info in PipelineSpec.model_fields.items():
        if name in raw and raw[name] is None and not info.is_required():
            del raw[name]

    plugins = _Plugins(registry, locator, file.parent, problems)
    if "source" in raw:
        raw["source"] = plugins.build("sources", raw["source"], ("source",))
    if "destination" in raw:
        raw["destination"] = plugins.build("destinations", raw["destination"], ("destination",))
    if "steps" in raw:
        raw["steps"] = plugins.steps(raw["steps"])

    values = {**raw, "file": file, "base_dir": file.parent}
    try:
        spec = PipelineSpec.model_validate(values, context={"base_dir": file.parent})
    except ValidationError as exc:
        problems.extend(
            validation_problems(
                exc,
                model=PipelineSpec,
                data=values,
                prefix=(),
                locator=locator,
                noun="key",
                hidden_names=LOADER_FIELDS,
            )
        )
        return None
    spec._where = locator
    return spec


class _Plugins:
    """Validates plugin sections against the registry, collecting problems."""

    def __init__(
        self, registry: Registry, locator: Locator, base_dir: Path, problems: list[Problem]
    ) -> None:
        self.registry = registry
        self.locator = locator
        self.base_dir = base_dir
        self.problems = problems

    def _problem(self, path: KeyPath, message: str, hint: str | None = None) -> None:
        self.problems.append(self.locator.problem(path, message, hint))

    def build(self, group: str, value: Any, path: KeyPath) -> PluginSpec:
        """A validated ``PluginSpec``, or a placeholder after recording the problems."""
        result = self._settings(group, value, path, reserved=("type",))
        if result is None:
            return _placeholder()
        kind, settings = result
        return PluginSpec(type=kind, settings=settings)

    def steps(self, value: Any) -> Any:
        """The validated ``StepSpec`` tuple (with placeholders where a step failed)."""
        if not isinstance(value, list):
            self._problem(
                ("steps",),
                f"expected a list of steps, got {_describe(value)}",
                "write each step as a `- type: ...` item",
            )
            return ()
        kinds = [item.get("type") if isinstance(item, dict) else None for item in value]
        seen: dict[str, int] = {}
        steps: list[StepSpec] = []
        for index, item in enumerate(value):
            path: KeyPath = ("steps", index)
            result = self._settings("steps", item, path, reserved=("type", "name"))
            name = self._step_name(item, index, kinds)
            if name is not None and name in seen:
                where = path + (("name",) if "name" in item else ())
                self._problem(
                    where,
                    f"step name {name!r} is already used by steps.{seen[name]}",
                    "give each step a unique `name:`",
                )
            elif name is not None:
                seen[name] = index
            if result is None or name is None:
                steps.append(StepSpec.model_validate({**_placeholder_fields(), "name": "invalid"}))
                continue
            kind, settings = result
            steps.append(StepSpec(type=kind, settings=settings, name=name))
        return tuple(steps)

    def _step_name(self, item: Any, index: int, kinds: list[Any]) -> str | None:
        if not isinstance(item, dict):
            return None
        name = item.get("name")
        if name is None:
            kind = item.get("type")
            if not isinstance(kind, str):
                return None
            if kinds.count(kind) == 1:
                return kind
            return f"{kind}_{kinds[: index + 1].count(kind)}"
        if not isinstance(name, str) or not _NAME.match(name):
            self._problem(
                ("steps", index, "name"),
                "step name must use only letters, digits, '_' and '-', got "
                + (repr(name) if isinstance(name, str) else _describe(name)),
            )
            return None
        return name

    def _settings(
        self, group: str, value: Any, path: KeyPath, *, reserved: tuple[str, ...]
    ) -> tuple[str, PluginSettings] | None:
        found = self._plugin(group, value, path)
        if found is None:
            return None
        kind, settings_cls = found
        body = {key: item for key, item in value.items() if key not in reserved}
        try:
            settings = settings_cls.model_validate(body, context={"base_dir": self.base_dir})
        except ValidationError as exc:
            self.problems.extend(
                validation_problems(
                    exc,
                    model=settings_cls,
                    data=body,
                    prefix=path,
                    locator=self.locator,
                    noun="setting",
                    extra_names=reserved,
                )
            )
            return None
        return kind, settings

    def _plugin(
        self, group: str, value: Any, path: KeyPath
    ) -> tuple[str, type[PluginSettings]] | None:
        """The kind and its ``Settings`` class, or ``None`` after recording why not."""
        noun = _NOUNS[group]
        known = ", ".join(self.registry.kinds(group)) or "none registered"
        kind = value.get("type") if isinstance(value, dict) else None
        if not isinstance(value, dict):
            self._problem(
                path,
                f"expected a mapping with a 'type' key, got {_describe(value)}",
                f"known {noun} types: {known}",
            )
        elif kind is None:
            self._problem(path, f"the {noun} has no 'type'", f"known {noun} types: {known}")
        elif not isinstance(kind, str):
            self._problem((*path, "type"), f"expected a {noun} type name, got {_describe(kind)}")
        elif kind not in self.registry.kinds(group):
            near = self.registry.suggest(group, kind)
            hint = (f"did you mean {near!r}? " if near else "") + f"known {noun} types: {known}"
            self._problem((*path, "type"), f"unknown {noun} type {kind!r}", hint)
        else:
            try:
                plugin = self.registry.load(group, kind)
            except TidegateError as exc:
                self._problem((*path, "type"), exc.message, exc.hint)
                return None
            return kind, _settings_class(plugin, noun, kind)
        return None


def _settings_class(plugin: type[Any], noun: str, kind: str) -> type[PluginSettings]:
    settings_cls = getattr(plugin, "Settings", None)
    if not (isinstance(settings_cls, type) and issubclass(settings_cls, PluginSettings)):
        raise InternalError(
            f"{noun} plugin {kind!r} has no Settings class derived from PluginSettings",
            location=f"{plugin.__module__}.{plugin.__qualname__}",
            hint="report this to the plugin's authors",
        )
    return settings_cls


def _placeholder_fields() -> dict[str, Any]:
    return {"type": "invalid", "settings": PluginSettings()}


def _placeholder() -> PluginSpec:
    """Stands in for a plugin section that failed, so the rest is still validated."""
    return PluginSpec.model_validate(_placeholder_fields())


def _describe(value: Any) -> str:
    return "nothing" if value is None else type_name(value)
