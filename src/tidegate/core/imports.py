"""Importing a user's function named in the spec (``package.module:func``), once, with clear errors.

The ``python`` step and the ``custom`` quality rule both call code the user names in
``pipeline.yaml``; this is the one place that turns such a name into a callable, optionally
after putting the user's folder on ``sys.path``, and says precisely what went wrong.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["import_function"]


def import_function(spec: str, *, folder: Path | None, owner: str) -> Callable[..., Any]:
    """The callable ``spec`` names; ``folder`` goes first on ``sys.path``.

    ``owner`` names who asked, as it should read in a message (``python step 'clean'``).
    """
    if folder is not None:
        if not folder.is_dir():
            raise ConfigError(
                f"{owner}: pythonpath folder does not exist",
                location=str(folder),
                hint="point pythonpath at the folder that holds your module",
            )
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(
            f"{owner}: function {spec!r} is not of the form package.module:func",
            hint="write function: mypackage.transforms:clean",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{owner}: cannot import module {module_name!r}: {exc}",
            hint="check the module name, install it, or set pythonpath to its folder",
        ) from exc
    function = getattr(module, attr, None)
    if function is None:
        raise ConfigError(
            f"{owner}: module {module_name!r} has no attribute {attr!r}",
            hint="check the function's name",
        )
    if not callable(function):
        raise ConfigError(
            f"{owner}: {spec} is a {type(function).__name__}, not a function",
            hint="name a function that takes a RecordBatch",
        )
    return function  # type: ignore[no-any-return]
