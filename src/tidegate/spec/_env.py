"""``${VAR}`` and ``${VAR:-default}`` substitution in the string values of a parsed spec.

Like the shell, ``${VAR:-default}`` uses the default when the variable is unset *or empty*.
``$${`` writes a literal ``${``. Keys are never substituted. Substitution returns new data and
reports which key paths received a value from the environment, so error messages can avoid
echoing it (it may be a secret).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tidegate.spec._yaml import KeyPath

__all__ = ["EnvIssue", "Substitution", "substitute_env"]

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class EnvIssue:
    """A reference that could not be substituted, at a key path."""

    path: KeyPath
    message: str
    hint: str


@dataclass(slots=True)
class Substitution:
    """The substituted data, the paths that took an environment value, and the issues."""

    data: Any
    from_env: set[KeyPath] = field(default_factory=set)
    issues: list[EnvIssue] = field(default_factory=list)


def substitute_env(data: Any, environ: Mapping[str, str]) -> Substitution:
    """Replace every ``${...}`` reference in the string values of ``data``."""
    result = Substitution(data=None)
    result.data = _walk(data, (), environ, result)
    return result


def _walk(value: Any, path: KeyPath, environ: Mapping[str, str], result: Substitution) -> Any:
    if isinstance(value, dict):
        return {key: _walk(item, (*path, key), environ, result) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*path, index), environ, result) for index, item in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        return _substitute(value, path, environ, result)
    return value


def _substitute(text: str, path: KeyPath, environ: Mapping[str, str], result: Substitution) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = _BODY.fullmatch(match.group(1))
        if body is None:
            result.issues.append(
                EnvIssue(
                    path,
                    f"malformed variable reference {match.group(0)!r}",
                    "write ${NAME} or ${NAME:-default}, or $${ for a literal ${",
                )
            )
            return match.group(0)
        name, default = body.group(1), body.group(2)
        current = environ.get(name)
        if current is None or (current == "" and default is not None):
            if default is None:
                result.issues.append(
                    EnvIssue(
                        path,
                        f"environment variable {name} is not set",
                        f"export it or write ${{{name}:-default}}",
                    )
                )
                return match.group(0)
            return default
        result.from_env.add(path)
        return current

    return _REFERENCE.sub(replace, text)
