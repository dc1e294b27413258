"""The error taxonomy (DESIGN §4): which driver and library exceptions are which ``ErrorKind``.

``RULES`` is the one classifier table. Each ``Rule`` says what it matches (in words, for the
docs), the kind, the severity, an example, and a predicate over the ``Facts`` read once from the
exception: SQLSTATE (psycopg's ``sqlstate``, psycopg2's ``pgcode``, an ODBC SQLSTATE), SQL
Server native error numbers (from pyodbc's message), SQLite's error name, ``OSError.errno``, an
HTTP status, and the class names and modules of the exception and of the driver error that
SQLAlchemy wraps (``orig``). The first matching rule wins, so the order is the precedence.

Nothing here imports a driver: matching is duck-typed, so the table classifies errors of
drivers that are not installed, and core stays free of them (DESIGN §2). ``tidegate errors``
prints ``matrix()`` and ``docs/errors.md`` is ``render_markdown()``
(``python -m tidegate.core.taxonomy --markdown``), so the documented matrix cannot drift.

Principles: timeouts and lock or serialization conflicts are ``transient``; a system that is
down, refusing, unreachable, out of resources or that dropped the connection is
``dependency``; a value the target refuses is ``data``; wrong names, statements, requests and
credentials are ``config`` (HTTP 401/403 too, as the REST source says); failed integrity or
certificate checks are ``security``; anything unknown is ``internal``.
"""

from __future__ import annotations

import errno as errnos
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypedDict

from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    ErrorKind,
    InternalError,
    SecurityError,
    Severity,
    TidegateError,
    TransientError,
    default_severity,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "KIND_POLICIES",
    "RULES",
    "Facts",
    "KindPolicy",
    "MatrixRow",
    "MatrixRule",
    "Rule",
    "Topic",
    "classify",
    "error_type",
    "facts",
    "http_status_kind",
    "matrix",
    "render_markdown",
    "rule_for",
]

Topic = Literal[
    "lock", "conflict", "timeout", "overload", "connection", "unreachable", "resources",
    "storage", "value", "statement", "privilege", "credentials", "request", "integrity", "bug",
]  # fmt: skip
"""What went wrong within a kind, so a translator can pick its hint (a lock or a timeout)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KindPolicy:
    """How Tidegate and its operators react to one kind: retried or not, and who is alerted."""

    kind: ErrorKind
    meaning: str
    retried: str
    escalation: str
    next_action: str
    """What an operator does about a failed run of this kind: a template whose ``{systems}``
    and ``{run_id}`` ``next_step`` fills in, so an alert and the dashboard say the same."""

    def next_step(
        self, *, systems: str = "the source and destination", run_id: str = "<run id>"
    ) -> str:
        """``next_action`` for a run: the systems it calls and its id filled in."""
        return self.next_action.format(systems=systems, run_id=run_id)

    @property
    def severity(self) -> Severity:
        """The kind's default severity (``tidegate.errors.default_severity``)."""
        return default_severity(self.kind)


