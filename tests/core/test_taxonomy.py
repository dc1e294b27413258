"""The error taxonomy classifies real exceptions of real libraries, for every kind.

Each test provokes the failure for real: PostgreSQL on 127.0.0.1:5432 (lock and statement
timeouts, a unique violation, an undefined table, a terminated session, a closed port), SQLite
with a held write lock, DuckDB with a file locked by another process, httpx against a loopback
HTTP(S) server, raw sockets, cryptography. SQL Server cannot run here and pyodbc is not
installed (it needs unixODBC), so the SQL Server rules are checked on an exception carrying
pyodbc's exact ``args`` shape and message format, wrapped by SQLAlchemy's real
``DBAPIError`` as the mssql destination would see it.
"""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import httpx
import psycopg
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from tidegate.core.taxonomy import (
    KIND_POLICIES,
    RULES,
    classify,
    http_status_kind,
    matrix,
    render_markdown,
    rule_for,
)
from tidegate.errors import (
    DataError,
    ErrorKind,
    SecurityError,
    Severity,
    TransientError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def raised(call: Callable[[], object]) -> BaseException:
    """The exception ``call`` raises (the test fails if it raises none)."""
    with pytest.raises(BaseException) as info:  # noqa: PT011 - any exception, classified below
        call()
    return info.value


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    """A fresh database's psycopg conninfo, with a table ``t (id int primary key)``."""
    with postgres_database("tidegate_taxonomy_") as url:
        conninfo = "postgresql://postgres@127.0.0.1:5432/" + url.rsplit("/", 1)[1]
        with psycopg.connect(conninfo, autocommit=True) as con:
            con.execute("CREATE TABLE t (id int PRIMARY KEY)")
            con.execute("INSERT INTO t VALUES (1)")
        yield conninfo


def test_postgres_lock_timeout_is_transient(pg: str) -> None:
    with psycopg.connect(pg) as holder, psycopg.connect(pg) as waiter:
        holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        waiter.execute("SET lock_timeout = '50ms'")
        error = raised(lambda: waiter.execute("SELECT * FROM t"))
    assert isinstance(error, psycopg.errors.LockNotAvailable)
    assert classify(error) is ErrorKind.TRANSIENT
    assert rule_for(error).name == "sqlstate-conflict"


def test_postgres_statement_timeout_is_transient(pg: str) -> None:
    with psycopg.connect(pg) as con:
        con.execute("SET statement_timeout = '20ms'")
        error = raised(lambda: con.execute("SELECT pg_sleep(2)"))
    assert isinstance(error, psycopg.errors.QueryCanceled)
    assert classify(error) is ErrorKind.TRANSIENT


def test_postgres_unique_violation_is_data_also_when_sqlalchemy_wraps_it(pg: str) -> None:
    with psycopg.connect(pg) as con:
        error = raised(lambda: con.execute("INSERT INTO t VALUES (1)"))
    assert isinstance(error, psycopg.errors.UniqueViolation)
    assert classify(error) is ErrorKind.DATA
    engine = sa.create_engine(pg.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as con:
            wrapped = raised(lambda: con.execute(sa.text("INSERT INTO t VALUES (1)")))
    finally:
        engine.dispose()
    assert isinstance(wrapped, sa.exc.IntegrityError)
    assert classify(wrapped) is ErrorKind.DATA
    assert rule_for(wrapped).name == "sqlstate-data"


def test_postgres_undefined_table_and_missing_database_are_config(pg: str) -> None:
    with psycopg.connect(pg) as con:
        error = raised(lambda: con.execute("SELECT * FROM no_such_table"))
    assert isinstance(error, psycopg.errors.UndefinedTable)
    assert classify(error) is ErrorKind.CONFIG
    missing = raised(
        lambda: psycopg.connect("postgresql://postgres@127.0.0.1:5432/tidegate_no_such_db")
    )
    assert classify(missing) is ErrorKind.CONFIG
    assert rule_for(missing).topic == "credentials"


def test_postgres_terminated_session_and_closed_port_are_dependency(pg: str) -> None:
    with psycopg.connect(pg, autocommit=True) as victim, psycopg.connect(pg) as admin:
        pid = victim.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        error = raised(lambda: victim.execute("SELECT 1"))
    assert classify(error) is ErrorKind.DEPENDENCY
    port = closed_port()
    refused = raised(
        lambda: psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=2)
    )
    assert isinstance(refused, psycopg.OperationalError)
    assert classify(refused) is ErrorKind.DEPENDENCY
    assert rule_for(refused).name == "driver-unreachable"


# -- SQLite and DuckDB --------------------------------------------------------------------------


def test_sqlite_database_is_locked_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        error = raised(lambda: waiter.execute("BEGIN IMMEDIATE"))
    finally:
        holder.close()
        waiter.close()
    assert "database is locked" in str(error)
    assert classify(error) is ErrorKind.TRANSIENT
    assert rule_for(error).name == "sqlite-locked"


def test_sqlite_constraint_is_data_and_missing_table_is_config() -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    con.execute("INSERT INTO t VALUES (1)")
    duplicate = raised(lambda: con.execute("INSERT INTO t VALUES (1)"))
    missing = raised(lambda: con.execute("SELECT * FROM nope"))
    con.close()
    assert classify(duplicate) is ErrorKind.DATA
    assert classify(missing) is ErrorKind.CONFIG


def test_duckdb_file_locked_by_another_process_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(path)!r})\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        error = raised(lambda: duckdb.connect(str(path)))
    finally:
        holder.communicate("", timeout=30)
    assert isinstance(error, duckdb.IOException)
    assert classify(error) is ErrorKind.TRANSIENT
    assert rule_for(error).name == "duckdb-file-lock"


