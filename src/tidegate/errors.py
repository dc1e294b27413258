"""The one error root of Tidegate, grouped by how the caller should react.

Every error carries a ``kind`` (what the caller should do about it), a ``severity`` (by default
the kind's, see ``default_severity``) and an actionable message that says what failed, where
(file:line, row or key path) and how to fix it. Retry logic reads only the kind (``retryable``),
never the message. ``tidegate.core.taxonomy`` maps driver and library exceptions to kinds.

    TidegateError                      kind        exit code of ``tidegate run``
    ├── ConfigError                    config      2  the pipeline or its settings are wrong
    │   └── SpecError                  config      2  pipeline.yaml failed validation (all problems)
    ├── DataError                      data        1  the input data is malformed or rejected
    ├── TransientError                 transient   1  worth retrying as is (timeouts, locks)
    ├── DependencyError                dependency  1  a system we call is down or refusing
    ├── SecurityError                  security    1  a governance or secret rule refused the run
    └── InternalError                  internal    1  a bug in Tidegate or a plugin
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "ConfigError",
    "DataError",
    "DependencyError",
    "ErrorKind",
    "InternalError",
    "Problem",
    "SecurityError",
    "Severity",
    "SpecError",
    "TidegateError",
    "TransientError",
    "data_detail",
    "default_severity",
    "shown_value",
    "values_hidden",
    "values_shown",
]

_VALUES_SHOWN: ContextVar[bool] = ContextVar("tidegate_values_shown", default=True)


def shown_value(value: object) -> str:
    """A data value as an error message may show it: quoted, or only described while
    ``values_hidden`` is in force (a governed run), since any column may hold personal data."""
    if _VALUES_SHOWN.get():
        return repr(value)
    return f"<a value of {len(str(value))} characters, hidden by governance>"


@contextmanager
def values_hidden() -> Iterator[None]:
    """Within the block (and threads started with a copy of its context) error messages
    describe data values instead of quoting them."""
    token = _VALUES_SHOWN.set(False)
    try:
        yield
    finally:
        _VALUES_SHOWN.reset(token)


def data_detail(detail: str) -> str:
    """An engine's message about a bad value (a conversion or constraint failure), or in a
    governed run a note that it is withheld: such messages often quote the value."""
    if _VALUES_SHOWN.get():
        return detail
    return "the engine's message is hidden by governance, as it may quote data values"


def values_shown() -> bool:
    """Whether error messages may quote data values (False in a governed run)."""
    return _VALUES_SHOWN.get()


class ErrorKind(StrEnum):
    """How the caller should react to an error (DESIGN §4)."""

    TRANSIENT = "transient"
    DATA = "data"
    CONFIG = "config"
    DEPENDENCY = "dependency"
    SECURITY = "security"
    INTERNAL = "internal"


class Severity(StrEnum):
    """How loudly an error should be reported."""

    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


_DEFAULT_SEVERITY = {
    ErrorKind.TRANSIENT: Severity.WARNING,
    ErrorKind.DATA: Severity.ERROR,
    ErrorKind.CONFIG: Severity.ERROR,
    ErrorKind.DEPENDENCY: Severity.ERROR,
    ErrorKind.SECURITY: Severity.CRITICAL,
    ErrorKind.INTERNAL: Severity.ERROR,
}

# DESIGN §4: only these kinds are retried; for ``dependency`` the circuit breaker decides.
_RETRYABLE = frozenset({ErrorKind.TRANSIENT, ErrorKind.DEPENDENCY})


def default_severity(kind: ErrorKind) -> Severity:
    """The severity of an error of ``kind`` unless it says otherwise: a transient failure is a
    warning until retries run out, a security refusal is critical, the rest are errors."""
    return _DEFAULT_SEVERITY[kind]


class TidegateError(Exception):
    """Base of every error Tidegate raises on purpose.

    ``location`` says where the problem is (``pipeline.yaml:12``, ``customers.csv line 7``) and
    ``hint`` how to fix it; both are rendered by ``str()`` so a CLI can print the error as is.
    """

    kind: ClassVar[ErrorKind] = ErrorKind.INTERNAL
    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        location: str | None = None,
        hint: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.severity = severity if severity is not None else default_severity(self.kind)

    @property
    def retryable(self) -> bool:
        """Whether retry logic may try the failed call again: ``transient`` errors always,
        ``dependency`` errors only while the circuit breaker of that dependency is closed (the
        breaker, not this flag, decides that part; an open breaker fails fast)."""
        return self.kind in _RETRYABLE

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(TidegateError):
    """The pipeline, its settings or the command line are wrong; fix them and run again."""

    kind = ErrorKind.CONFIG
    exit_code = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One validation problem in a pipeline spec, located by file, line and key path."""

    file: str
    line: int | None
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class SpecError(ConfigError):
    """A pipeline spec failed validation; carries *every* problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        header = f"pipeline spec has {count} problem{'s' if count != 1 else ''}"
        super().__init__(header + "".join(f"\n  - {p}" for p in self.problems))


class DataError(TidegateError):
    """The input data is malformed or was rejected; fix the data or relax the rule."""

    kind = ErrorKind.DATA


class TransientError(TidegateError):
    """A failure that is likely to pass if the same call is tried again."""

    kind = ErrorKind.TRANSIENT


class DependencyError(TidegateError):
    """A system Tidegate calls (database, HTTP API, file system) is down or refusing."""

    kind = ErrorKind.DEPENDENCY


class SecurityError(TidegateError):
    """A governance or secret-handling rule refused the run."""

    kind = ErrorKind.SECURITY


class InternalError(TidegateError):
    """An unexpected failure inside Tidegate or a plugin; a bug to report."""

    kind = ErrorKind.INTERNAL
