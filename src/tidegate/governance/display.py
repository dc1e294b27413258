"""What a side output may show of a classified value: the display mask.

Side outputs (profiles, quarantined rows shown to a person, sample rows in errors, the
dashboard, logs) are read by more people than the destination, so a confidential or
restricted value never appears in them in clear. This module decides what they show instead;
it is a display rule, not a protection of the data itself (that is ``mask`` and ``encrypt``).

What a steward gets, per level:

- ``public``, ``internal``: the value, unchanged.
- ``confidential``: the layout of a text, never its content. Every character becomes ``*``
  except ASCII punctuation and ASCII whitespace, so ``ana.lopez@mail.example`` shows as
  ``***.*****@****.*******`` and ``+44 20 7946 0958`` as ``+** ** **** ****``: a reviewer
  still sees a missing ``@``, a stray space or a value of the wrong length, but no letter,
  digit or non-ASCII character of the value (an e-mail's domain is masked too: a personal
  domain names its owner). A text with nothing to mask (``-``, ``***``) shows as
  ``[confidential]``, and so does any value that is not text (numbers, dates, bytes...):
  the digits of a salary or a birth date are the content.
- ``restricted``: ``[restricted]`` for every value, text or not, so not even the length or
  the layout of an identifier that allows fraud on its own is shown. (A text that happens to
  be ``[restricted]`` itself shows with its letters masked.)

Two promises hold for the sensitive levels: null stays null (a missing value is no secret and
tells a reviewer something), and a non-empty value is never shown as itself. The empty text
stays empty at ``confidential`` (it holds nothing) and becomes ``[restricted]`` at
``restricted`` (which shows nothing but whether a value is null).
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from tidegate.governance.classify import Level

__all__ = ["SENSITIVE_LEVELS", "display_value", "mask_for_display"]

SENSITIVE_LEVELS: Final[frozenset[Level]] = frozenset({Level.CONFIDENTIAL, Level.RESTRICTED})
"""Levels whose values a side output shows only masked."""

_MASK: Final = "*"
_MARKS: Final = {Level.CONFIDENTIAL: "[confidential]", Level.RESTRICTED: "[restricted]"}
# every character but ASCII whitespace and the ASCII punctuation ranges !-/ :-@ [-` {-~
_CONTENT: Final = r"[^\t\n\v\f\r !-/:-@\[-\x60{-~]"


def mask_for_display(
    values: pa.Array | pa.ChunkedArray, level: Level
) -> pa.Array | pa.ChunkedArray:
    """``values`` as a side output at ``level`` may show them (see the module docstring).

    Public and internal values come back as the same object. Confidential and restricted
    values come back as text, nulls kept: the input's string type for text, ``pa.string()``
    for anything else. Vectorized: a handful of Arrow kernels, no Python per value.
    """
    if level not in SENSITIVE_LEVELS:
        return values
    text = _as_text(values)
    mark = pa.scalar(_MARKS[level], pa.string() if text is None else text.type)
    if text is None:
        return pc.if_else(pc.is_valid(values), mark, pa.scalar(None, pa.string()))
    layout = pc.replace_substring_regex(text, _CONTENT, _MASK)
    if level == Level.RESTRICTED:
        # only the text "[restricted]" itself equals the mark; its layout differs from it
        return pc.if_else(pc.equal(text, mark), layout, pc.if_else(pc.is_valid(text), mark, text))
    # the layout equals the value when there is no content to hide: show the mark instead
    unchanged = pc.and_(pc.equal(layout, text), pc.greater(pc.utf8_length(text), 0))
    return pc.if_else(unchanged, mark, layout)


def display_value(value: Any, level: Level) -> Any:
    """One value as a side output at ``level`` may show it: ``mask_for_display`` for a scalar.

    ``None`` stays ``None``; public and internal values come back unchanged; a confidential
    or restricted value comes back as a ``str``.
    """
    if value is None or level not in SENSITIVE_LEVELS:
        return value
    if not isinstance(value, str):
        return _MARKS[level]
    shown: str = mask_for_display(pa.array([value], pa.string()), level)[0].as_py()
    return shown


def _as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """``values`` as a string array the regex kernels take, or None when they are not text."""
    data_type = values.type
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return values if data_type == values.type else pc.cast(values, data_type)
    if pa.types.is_string_view(data_type):
        return pc.cast(values, pa.string())
    return None
