"""Side documents of a pipeline (the governance policy) read with pipeline-grade error reports.

A policy file is YAML written by people, so its mistakes deserve what ``pipeline.yaml`` gets:
every problem at once, each at ``file:line`` with a hint, instead of pydantic's first trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from tidegate.errors import ConfigError
from tidegate.spec._problems import Locator, validation_problems
from tidegate.spec._yaml import parse_yaml

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["load_document"]

M = TypeVar("M", bound=BaseModel)


def load_document(path: Path, model: type[M], *, what: str) -> M:
    """Read YAML ``path`` into ``model``; a ``ConfigError`` lists every problem at file:line.

    ``what`` names the document in messages ("policy file").
    """
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{what} {display} cannot be read ({exc.strerror})",
            hint="check the path; relative paths resolve against the pipeline's folder",
        ) from None
    parsed = parse_yaml(text, display=display)
    problems = list(parsed.problems)
    if not isinstance(parsed.data, dict):
        raise ConfigError(
            f"{what} {display} must be a mapping of keys, not {type(parsed.data).__name__}",
            location=display,
            hint="see the shipped default policy for the layout",
        )
    locator = Locator({key: (display, line) for key, line in parsed.lines.items()})
    try:
        document = model.model_validate(parsed.data)
    except ValidationError as exc:
        problems.extend(
            validation_problems(exc, model=model, data=parsed.data, prefix=(), locator=locator)
        )
    if problems:
        count = len(problems)
        raise ConfigError(
            f"{what} has {count} problem{'s' if count != 1 else ''}"
            + "".join(f"\n  - {problem}" for problem in problems)
        )
    return document
