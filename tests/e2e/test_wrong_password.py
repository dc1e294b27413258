"""A wrong database password: a clear message without the password, nothing written.

The shared PostgreSQL on these machines trusts every local connection, so this module starts a
throwaway cluster of its own that demands SCRAM passwords (``initdb`` + ``pg_ctl`` from the
local PostgreSQL installation), and stops and deletes it afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.conftest import Cli

PASSWORD = "Right-Pa55word"  # noqa: S105 - the throwaway test cluster's own password
WRONG = "Wr0ng-Pa55word-xyz"


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; drop to the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def password_server() -> Iterator[int]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "PostgreSQL server binaries are needed (Debian package postgresql)"
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="tidegate-pgpw-"))
    (folder / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(folder / "pw", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    data = folder / "data"
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "initdb"),
                *("-D", str(data), "-U", "admin"),
                *("--auth=scram-sha-256", f"--pwfile={folder / 'pw'}"),
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                *("-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"),
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield port
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def _pipeline(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("id,name\n1,Ann\n2,Bob\n", encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(
        "name: people\n"
        "source: {type: csv, path: people.csv}\n"
        "destination: {type: postgres, url: 'env:TARGET_URL', table: people}\n",
        encoding="utf-8",
    )


def test_wrong_password_is_named_without_the_password(
    tmp_path: Path, cli: Cli, password_server: int
) -> None:
    _pipeline(tmp_path)
    wrong = {
        "TARGET_URL": f"postgresql+psycopg://admin:{WRONG}@127.0.0.1:{password_server}/postgres"
    }

    run = cli("run", "pipeline.yaml", env=wrong)
    health = cli("health", "pipeline.yaml", "--json", env=wrong)

    assert run.returncode == 1, run.stderr
    assert "password authentication failed" in run.stderr
    assert f"127.0.0.1:{password_server}" in run.stderr
    assert health.returncode == 1
    assert "password authentication failed" in health.stdout
    for output in (run.stdout, run.stderr, health.stdout, health.stderr):
        assert WRONG not in output

    right = {
        "TARGET_URL": f"postgresql+psycopg://admin:{PASSWORD}@127.0.0.1:{password_server}/postgres"
    }
    loaded = cli("run", "pipeline.yaml", env=right)
    assert loaded.returncode == 0, loaded.stderr
    assert '"rows_written": 2' in loaded.stdout
    assert PASSWORD not in loaded.stdout + loaded.stderr
