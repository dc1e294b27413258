"""``tidegate keys generate``: a new AES-256 key for field-level encryption, as base64."""

from __future__ import annotations

import sys

import typer

from tidegate.app.console import err

__all__ = ["keys_app"]

keys_app = typer.Typer(help="Keys for field-level encryption.", no_args_is_help=True)


@keys_app.command()
def generate() -> None:
    """Print a new random AES-256 key (32 bytes, base64) on stdout, and how to use it on stderr.

    The key goes to stdout alone, so it can be piped into a secret store or a file without ever
    being shown; keep it out of pipeline files and version control.
    """
    from tidegate.governance.keys import generate_key  # noqa: PLC0415 - keeps --help fast

    sys.stdout.write(generate_key() + "\n")
    sys.stdout.flush()
    err.print(
        "store it as a secret, e.g. `tidegate keys generate > keys/main.v1` (chmod 600), and "
        "refer to it as file:keys/main.v1 or env:NAME in the keyring; never commit it",
        highlight=False,
        markup=False,
    )