def test_duckdb_conversion_is_data_and_unknown_table_is_config() -> None:
    con = duckdb.connect()
    conversion = raised(lambda: con.execute("SELECT 'x'::INTEGER"))
    catalog = raised(lambda: con.execute("SELECT * FROM nope"))
    con.close()
    assert isinstance(conversion, duckdb.ConversionException)
    assert classify(conversion) is ErrorKind.DATA
    assert isinstance(catalog, duckdb.CatalogException)
    assert classify(catalog) is ErrorKind.CONFIG


# -- SQL Server (pyodbc's format; see the module docstring) ------------------------------------


def pyodbc_shaped(sqlstate: str, text: str, native: int) -> sa.exc.DBAPIError:
    """What SQLAlchemy raises for a pyodbc error: args ``(SQLSTATE, message)``, the message
    ``[SQLSTATE] [driver][SQL Server]text (native) (SQLExecDirectW)``."""
    driver = "[Microsoft][ODBC Driver 18 for SQL Server]"
    orig = Exception(
        sqlstate, f"[{sqlstate}] {driver}[SQL Server]{text} ({native}) (SQLExecDirectW)"
    )
    return sa.exc.DBAPIError("INSERT INTO t VALUES (?)", None, orig)


@pytest.mark.parametrize(
    ("sqlstate", "text", "native", "kind"),
    [
        ("40001", "Transaction (Process ID 52) was deadlocked on lock resources with another "
         "process and has been chosen as the deadlock victim. Rerun the transaction.", 1205,
         ErrorKind.TRANSIENT),
        ("HYT00", "Query timeout expired", 0, ErrorKind.TRANSIENT),
        ("HY000", "Lock request time out period exceeded.", 1222, ErrorKind.TRANSIENT),
        ("08S01", "TCP Provider: An existing connection was forcibly closed by the remote "
         "host.\r\n", 10054, ErrorKind.DEPENDENCY),
        ("08S01", "Named Pipes Provider: No process is on the other end of the pipe.\r\n", 233,
         ErrorKind.DEPENDENCY),
        ("28000", "Login failed for user 'etl'.", 18456, ErrorKind.CONFIG),
        ("23000", "Violation of PRIMARY KEY constraint 'PK_t'. Cannot insert duplicate key in "
         "object 'dbo.t'.", 2627, ErrorKind.DATA),
        ("42S02", "Invalid object name 'dbo.nope'.", 208, ErrorKind.CONFIG),
    ],
)  # fmt: skip
def test_sql_server_errors_by_native_number_and_sqlstate(
    sqlstate: str, text: str, native: int, kind: ErrorKind
) -> None:
    assert classify(pyodbc_shaped(sqlstate, text, native)) is kind


