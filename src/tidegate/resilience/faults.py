"""Fault injection: make chosen failures happen on purpose, to prove retries and resumes work.

The runner offers named points of each batch's life (``step:<name>`` before a step,
``mid_batch`` after the steps and before the write, ``before_commit`` and ``after_commit``
around the destination's commit). A ``FaultInjector`` built from the ``faults:`` section (and
any ``--inject`` flags) decides at each point whether a listed fault happens there: the point
and batch must match, the fault must not have happened ``times`` times yet in this run, and a
draw from a ``random.Random(seed)`` must fall under its ``probability``. The draws come in the
order the points are reached, so the same seed and the same run give the same faults.

What a fault does:

    raise            an error of ``kind`` (transient, data, config, dependency, security,
                     internal), as a failing component would raise it
    delay            sleep ``seconds``: a slow source, step or database
    drop_connection  close the destination's live connection underneath it, so the next
                     statement fails with the driver's own error
    kill             SIGKILL the process on the spot: no cleanup, no rollback, no last log line

Faults are refused in a production profile unless ``--allow-faults`` says so (``check_allowed``).
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import ValidationError

from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    InternalError,
    SecurityError,
    TidegateError,
    TransientError,
)
from tidegate.spec.resilience import FaultSpec, FaultsSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "INJECT_GRAMMAR",
    "FaultInjector",
    "check_allowed",
    "describe",
    "drop_destination_connection",
    "parse_inject",
]

_ERRORS: dict[str, type[TidegateError]] = {
    "transient": TransientError,
    "data": DataError,
    "config": ConfigError,
    "dependency": DependencyError,
    "security": SecurityError,
    "internal": InternalError,
}

_HINT = (
    "this failure was injected on purpose by the pipeline's `faults:` section (or an --inject "
    "flag); remove the fault to run normally"
)

INJECT_GRAMMAR = "AT:ACTION[:KIND|:SECONDS][@BATCH][%PROBABILITY][xTIMES]"
"""The form of an ``--inject`` flag; see ``parse_inject``."""

_FLAG = re.compile(
    r"^(?P<at>mid_batch|before_commit|after_commit|step:[A-Za-z0-9_:-]+)"
    r":(?P<action>raise|delay|drop_connection|kill)"
    r"(?::(?P<arg>[a-z]+|[0-9]+(?:\.[0-9]*)?))?"
    r"(?P<suffixes>(?:[@%x][0-9.]+)*)$"
)
_SUFFIX = re.compile(r"([@%x])([0-9.]+)")
_SUFFIX_FIELDS = {"@": "batch", "%": "probability", "x": "times"}


class FaultInjector:
    """The ``FaultPoints`` of a run with faults configured; one per run (``times`` counts).

    ``emit(point, batch, description)`` is called before a fault acts, so the run's events
    record it even when the fault kills the process. ``drop_connection`` closes the
    destination's live connection (see ``drop_destination_connection``); without one a
    ``drop_connection`` fault raises the ``DependencyError`` a lost connection would.
    """

    def __init__(
        self,
        spec: FaultsSpec,
        *,
        emit: Callable[[str, int, str], None] | None = None,
        drop_connection: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self._emit = emit
        self._drop = drop_connection
        self._random = random.Random(spec.seed)  # noqa: S311 - reproducible chaos, not security
        self._happened = [0] * len(spec.inject)
        self._lock = threading.Lock()

    def never_fired(self) -> list[FaultSpec]:
        """The faults that were certain to fire (probability 1) and did not: the run never
        reached their point (or batch), so the test they were meant for did not happen."""
        with self._lock:
            return [
                fault
                for fault, happened in zip(self.spec.inject, self._happened, strict=True)
                if happened == 0 and fault.probability >= 1
            ]

    def reached(self, point: str, *, batch: int) -> None:
        """Make every listed fault that is due at ``point`` of batch ``batch`` happen, in order."""
        for fault in self._due(point, batch):
            self._act(fault, point, batch)

    def _due(self, point: str, batch: int) -> list[FaultSpec]:
        """The faults that happen now; draws only for matching faults with 0 < probability < 1."""
        due: list[FaultSpec] = []
        with self._lock:
            for index, fault in enumerate(self.spec.inject):
                if fault.at != point or (fault.batch is not None and fault.batch != batch):
                    continue
                if fault.times is not None and self._happened[index] >= fault.times:
                    continue
                if fault.probability < 1 and (
                    fault.probability == 0 or self._random.random() >= fault.probability
                ):
                    continue
                self._happened[index] += 1
                due.append(fault)
        return due

    def _act(self, fault: FaultSpec, point: str, batch: int) -> None:
        if self._emit is not None:
            self._emit(point, batch, describe(fault))
        if fault.action == "delay":
            time.sleep(fault.seconds)
        elif fault.action == "drop_connection":
            if self._drop is None:
                raise DependencyError(
                    "connection dropped (fault injected)",
                    location=f"{point} of batch {batch}",
                    hint=_HINT,
                )
            self._drop()
        elif fault.action == "kill":
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        else:
            raise _ERRORS[fault.kind](f"fault injected at {point} of batch {batch}", hint=_HINT)


def describe(fault: FaultSpec) -> str:
    """What a fault does, for its ``FaultInjected`` event: ``raise transient``, ``delay 2s``."""
    if fault.action == "raise":
        return f"raise {fault.kind}"
    if fault.action == "delay":
        return f"delay {fault.seconds:g}s"
    return fault.action


def parse_inject(values: Sequence[str]) -> tuple[FaultSpec, ...]:
    """The faults of ``--inject`` flags, each ``AT:ACTION[:KIND|:SECONDS][@BATCH][%P][xN]``.

    ``AT`` is ``mid_batch``, ``before_commit``, ``after_commit`` or ``step:<name>``; ``ACTION``
    is ``raise`` (``:KIND``, default transient), ``delay`` (``:SECONDS``, required),
    ``drop_connection`` or ``kill``. ``@BATCH`` limits it to one batch, ``%P`` is its
    probability as a fraction (``%0.25``), ``xN`` the most times it happens in a run. Examples:
    ``before_commit:raise:transient@2``, ``step:clean:delay:1.5%0.1``, ``after_commit:kill@3``.
    """
    return tuple(_parse_one(value) for value in values)


def _bad_flag(value: str, problem: str) -> ConfigError:
    return ConfigError(
        f"--inject {value!r}: {problem}",
        location="--inject",
        hint=f"write {INJECT_GRAMMAR}, such as before_commit:raise:transient@2 or "
        "step:clean:delay:1.5%0.1x3",
    )


def _parse_one(value: str) -> FaultSpec:
    match = _FLAG.match(value.strip())
    if match is None:
        _reject_shape(value)
    fields: dict[str, Any] = {"at": match["at"], "action": match["action"]}
    arg = match["arg"]
    action = match["action"]
    if action == "raise":
        if arg is not None and arg not in _ERRORS:
            raise _bad_flag(value, f"unknown error kind {arg!r}; one of {', '.join(_ERRORS)}")
        fields["kind"] = arg or "transient"
    elif action == "delay":
        if arg is None or arg[0].isalpha():
            raise _bad_flag(value, "a delay needs its seconds, such as mid_batch:delay:2")
        fields["seconds"] = float(arg)
    elif arg is not None:
        raise _bad_flag(value, f"{action} takes no argument, got {arg!r}")
    for mark, number in _SUFFIX.findall(match["suffixes"]):
        name = _SUFFIX_FIELDS[mark]
        if name in fields:
            raise _bad_flag(value, f"{mark}{name} is given twice")
        fields[name] = number
    try:
        return FaultSpec.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise _bad_flag(value, problems) from None


def _reject_shape(value: str) -> NoReturn:
    """Raise the most specific error for a flag that does not have the grammar's shape."""
    at, _, rest = value.strip().partition(":")
    if at == "step":
        name, _, rest = rest.partition(":")
        at = f"step:{name}"
    if not re.fullmatch(r"mid_batch|before_commit|after_commit|step:[A-Za-z0-9_:-]+", at):
        raise _bad_flag(
            value, f"unknown point {at!r}; one of mid_batch, before_commit, after_commit, step:NAME"
        )
    action = re.split(r"[:@%]", rest, maxsplit=1)[0]
    if action not in {"raise", "delay", "drop_connection", "kill"}:
        raise _bad_flag(
            value, f"unknown action {action!r}; one of raise, delay, drop_connection, kill"
        )
    raise _bad_flag(value, "it does not have the form of a fault")