KIND_POLICIES: dict[ErrorKind, KindPolicy] = {
    policy.kind: policy
    for policy in (
        KindPolicy(
            kind=ErrorKind.TRANSIENT,
            meaning="likely to pass if the same call is tried again (timeouts, locks, conflicts)",
            retried="yes, with backoff",
            escalation="none while retries succeed (a warning in the log); when retries run "
            "out the run fails and the pipeline owner is alerted within the hour",
            next_action="nothing broken: retries ran out on a passing problem; run again, or "
            "`tidegate run <pipeline> --resume` to continue after the last checkpoint",
        ),
        KindPolicy(
            kind=ErrorKind.DEPENDENCY,
            meaning="a system Tidegate calls is down, refusing, unreachable or out of resources",
            retried="yes, while the circuit breaker is closed; the breaker decides",
            escalation="the dependency's on-call is paged within 5 minutes when the breaker "
            "opens or retries run out; the run resumes from its last checkpoint",
            next_action="check {systems}; `tidegate breaker list` shows the APIs runs stopped "
            "calling; then `tidegate run <pipeline> --resume`",
        ),
        KindPolicy(
            kind=ErrorKind.DATA,
            meaning="the input data is malformed or a value was refused by the target",
            retried="no",
            escalation="rows are quarantined where the pipeline allows, else the run fails; "
            "the data owner is notified by the next business day",
            next_action="`tidegate quarantine show <pipeline>` shows the refused rows; fix the "
            "input or the rule, then run again",
        ),
        KindPolicy(
            kind=ErrorKind.CONFIG,
            meaning="the pipeline, its settings, names, credentials or requests are wrong",
            retried="no",
            escalation="the run is refused or stops; the pipeline owner sees it immediately "
            "(the command's output and exit code 2 for tidegate run)",
            next_action="`tidegate validate <pipeline>` and fix the pipeline or its settings; "
            "running again will not help",
        ),
        KindPolicy(
            kind=ErrorKind.SECURITY,
            meaning="a governance, integrity or certificate check refused the run",
            retried="no",
            escalation="the run stops; the security contact is paged immediately and the "
            "pipeline owner informed",
            next_action="do not run again: tell the security contact; `tidegate classify "
            "<pipeline>` shows what the governance policy refused",
        ),
        KindPolicy(
            kind=ErrorKind.INTERNAL,
            meaning="an unexpected failure: a bug in Tidegate or a plugin",
            retried="no",
            escalation="the run fails; the maintainers get a bug report (run id and traceback) "
            "by the next business day",
            next_action="a bug: report it with the run id and `tidegate show {run_id}`",
        ),
    )
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What the rules look at, read once from an exception (and the driver error it wraps)."""

    classes: frozenset[tuple[str, str]] = frozenset()
    """(top-level module without a leading underscore, class name) of every class in the MROs."""
    text: str = ""
    """The messages, lower-cased."""
    sqlstate: str = ""
    native: frozenset[int] = frozenset()
    """SQL Server native error numbers, from pyodbc's ``... (1205) (SQLExecDirectW)``."""
    sqlite: str = ""
    """SQLite's error name (``SQLITE_BUSY``), Python 3.11+ ``sqlite_errorname``."""
    errno: int | None = None
    http_status: int | None = None
    invalidated: bool = False
    """SQLAlchemy marked the connection invalid (the server dropped it)."""

    def has(self, module: str | None, *names: str) -> bool:
        """Whether a class called one of ``names`` (from ``module``, if given) is in the MROs."""
        return any(n in names and (module is None or m == module) for m, n in self.classes)


_ODBC_NATIVE = re.compile(r"\((-?\d+)\)\s*\(SQL[A-Za-z]+\)")
_SQLSTATE = re.compile(r"[0-9A-Z]{5}")


def _sqlstate(error: BaseException) -> str:
    for name in ("sqlstate", "pgcode"):
        value = getattr(error, name, None)
        if isinstance(value, str) and value:
            return value
    args = error.args
    # pyodbc: args == (SQLSTATE, "[SQLSTATE] [driver]... (native) (SQLFunction)")
    odbc = len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], str)
    if odbc and _SQLSTATE.fullmatch(args[0]) and args[1].startswith(f"[{args[0]}]"):
        return str(args[0])
    return ""