# -- HTTP and sockets ---------------------------------------------------------------------------


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    """Answers ``GET /<status>`` with that status; ``/slow`` never answers in time."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            threading.Event().wait(1.0)
            return
        status = int(self.path.strip("/"))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (503, ErrorKind.TRANSIENT),
        (429, ErrorKind.TRANSIENT),
        (408, ErrorKind.TRANSIENT),
        (500, ErrorKind.DEPENDENCY),
        (404, ErrorKind.CONFIG),
        (401, ErrorKind.CONFIG),
        (403, ErrorKind.CONFIG),
    ],
)
def test_http_statuses_from_a_real_server(http_url: str, status: int, kind: ErrorKind) -> None:
    response = httpx.get(f"{http_url}/{status}")
    error = raised(response.raise_for_status)
    assert isinstance(error, httpx.HTTPStatusError)
    assert classify(error) is kind
    assert http_status_kind(status) is kind


def test_http_status_kind_covers_the_statuses_a_rest_source_sees() -> None:
    assert http_status_kind(425) is ErrorKind.TRANSIENT
    assert http_status_kind(502) is ErrorKind.TRANSIENT
    assert http_status_kind(504) is ErrorKind.TRANSIENT
    assert http_status_kind(501) is ErrorKind.DEPENDENCY
    assert http_status_kind(400) is ErrorKind.CONFIG
    assert http_status_kind(422) is ErrorKind.CONFIG


def test_httpx_timeout_is_transient_and_refused_connection_is_dependency(http_url: str) -> None:
    timeout = raised(lambda: httpx.get(f"{http_url}/slow", timeout=0.05))
    assert isinstance(timeout, httpx.ReadTimeout)
    assert classify(timeout) is ErrorKind.TRANSIENT
    refused = raised(lambda: httpx.get(f"http://127.0.0.1:{closed_port()}/"))
    assert isinstance(refused, httpx.ConnectError)
    assert classify(refused) is ErrorKind.DEPENDENCY


def test_socket_errors() -> None:
    refused = raised(lambda: socket.create_connection(("127.0.0.1", closed_port()), timeout=2))
    assert isinstance(refused, ConnectionRefusedError)
    assert classify(refused) is ErrorKind.DEPENDENCY

    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname()[:2], timeout=2)
        peer, _ = server.accept()
        # SO_LINGER with a zero timeout: close() sends RST, so the client's read is reset
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        reset = raised(lambda: client.recv(1))
        client.settimeout(0.05)
        silent = socket.create_connection(server.getsockname()[:2], timeout=0.05)
        timed_out = raised(lambda: silent.recv(1))
        silent.close()
        client.close()
    assert isinstance(reset, ConnectionResetError)
    assert classify(reset) is ErrorKind.DEPENDENCY
    assert isinstance(timed_out, TimeoutError)
    assert classify(timed_out) is ErrorKind.TRANSIENT


def test_file_errors(tmp_path: Path) -> None:
    missing = raised((tmp_path / "nope.csv").read_text)
    assert isinstance(missing, FileNotFoundError)
    assert classify(missing) is ErrorKind.CONFIG
    undecodable = raised(lambda: b"\xff\xfe\xfa".decode("utf-8"))
    assert classify(undecodable) is ErrorKind.DATA


# -- security and internal ----------------------------------------------------------------------


def test_a_ciphertext_that_does_not_authenticate_is_security() -> None:
    sealed = AESGCM(AESGCM.generate_key(bit_length=128)).encrypt(b"\0" * 12, b"secret", None)
    wrong_key = AESGCM(AESGCM.generate_key(bit_length=128))
    error = raised(lambda: wrong_key.decrypt(b"\0" * 12, sealed, None))
    assert isinstance(error, InvalidTag)
    assert classify(error) is ErrorKind.SECURITY
    assert rule_for(error).severity is Severity.CRITICAL


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_an_untrusted_tls_certificate_is_security(tmp_path: Path) -> None:
    import ssl  # noqa: PLC0415 - only this test serves TLS

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        error = raised(lambda: httpx.get(f"https://127.0.0.1:{server.server_address[1]}/200"))
    finally:
        server.shutdown()
        server.server_close()
    assert isinstance(error, httpx.ConnectError)
    assert classify(error) is ErrorKind.SECURITY
    assert rule_for(error).name == "tls-certificate"


def test_tidegate_errors_keep_their_own_kind() -> None:
    assert classify(SecurityError("policy refused column email")) is ErrorKind.SECURITY
    assert classify(DataError("bad row")) is ErrorKind.DATA


def test_a_bug_is_internal_unless_its_cause_is_known() -> None:
    bug = raised(lambda: 1 / 0)
    assert isinstance(bug, ZeroDivisionError)
    assert classify(bug) is ErrorKind.INTERNAL
    lookup = raised(lambda: dict[str, int]()["missing"])
    assert classify(lookup) is ErrorKind.INTERNAL

    def wrapped() -> None:
        try:
            socket.create_connection(("127.0.0.1", closed_port()), timeout=2)
        except OSError as exc:
            raise RuntimeError("the plugin could not reach its API") from exc

    assert classify(raised(wrapped)) is ErrorKind.DEPENDENCY


# -- the table, the error API and the generated docs ------------------------------------------


def test_every_kind_has_a_policy_and_at_least_one_rule() -> None:
    assert set(KIND_POLICIES) == set(ErrorKind)
    assert {rule.kind for rule in RULES} == set(ErrorKind)
    assert len({rule.name for rule in RULES}) == len(RULES)
    assert RULES[-1].name == "anything-else"
    rows = matrix()
    assert sorted(row["kind"] for row in rows) == sorted(ErrorKind)
    assert sum(len(row["rules"]) for row in rows) == len(RULES)


def test_retryable_and_default_severity_follow_the_kind() -> None:
    assert TransientError("t").retryable
    assert TransientError("t").severity is Severity.WARNING
    assert not DataError("d").retryable
    assert SecurityError("s").severity is Severity.CRITICAL
    assert DataError("d", severity=Severity.CRITICAL).severity is Severity.CRITICAL
    assert [kind for kind, policy in KIND_POLICIES.items() if policy.retried != "no"] == [
        ErrorKind.TRANSIENT,
        ErrorKind.DEPENDENCY,
    ]


def test_docs_errors_md_is_generated_from_the_table() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/errors.md is stale: run `python -m tidegate.core.taxonomy --markdown > "
        "docs/errors.md`"
    )