def check_allowed(spec: FaultsSpec, *, profile: str | None, allow: bool) -> None:
    """Refuse faults in a production profile unless ``--allow-faults`` was given.

    A ``faults:`` section copied into a production pipeline must not break real loads quietly:
    the run stops before any data moves (exit 2) and says how to proceed.
    """
    if not spec.inject or allow or profile is None:
        return
    production = {name.casefold() for name in spec.production_profiles}
    if profile.casefold() in production:
        raise ConfigError(
            f"{len(spec.inject)} fault(s) are configured to be injected, and profile "
            f"{profile!r} is a production profile",
            location="faults",
            hint="remove the faults: section and any --inject flags, or pass --allow-faults "
            "if failures are really meant to be injected here",
        )


def drop_destination_connection(destination: object) -> Callable[[], None] | None:
    """A callable that drops the live database connection of a SQLAlchemy-based destination.

    It shuts down the connection's socket underneath SQLAlchemy and the driver (or closes the
    driver connection when it has no socket, as SQLite's), so the destination's next statement
    fails with the driver's own error, as after a network cut or a server restart. None for a
    destination without such a connection (DuckDB and files work on local files).
    """
    if not (hasattr(destination, "_conn") and hasattr(destination, "_engine")):
        return None

    def drop() -> None:
        connection = getattr(destination, "_conn", None)
        if connection is None:
            raise InternalError(
                "a drop_connection fault found no open destination connection to drop",
                hint="faults are reached only after the destination opened; report this",
            )
        _drop_dbapi(connection.connection.dbapi_connection)

    return drop


def _drop_dbapi(dbapi: Any) -> None:
    """Cut a DBAPI connection: shut its socket down when it has one, else close it."""
    fileno = getattr(dbapi, "fileno", None)
    if not callable(fileno):
        dbapi.close()
        return
    sock = socket.socket(fileno=os.dup(fileno()))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.close()
