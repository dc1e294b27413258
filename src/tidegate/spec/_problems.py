"""Turning pydantic validation errors into short, located, secret-free ``Problem``s.

pydantic's own text is precise but noisy (union members, ``input_value=...``). Here each error
becomes one line a person can act on: ``expected an integer, got 'abc'``, ``unknown setting
'delimitr'`` with ``did you mean 'delimiter'?``, ``required setting 'path' is missing``.

A value is never echoed when it may be secret: the field is ``SecretStr``-typed, the value was
written as ``env:``/``file:`` or came from a ``${VAR}``, or a key on its path sounds secret
(password, token, key, dsn, url, ...). Then only its type is shown.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, SecretBytes, SecretStr

from tidegate.errors import Problem
from tidegate.spec._yaml import dotted

if TYPE_CHECKING:
    import types
    from collections.abc import Iterable

    from pydantic import ValidationError
    from pydantic.fields import FieldInfo
    from pydantic_core import ErrorDetails

    from tidegate.spec._yaml import Key, KeyPath

__all__ = ["Locator", "suggest", "type_name", "validation_problems"]

_SENSITIVE_KEY = re.compile(
    r"password|passwd|pwd|token|secret|key|dsn|url|auth|credential|cookie|private", re.IGNORECASE
)
_SECRET_REF = ("env:", "file:")
_MAX_SHOWN = 40

_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "decimal_parsing": "a decimal number",
    "decimal_type": "a decimal number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "bytes_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "frozen_set_type": "a list",
    "iterable_type": "a list",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_type": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "datetime_parsing": "a date-time (YYYY-MM-DDTHH:MM:SS)",
    "datetime_type": "a date-time (YYYY-MM-DDTHH:MM:SS)",
    "datetime_from_date_parsing": "a date-time (YYYY-MM-DDTHH:MM:SS)",
    "time_parsing": "a time (HH:MM:SS)",
    "time_delta_parsing": "a duration (seconds or ISO 8601 like PT5M)",
    "time_delta_type": "a duration (seconds or ISO 8601 like PT5M)",
    "url_parsing": "a URL",
    "url_type": "a URL",
    "url_scheme": "a URL with a supported scheme",
    "path_type": "a path",
    "uuid_parsing": "a UUID",
    "uuid_type": "a UUID",
    "none_required": "nothing (null)",
}
_FRIENDLY_PATTERNS = {r"^[A-Za-z0-9_-]+$": "must use only letters, digits, '_' and '-'"}


@dataclass(slots=True)
class Locator:
    """Where each key path of the merged spec data came from: ``(file, line)``.

    ``from_env`` holds paths whose value came from the environment (never echoed);
    ``suppressed`` paths already have a problem (an unset variable) that explains any
    validation error there, so those errors are not reported twice.
    """

    locations: dict[KeyPath, tuple[str, int | None]]
    from_env: set[KeyPath] = field(default_factory=set)
    suppressed: set[KeyPath] = field(default_factory=set)

    def where(self, path: KeyPath) -> tuple[str, int | None]:
        """The location of ``path``, or of its nearest located parent."""
        for size in range(len(path), -1, -1):
            found = self.locations.get(path[:size])
            if found is not None:
                return found
        return ("<pipeline>", None)

    def problem(self, path: KeyPath, message: str, hint: str | None = None) -> Problem:
        """A problem at ``path``, located."""
        file, line = self.where(path)
        return Problem(file=file, line=line, path=dotted(path), message=message, hint=hint)


def suggest(word: str, candidates: Iterable[str], noun: str = "settings") -> str | None:
    """``did you mean 'x'?`` for a near miss, else the known names, else nothing."""
    names = sorted(set(candidates))
    near = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if near:
        return f"did you mean {near[0]!r}?"
    if names:
        return f"known {noun}: {', '.join(names)}"
    return None


def validation_problems(
    exc: ValidationError,
    *,
    model: type[BaseModel],
    data: Any,
    prefix: KeyPath,
    locator: Locator,
    noun: str = "setting",
    extra_names: Iterable[str] = (),
    hidden_names: Iterable[str] = (),
) -> list[Problem]:
    """One problem per offending key of ``data`` (validated against ``model``) under ``prefix``.

    ``extra_names`` are further valid keys offered in suggestions (``type`` next to plugin
    settings); ``hidden_names`` are model fields never offered (fields the loader fills in).
    """
    by_path: dict[KeyPath, list[ErrorDetails]] = {}
    for error in exc.errors(include_url=False):
        keys = _data_path(error["loc"], data, missing=error["type"] == "missing")
        by_path.setdefault(keys, []).append(error)

    hidden = set(hidden_names)
    found: list[tuple[KeyPath, str, Problem]] = []
    explained: set[KeyPath] = set()  # missing fields an unknown key's suggestion points at
    for keys, errors in by_path.items():
        if (*prefix, *keys) in locator.suppressed:
            continue
        error = next((e for e in errors if e["type"] != "none_required"), errors[0])
        if error["type"] == "extra_forbidden" and keys:
            names = _field_names(model, keys[:-1]) | set(extra_names if len(keys) == 1 else ())
            names -= hidden
            near = difflib.get_close_matches(str(keys[-1]), sorted(names), n=1, cutoff=0.6)
            if near:
                explained.add((*keys[:-1], near[0]))
            message = f"unknown {noun} {keys[-1]!r}"
            hint = suggest(str(keys[-1]), names, f"{noun}s")
        else:
            message, hint = _describe(
                error, model=model, keys=keys, prefix=prefix, locator=locator, noun=noun
            )
        found.append((keys, error["type"], locator.problem((*prefix, *keys), message, hint)))
    return [p for keys, kind, p in found if not (kind == "missing" and keys in explained)]


def _data_path(loc: tuple[int | str, ...], data: Any, *, missing: bool) -> KeyPath:
    """The part of a pydantic ``loc`` that names keys of ``data``; union/validator tags drop."""
    node: Any = data
    keys: list[Key] = []
    for index, part in enumerate(loc):
        if _holds(node, part):
            keys.append(part)
            node = node[part]
        elif missing and index == len(loc) - 1:
            keys.append(part)
    return tuple(keys)


def _holds(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _describe(
    error: ErrorDetails,
    *,
    model: type[BaseModel],
    keys: KeyPath,
    prefix: KeyPath,
    locator: Locator,
    noun: str,
) -> tuple[str, str | None]:
    kind = error["type"]
    full_path = (*prefix, *keys)
    info = _field_info(model, keys)
    if kind == "missing":
        field_name = keys[-1] if keys else "?"
        hint = f"{field_name}: {info.description}" if info and info.description else None
        return f"required {noun} {field_name!r} is missing", hint

    value = error.get("input")
    secret = _is_secret(value, keys, info, full_path, locator)
    got = _shown(value, secret=secret)
    context = error.get("ctx") or {}
    hint = None
    if isinstance(value, bool) and kind == "string_type":
        hint = "quote it: YAML reads yes/no/on/off/true/false as booleans"
    if kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {got}"
    elif kind in ("literal_error", "enum"):
        message = f"expected one of {context.get('expected', '?')}, got {got}"
    elif kind == "string_pattern_mismatch":
        pattern = str(context.get("pattern", ""))
        rule = _FRIENDLY_PATTERNS.get(pattern, f"must match the pattern {pattern}")
        message = f"{rule}, got {got}"
    elif kind in ("value_error", "assertion_error"):
        message = _strip_prefix(error["msg"])
    else:
        message = f"{_lowercase_first(error['msg'])}, got {got}"
    if secret and isinstance(value, str) and value:
        message = message.replace(value, "***")
    return message, hint


def _strip_prefix(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _lowercase_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _shown(value: Any, *, secret: bool) -> str:
    """``'abc'`` / ``12`` for a plain scalar; only the type for a secret or a container."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower() if not secret else "true/false"
    if secret or isinstance(value, dict | list | tuple | SecretStr | SecretBytes):
        return type_name(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


_TYPE_NAMES: tuple[tuple[type | types.UnionType, str], ...] = (
    (bool, "true/false"),
    (str | SecretStr, "a string"),
    (int, "an integer"),
    (float, "a number"),
    (dict, "a mapping"),
    (list | tuple, "a list"),
)


def type_name(value: Any) -> str:
    """``a string``, ``an integer``, ``a list``...: how a value is named without showing it."""
    for types_, name in _TYPE_NAMES:
        if isinstance(value, types_):
            return name
    return f"a value of type {type(value).__name__}"


def _is_secret(
    value: Any, keys: KeyPath, info: FieldInfo | None, full_path: KeyPath, locator: Locator
) -> bool:
    if any(isinstance(key, str) and _SENSITIVE_KEY.search(key) for key in keys):
        return True
    if isinstance(value, str) and value.startswith(_SECRET_REF):
        return True
    if any(full_path[:size] in locator.from_env for size in range(len(full_path) + 1)):
        return True
    return info is not None and _mentions_secret(info.annotation)


def _mentions_secret(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, SecretStr | SecretBytes):
        return True
    return any(_mentions_secret(arg) for arg in get_args(annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through Optional, list, dict, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _models_at(model: type[BaseModel], keys: KeyPath) -> list[type[BaseModel]]:
    current = [model]
    for key in keys:
        if isinstance(key, int):
            continue
        info = _lookup(current, key)
        if info is None:
            return []
        current = _models_in(info.annotation)
    return current


def _field_info(model: type[BaseModel], keys: KeyPath) -> FieldInfo | None:
    names = [key for key in keys if isinstance(key, str)]
    if not names:
        return None
    return _lookup(_models_at(model, keys[: _last_str_index(keys)]), names[-1])


def _last_str_index(keys: KeyPath) -> int:
    for index in range(len(keys) - 1, -1, -1):
        if isinstance(keys[index], str):
            return index
    return 0  # pragma: no cover


def _lookup(models: list[type[BaseModel]], key: str) -> FieldInfo | None:
    for candidate in models:
        for name, info in candidate.model_fields.items():
            if key in (name, info.alias, info.validation_alias):
                return info
    return None


def _field_names(model: type[BaseModel], keys: KeyPath) -> set[str]:
    names: set[str] = set()
    for candidate in _models_at(model, keys):
        for name, info in candidate.model_fields.items():
            names.add(info.alias or name)
    return names