def _http_status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    for value in (
        getattr(response, "status_code", None),
        getattr(error, "status_code", None),
        getattr(error, "status", None),
    ):
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def facts(error: BaseException) -> Facts:
    """The ``Facts`` of ``error`` and, for a SQLAlchemy ``DBAPIError``, of its ``orig``."""
    orig = getattr(error, "orig", None)
    errors = [error] if not isinstance(orig, BaseException) else [error, orig]
    classes = frozenset(
        (cls.__module__.split(".")[0].lstrip("_"), cls.__name__)
        for e in errors
        for cls in type(e).__mro__
    )
    text = " ".join(str(e) for e in errors).lower()
    errnos_ = [getattr(e, "errno", None) for e in errors]
    sqlite_names = [getattr(e, "sqlite_errorname", None) for e in errors]
    return Facts(
        classes=classes,
        text=text,
        sqlstate=next((s for s in map(_sqlstate, errors) if s), ""),
        native=frozenset(int(n) for e in errors for n in _ODBC_NATIVE.findall(str(e))),
        sqlite=next((n for n in sqlite_names if isinstance(n, str)), ""),
        errno=next((n for n in errnos_ if isinstance(n, int)), None),
        http_status=next((s for s in map(_http_status, errors) if s is not None), None),
        invalidated=bool(getattr(error, "connection_invalidated", False)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One row of the classifier table: ``when`` the facts match, the error is ``kind``."""

    name: str
    matches: str
    kind: ErrorKind
    topic: Topic
    example: str
    when: Callable[[Facts], bool] = field(repr=False, compare=False)
    severity_override: Severity | None = None

    @property
    def severity(self) -> Severity:
        """The rule's severity: its own when set (a full disk is critical), else its kind's."""
        return self.severity_override or default_severity(self.kind)

    @property
    def retried(self) -> str:
        """Whether errors of this rule are retried (the kind decides, DESIGN §4)."""
        return KIND_POLICIES[self.kind].retried

    @property
    def escalation(self) -> str:
        """Who is alerted and how fast (the kind decides)."""
        return KIND_POLICIES[self.kind].escalation


def _sqlstate_in(*prefixes: str) -> Callable[[Facts], bool]:
    return lambda f: bool(f.sqlstate) and f.sqlstate.startswith(prefixes)


def _native_in(*numbers: int) -> Callable[[Facts], bool]:
    return lambda f: not f.native.isdisjoint(numbers)


def _sqlite_in(*names: str) -> Callable[[Facts], bool]:
    return lambda f: f.sqlite.startswith(names) if f.sqlite else False


def _errno_in(*codes: int) -> Callable[[Facts], bool]:
    return lambda f: f.errno in codes


def _says(*words: str) -> Callable[[Facts], bool]:
    return lambda f: any(w in f.text for w in words)


def _dbapi(f: Facts) -> bool:
    """A database driver's error (PEP 249 names, or SQLAlchemy's wrapper of one)."""
    return f.has(None, "DBAPIError", "DatabaseError", "InterfaceError")


_X = ErrorKind
_E = errnos
_FAILED_LOGIN = ("authentication failed", "no pg_hba.conf entry", "does not exist")
_LOST = ("server closed the connection", "connection is closed", "terminating connection")
_UNREACHABLE = (
    *("connection failed", "could not connect", "connection refused", "unable to open"),
    *("disk i/o", "disk is full", "could not translate host name"),
)

# fmt: off
RULES: tuple[Rule, ...] = (
    Rule(name="crypto-integrity", matches="cryptography InvalidTag, InvalidSignature, "
         "InvalidKey, InvalidToken", kind=_X.SECURITY, topic="integrity",
         example="cryptography.exceptions.InvalidTag: a ciphertext or key that does not "
         "authenticate",
         when=lambda f: f.has("cryptography", "InvalidTag", "InvalidSignature", "InvalidKey",
                              "InvalidToken")),
    Rule(name="tls-certificate", matches="TLS certificate verification failed", kind=_X.SECURITY,
         topic="integrity", example="ssl.SSLCertVerificationError: CERTIFICATE_VERIFY_FAILED",
         when=lambda f: f.has("ssl", "SSLCertVerificationError")
         or "certificate verify failed" in f.text),
    Rule(name="mssql-deadlock-timeout", matches="SQL Server 1205 deadlock victim, 1222 lock "
         "request timeout, -2 / 258 timeout expired", kind=_X.TRANSIENT, topic="conflict",
         example="pyodbc.Error: [40001] ... chosen as the deadlock victim ... (1205)",
         when=_native_in(1205, 1222, -2, 258)),
    Rule(name="mssql-connection", matches="SQL Server 10053 / 10054 connection aborted or "
         "reset, 10060 / 10061 connect timed out or refused, 233 / 64 pipe or network name gone",
         kind=_X.DEPENDENCY, topic="connection",
         example="pyodbc.OperationalError: [08S01] ... TCP Provider: An existing connection "
         "was forcibly closed by the remote host (10054)",
         when=_native_in(10053, 10054, 10060, 10061, 233, 64)),
    Rule(name="mssql-login", matches="SQL Server 18456 login failed, 4060 cannot open database",
         kind=_X.CONFIG, topic="credentials",
         example="pyodbc.InterfaceError: [28000] ... Login failed for user 'etl'. (18456)",
         when=_native_in(18456, 4060)),
    Rule(name="sqlstate-conflict", matches="SQLSTATE class 40 (serialization failure 40001, "
         "deadlock 40P01), 55P03 lock not available, 55006 object in use", kind=_X.TRANSIENT,
         topic="conflict", example="psycopg.errors.LockNotAvailable (55P03) under lock_timeout",
         when=_sqlstate_in("40", "55P03", "55006")),
    Rule(name="sqlstate-timeout", matches="SQLSTATE 57014 statement timeout or cancel, ODBC "
         "HYT00 / HYT01 timeout expired", kind=_X.TRANSIENT, topic="timeout",
         example="psycopg.errors.QueryCanceled (57014): statement timeout",
         when=_sqlstate_in("57014", "HYT0")),
    Rule(name="sqlstate-connection", matches="SQLSTATE class 08 (connection exception), 57P "
         "(server shutting down or starting)", kind=_X.DEPENDENCY, topic="connection",
         example="psycopg.errors.AdminShutdown (57P01)", when=_sqlstate_in("08", "57P")),
    Rule(name="sqlstate-resources", matches="SQLSTATE class 53 (disk full, out of memory, too "
         "many connections), 58 (system I/O error)", kind=_X.DEPENDENCY, topic="resources",
         example="psycopg.errors.TooManyConnections (53300)", when=_sqlstate_in("53", "58")),
    Rule(name="sqlstate-corrupt", matches="SQLSTATE class XX (internal error, data corrupted)",
         kind=_X.DEPENDENCY, topic="storage", severity_override=Severity.CRITICAL,
         example="psycopg.errors.DataCorrupted (XX001)", when=_sqlstate_in("XX")),
    Rule(name="sqlstate-privilege", matches="SQLSTATE 42501 insufficient privilege, class 28 "
         "(invalid authorization)", kind=_X.CONFIG, topic="privilege",
         example="psycopg.errors.InsufficientPrivilege (42501): permission denied for schema",
         when=_sqlstate_in("42501", "28")),
    Rule(name="sqlstate-data", matches="SQLSTATE class 22 (data exception), 23 (integrity "
         "constraint violation)", kind=_X.DATA, topic="value",
         example="psycopg.errors.UniqueViolation (23505)", when=_sqlstate_in("22", "23")),
    Rule(name="sqlstate-statement", matches="SQLSTATE class 42 (syntax, undefined table or "
         "column), 3D / 3F (no such database or schema), 0A (not supported)", kind=_X.CONFIG,
         topic="statement", example="psycopg.errors.UndefinedTable (42P01)",
         when=_sqlstate_in("42", "3D", "3F", "0A")),
    Rule(name="sqlite-locked", matches="SQLite SQLITE_BUSY / SQLITE_LOCKED (database is "
         "locked)", kind=_X.TRANSIENT, topic="lock",
         example="sqlite3.OperationalError: database is locked",
         when=lambda f: _sqlite_in("SQLITE_BUSY", "SQLITE_LOCKED")(f)
         or "database is locked" in f.text),
    Rule(name="sqlite-readonly", matches="SQLite SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH",
         kind=_X.CONFIG, topic="privilege",
         example="sqlite3.OperationalError: attempt to write a readonly database",
         when=lambda f: _sqlite_in("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")(f)
         or "readonly database" in f.text),
    Rule(name="sqlite-storage", matches="SQLite SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_FULL, "
         "SQLITE_CORRUPT", kind=_X.DEPENDENCY, topic="storage",
         example="sqlite3.OperationalError: unable to open database file",
         when=_sqlite_in("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CORRUPT",
                         "SQLITE_NOTADB")),
    Rule(name="sqlite-value", matches="SQLite SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_TOOBIG",
         kind=_X.DATA, topic="value",
         example="sqlite3.IntegrityError: UNIQUE constraint failed: t.id",
         when=_sqlite_in("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG")),
    Rule(name="duckdb-file-lock", matches="DuckDB IOException about a lock (another process "
         "holds the file)", kind=_X.TRANSIENT, topic="lock",
         example='duckdb.IOException: Could not set lock on file "w.duckdb"',
         when=lambda f: f.has("duckdb", "IOException") and "lock" in f.text),
    Rule(name="duckdb-conflict", matches="DuckDB TransactionException (write-write conflict)",
         kind=_X.TRANSIENT, topic="conflict",
         example="duckdb.TransactionException: Conflict on tuple deletion",
         when=lambda f: f.has("duckdb", "TransactionException")),
    Rule(name="duckdb-value", matches="DuckDB ConversionException, ConstraintException, "
         "OutOfRangeException", kind=_X.DATA, topic="value",
         example="duckdb.ConversionException: Could not convert string 'x' to INT32",
         when=lambda f: f.has("duckdb", "ConversionException", "ConstraintException",
                              "OutOfRangeException")),
    Rule(name="duckdb-statement", matches="DuckDB CatalogException, BinderException, "
         "ParserException, SyntaxException, InvalidInputException", kind=_X.CONFIG,
         topic="statement", example="duckdb.CatalogException: Table with name t does not exist",
         when=lambda f: f.has("duckdb", "CatalogException", "BinderException", "ParserException",
                              "SyntaxException", "InvalidInputException")),
    Rule(name="duckdb-memory", matches="DuckDB OutOfMemoryException", kind=_X.DEPENDENCY,
         topic="resources", example="duckdb.OutOfMemoryException: could not allocate block",
         when=lambda f: f.has("duckdb", "OutOfMemoryException")),
    Rule(name="duckdb-storage", matches="DuckDB IOException, PermissionException",
         kind=_X.DEPENDENCY, topic="storage",
         example="duckdb.IOException: Cannot open file: Permission denied",
         when=lambda f: f.has("duckdb", "IOException", "PermissionException")),
    Rule(name="duckdb-internal", matches="DuckDB InternalException, FatalException",
         kind=_X.INTERNAL, topic="bug", example="duckdb.InternalException: INTERNAL Error",
         when=lambda f: f.has("duckdb", "InternalException", "FatalException")),
    Rule(name="http-retry", matches="HTTP 408, 425, 429, 502, 503, 504", kind=_X.TRANSIENT,
         topic="overload", example="httpx.HTTPStatusError: 503 Service Unavailable",
         when=lambda f: f.http_status in (408, 425, 429, 502, 503, 504)),
    Rule(name="http-server", matches="HTTP other 5xx", kind=_X.DEPENDENCY, topic="connection",
         example="httpx.HTTPStatusError: 500 Internal Server Error",
         when=lambda f: f.http_status is not None and f.http_status >= 500),
    Rule(name="http-auth", matches="HTTP 401, 403", kind=_X.CONFIG, topic="credentials",
         example="httpx.HTTPStatusError: 401 Unauthorized (check the token)",
         when=lambda f: f.http_status in (401, 403)),
    Rule(name="http-request", matches="HTTP other 4xx (404, 400, 422...) and any other status "
         "reported as an error", kind=_X.CONFIG, topic="request",
         example="httpx.HTTPStatusError: 404 Not Found",
         when=lambda f: f.http_status is not None),
    Rule(name="timeout", matches="TimeoutError, socket.timeout, errno ETIMEDOUT, any *Timeout "
         "class (httpx.TimeoutException, psycopg ConnectionTimeout, SQLAlchemy pool TimeoutError)",
         kind=_X.TRANSIENT, topic="timeout", example="httpx.ReadTimeout: timed out",
         when=lambda f: _errno_in(_E.ETIMEDOUT)(f)
         or any(n.endswith(("Timeout", "TimeoutError", "TimeoutException")) for _, n in f.classes)),
    Rule(name="os-busy", matches="errno EAGAIN, EBUSY, EINTR", kind=_X.TRANSIENT, topic="lock",
         example="BlockingIOError: [Errno 11] Resource temporarily unavailable",
         when=_errno_in(_E.EAGAIN, _E.EBUSY, _E.EINTR)),
    Rule(name="os-connection", matches="errno ECONNREFUSED, ECONNRESET, ECONNABORTED, EPIPE, "
         "EHOSTUNREACH, ENETUNREACH, ENETDOWN; socket.gaierror; httpx.TransportError",
         kind=_X.DEPENDENCY, topic="connection",
         example="ConnectionRefusedError: [Errno 111] Connection refused",
         when=lambda f: _errno_in(_E.ECONNREFUSED, _E.ECONNRESET, _E.ECONNABORTED, _E.EPIPE,
                                  _E.EHOSTUNREACH, _E.ENETUNREACH, _E.ENETDOWN)(f)
         or f.has("socket", "gaierror") or f.has("httpx", "TransportError")),
    Rule(name="os-storage", matches="errno ENOSPC, EDQUOT, EIO, EROFS; MemoryError",
         kind=_X.DEPENDENCY, topic="resources", severity_override=Severity.CRITICAL,
         example="OSError: [Errno 28] No space left on device",
         when=lambda f: _errno_in(_E.ENOSPC, _E.EDQUOT, _E.EIO, _E.EROFS)(f)
         or f.has("builtins", "MemoryError")),
    Rule(name="os-path", matches="errno ENOENT, EACCES, EPERM, EISDIR, ENOTDIR", kind=_X.CONFIG,
         topic="privilege", example="PermissionError: [Errno 13] Permission denied: 'out/'",
         when=_errno_in(_E.ENOENT, _E.EACCES, _E.EPERM, _E.EISDIR, _E.ENOTDIR)),
    Rule(name="driver-login", matches="a database driver's error saying authentication failed "
         "or the database or role does not exist", kind=_X.CONFIG, topic="credentials",
         example='psycopg.OperationalError: FATAL: database "nope" does not exist',
         when=lambda f: _dbapi(f) and _says(*_FAILED_LOGIN)(f)),
    Rule(name="driver-lost", matches="SQLAlchemy invalidated the connection, or a database "
         "driver's error says the server closed it", kind=_X.DEPENDENCY, topic="connection",
         example="psycopg.OperationalError: server closed the connection unexpectedly",
         when=lambda f: f.invalidated or (_dbapi(f) and _says(*_LOST)(f))),
    Rule(name="driver-unreachable", matches="a database driver's error saying it could not "
         "connect, or the database file or disk failed", kind=_X.DEPENDENCY, topic="unreachable",
         example="psycopg.OperationalError: connection failed: ... Connection refused",
         when=lambda f: _dbapi(f) and _says(*_UNREACHABLE)(f)),
    Rule(name="driver-value", matches="a database driver's IntegrityError or DataError",
         kind=_X.DATA, topic="value", example="sqlite3.IntegrityError: NOT NULL constraint failed",
         when=lambda f: _dbapi(f) and f.has(None, "IntegrityError", "DataError")),
    Rule(name="driver-privilege", matches="a database driver's error saying permission denied",
         kind=_X.CONFIG, topic="privilege",
         example="sqlite3.OperationalError: permission denied",
         when=lambda f: _dbapi(f) and "permission denied" in f.text),
    Rule(name="driver-statement", matches="any other database driver error (ProgrammingError, "
         "OperationalError...): the statement, names or types", kind=_X.CONFIG,
         topic="statement", example="sqlite3.OperationalError: no such table: t", when=_dbapi),
    Rule(name="input-value", matches="UnicodeError, json.JSONDecodeError, pyarrow ArrowInvalid",
         kind=_X.DATA, topic="value",
         example="UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff",
         when=lambda f: f.has("builtins", "UnicodeError") or f.has("json", "JSONDecodeError")
         or f.has("pyarrow", "ArrowInvalid")),
    Rule(name="anything-else", matches="any other exception", kind=_X.INTERNAL, topic="bug",
         example="ZeroDivisionError: division by zero", when=lambda f: True),
)
# fmt: on


def rule_for(error: BaseException) -> Rule:
    """The first rule of ``RULES`` that matches ``error``; for an exception nothing matches,
    the rule of its explicit cause (``raise X from cause``) when that one is known. A
    ``TidegateError`` is already classified: ask ``classify`` for its kind."""
    found_facts = facts(error)
    found = next(rule for rule in RULES if rule.when(found_facts))
    cause = error.__cause__
    if found.name == "anything-else" and cause is not None and cause is not error:
        return rule_for(cause)
    return found


def classify(error: BaseException) -> ErrorKind:
    """The ``ErrorKind`` of ``error``: its own for a ``TidegateError``, else the table's."""
    if isinstance(error, TidegateError):
        return error.kind
    return rule_for(error).kind


_ERROR_TYPES: dict[ErrorKind, type[TidegateError]] = {
    ErrorKind.TRANSIENT: TransientError,
    ErrorKind.DEPENDENCY: DependencyError,
    ErrorKind.DATA: DataError,
    ErrorKind.CONFIG: ConfigError,
    ErrorKind.SECURITY: SecurityError,
    ErrorKind.INTERNAL: InternalError,
}


def error_type(kind: ErrorKind) -> type[TidegateError]:
    """The ``TidegateError`` subclass to raise for ``kind``, for translators of driver errors."""
    return _ERROR_TYPES[kind]


def http_status_kind(status: int) -> ErrorKind:
    """The kind of an HTTP error status, from the same table (a REST source's responses)."""
    return next(rule.kind for rule in RULES if rule.when(Facts(http_status=status)))


class MatrixRule(TypedDict):
    """One rule as ``matrix()`` and ``tidegate errors --json`` show it."""

    rule: str
    matches: str
    severity: str
    example: str


class MatrixRow(TypedDict):
    """One kind as ``matrix()`` and ``tidegate errors --json`` show it."""

    kind: str
    meaning: str
    retried: str
    severity: str
    escalation: str
    next_action: str
    rules: list[MatrixRule]


def matrix() -> list[MatrixRow]:
    """The classification matrix: per kind its meaning, whether it is retried, its severity,
    the escalation policy, the next action and the rules (in precedence order) that map
    exceptions to it."""
    return [
        {
            "kind": str(kind),
            "meaning": policy.meaning,
            "retried": policy.retried,
            "severity": str(policy.severity),
            "escalation": policy.escalation,
            "next_action": policy.next_step(),
            "rules": [
                {
                    "rule": rule.name,
                    "matches": rule.matches,
                    "severity": str(rule.severity),
                    "example": rule.example,
                }
                for rule in RULES
                if rule.kind is kind
            ],
        }
        for kind, policy in KIND_POLICIES.items()
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    """``docs/errors.md``: the matrix and the full rule table, generated from ``RULES``."""
    lines = [
        "# Error classification",
        "",
        "<!-- Generated by `python -m tidegate.core.taxonomy --markdown > docs/errors.md`"
        " from tidegate/core/taxonomy.py; do not edit by hand. -->",
        "",
        "Every Tidegate error has a kind (DESIGN §4). A `TidegateError` keeps its own; any other",
        "exception is classified by the first matching rule below. `tidegate errors` prints the",
        "same matrix (`--json` for machines).",
        "",
        "| kind | meaning | retried | severity | escalation | next action (alerts, dashboard) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {p.kind} | {_cell(p.meaning)} | {_cell(p.retried)} | {p.severity} | "
        f"{_cell(p.escalation)} | {_cell(p.next_step())} |"
        for p in KIND_POLICIES.values()
    ]
    lines += [
        "",
        "## Rules, in precedence order",
        "",
        "| # | rule | matches | kind | severity | example |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {number} | `{rule.name}` | {_cell(rule.matches)} | {rule.kind} | {rule.severity} | "
        f"{_cell(rule.example)} |"
        for number, rule in enumerate(RULES, start=1)
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m tidegate.core.taxonomy --markdown")
    sys.stdout.write(render_markdown())
