"""What every command of the ``tidegate`` CLI shares: consoles, common options, failing.

Kept apart from ``cli.py`` so command groups in modules of their own (``quarantine``) use the
same options and print errors the same way, without importing the whole CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tidegate.app.logs import redact

if TYPE_CHECKING:
    from tidegate.errors import TidegateError

__all__ = [
    "EXIT_CODES",
    "PipelineArg",
    "ProfileOption",
    "SetOption",
    "StateOption",
    "err",
    "fail",
    "out",
]

EXIT_CODES = """\
Exit codes: 0 success · 1 the run failed · 2 usage or configuration error.
"""

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PipelineArg = Annotated[
    Path, typer.Argument(help="The pipeline file, e.g. pipeline.yaml.", show_default=False)
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a key of the pipeline, e.g. --set destination.table=x (repeatable).",
        metavar="KEY=VALUE",
    ),
]


def fail(error: TidegateError) -> typer.Exit:
    """Print ``error`` for a person, with the run's secrets masked, and exit with its code."""
    message = escape(redact(error.message))
    err.print(f"[bold red]error[/] ({error.kind}): {message}", highlight=False)
    if error.location:
        err.print(f"  where: {redact(error.location)}", markup=False, highlight=False)
    if error.hint:
        err.print(f"  hint: {redact(error.hint)}", markup=False, highlight=False)
    return typer.Exit(code=error.exit_code)


ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        envvar="TIDEGATE_PROFILE",
        help="Environment profile whose thresholds apply, e.g. prod (env TIDEGATE_PROFILE).",
    ),
]

StateOption = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="URL",
        help="State store URL (default: the pipeline's, or .tidegate/state.db here).",
    ),
]
