"""Alert channels against real servers on loopback: aiosmtpd (STARTTLS, implicit TLS, AUTH) and
an HTTP server for the webhook, Teams and Slack; the dispatcher against servers that refuse,
hang or come up late."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import hmac
import io
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from rich.console import Console

from tidegate.errors import ConfigError, DependencyError, TransientError
from tidegate.observability.alert import Alert
from tidegate.observability.channels import (
    Channel,
    ConsoleChannel,
    Dispatcher,
    EmailChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
    build_channel,
    subject,
)
from tidegate.spec.alerting import (
    ConsoleChannelSpec,
    EmailChannelSpec,
    SlackChannelSpec,
    TeamsChannelSpec,
    WebhookChannelSpec,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from email.message import EmailMessage
    from pathlib import Path

    from aiosmtpd.smtp import SMTP, Envelope, Session

PASSWORD = "pw-SENTINEL-4b1d"  # noqa: S105 - a sentinel searched for in what was sent
URL_TOKEN = "T0KEN-SENTINEL-77aa"  # noqa: S105 - a sentinel, as above
SIGNING_KEY = "hmac-SENTINEL-9c3e"
SECRETS = (PASSWORD, URL_TOKEN, SIGNING_KEY)

ALERT = Alert(
    pipeline="orders",
    rule="run_failed",
    severity="critical",
    status="firing",
    title="orders failed",
    summary="The nightly orders load failed; the warehouse still holds yesterday's orders.",
    fingerprint="dependency:load:conn-refused",
    run_id="run-20240611-0001",
    error_kind="dependency",
    error="connection to warehouse-db:5432 refused <after 3 retries> & gave up",
    step="load",
    counts={"rows_read": 1_204_332, "rows_written": 0, "rows_rejected": 17},
    next_action="Check that warehouse-db is up, then run: tidegate run orders --resume",
    owner="data-platform@example.com",
    criticality=1,
    consumers=("finance-dashboard", "churn-model"),
    impact="Finance dashboard shows stale revenue",
    link="https://tidegate.example.com/runs/run-20240611-0001?tab=steps&x=1",
    at=dt.datetime(2024, 6, 11, 2, 15, tzinfo=dt.UTC),
)
RESOLVED = Alert(
    pipeline="orders",
    rule="run_failed",
    severity="critical",
    status="resolved",
    title="orders recovered",
    summary="The orders load succeeded again.",
    fingerprint="dependency:load:conn-refused",
    run_id="run-20240611-0002",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- a real SMTP server ------------------------------------------------------------------


@dataclass
class Certificate:
    """A self-signed certificate for 127.0.0.1 and the contexts that serve and trust it."""

    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    folder: Path = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tidegate-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return Certificate(server=server, client=ssl.create_default_context(cafile=str(cert_file)))


@dataclass
class Mailbox:
    """What the SMTP server received, and who logged in."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(  # noqa: N802 - the hook name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        parsed = email.message_from_bytes(content, policy=policy.default)
        self.messages.append((envelope, parsed))
        self.arrived.set()
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == b"alerts"
            and data.password == PASSWORD.encode()
        )
        if ok:
            self.logins.append(mechanism)
        # handled=False: aiosmtpd then answers 535 itself (True means the hook already did).
        return AuthResult(success=ok, handled=False)


def _smtp(mailbox: Mailbox, port: int, **kwargs: Any) -> Controller:
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=mailbox.authenticate,
        auth_required=True,
        **kwargs,
    )
    controller.start()
    return controller


def _email_spec(port: int, **overrides: Any) -> EmailChannelSpec:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "starttls",
        "username": "alerts",
        "password": PASSWORD,
        "sender": "tidegate@example.com",
        "to": ["oncall@example.com", "data-platform@example.com"],
        "timeout_seconds": 5,
    }
    return EmailChannelSpec.model_validate(settings | overrides)


@pytest.fixture
def starttls_server(certificate: Certificate) -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), _free_port()
    controller = _smtp(mailbox, port, tls_context=certificate.server, require_starttls=True)
    yield mailbox, port
    controller.stop()


def _parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def test_email_over_starttls_with_auth(
    starttls_server: tuple[Mailbox, int], certificate: Certificate
) -> None:
    mailbox, port = starttls_server
    channel = EmailChannel("mail", _email_spec(port), ssl_context=certificate.client)

    channel.send(ALERT)

    assert mailbox.logins  # logged in, over TLS (aiosmtpd refuses AUTH before STARTTLS)
    ((envelope, message),) = mailbox.messages
    assert envelope.rcpt_tos == ["oncall@example.com", "data-platform@example.com"]
    assert message["Subject"] == (
        "[CRITICAL] orders failed: dependency error at step load (tier 1)"
    )
    assert message["From"] == "tidegate@example.com"
    assert message["To"] == "oncall@example.com, data-platform@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text, html = _parts(message)
    for body in (text, html):
        for fact in (
            "run-20240611-0001",
            "dependency",
            "load",
            "1,204,332",
            "rows_rejected",
            "Check that warehouse-db is up, then run: tidegate run orders --resume",
            "finance-dashboard, churn-model",
            "data-platform@example.com",
            "Finance dashboard shows stale revenue",
        ):
            assert fact in body, fact
    assert "connection to warehouse-db:5432 refused <after 3 retries> & gave up" in text
    assert "Open the run: https://tidegate.example.com/runs/run-20240611-0001?tab=steps&x=1" in text
    # HTML escapes every value: the error's <, > and & and the link's & in href.
    assert "refused &lt;after 3 retries&gt; &amp; gave up" in html
    assert 'href="https://tidegate.example.com/runs/run-20240611-0001?tab=steps&amp;x=1"' in html
    raw = message.as_bytes()
    for secret in SECRETS:
        assert secret.encode() not in raw


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_email_over_implicit_tls(certificate: Certificate) -> None:
    mailbox, port = Mailbox(), _free_port()
    # Implicit TLS is TLS from the first byte; aiosmtpd's auth_require_tls only knows STARTTLS.
    controller = _smtp(mailbox, port, ssl_context=certificate.server, auth_require_tls=False)
    try:
        spec = _email_spec(port, security="tls")
        EmailChannel("mail", spec, ssl_context=certificate.client).send(RESOLVED)
    finally:
        controller.stop()
    ((_, message),) = mailbox.messages
    assert mailbox.logins
    assert message["Subject"] == "[RESOLVED] orders recovered"
    text, html = _parts(message)
    assert "The orders load succeeded again." in text
    assert "run-20240611-0002" in html


def test_email_wrong_password_is_a_config_error_without_the_password(
    starttls_server: tuple[Mailbox, int], certificate: Certificate
) -> None:
    _, port = starttls_server
    spec = _email_spec(port, password="wrong-SENTINEL-0000")  # noqa: S106 - a sentinel
    with pytest.raises(ConfigError, match="refused the login of 'alerts'") as caught:
        EmailChannel("mail", spec, ssl_context=certificate.client).send(ALERT)
    assert "wrong-SENTINEL-0000" not in str(caught.value)


def test_email_untrusted_certificate_is_refused(starttls_server: tuple[Mailbox, int]) -> None:
    mailbox, port = starttls_server
    with pytest.raises(ConfigError, match="certificate that is not trusted"):
        EmailChannel("mail", _email_spec(port)).send(ALERT)
    assert not mailbox.messages


def test_email_to_a_server_without_starttls_is_a_config_error(certificate: Certificate) -> None:
    mailbox, port = Mailbox(), _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = EmailChannel("mail", _email_spec(port), ssl_context=certificate.client)
        with pytest.raises(ConfigError, match="does not support STARTTLS"):
            channel.send(ALERT)
    finally:
        controller.stop()
    assert not mailbox.messages


def test_email_username_without_password_is_refused_up_front() -> None:
    spec = _email_spec(25, password=None)
    with pytest.raises(ConfigError, match="username but no password"):
        EmailChannel("mail", spec)


# --- a real HTTP receiver ---------------------------------------------------------------


@dataclass
class Hook:
    """A loopback HTTP server keeping every POST; answers ``status`` with ``reply``."""

    url: str
    posts: list[tuple[str, dict[str, str], bytes]]
    status: int = 200
    reply: bytes = b"ok"

    def json(self, index: int = -1) -> Any:
        return json.loads(self.posts[index][2])


@pytest.fixture
def hook() -> Iterator[Hook]:
    posts: list[tuple[str, dict[str, str], bytes]] = []
    state: dict[str, Hook] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append((self.path, dict(self.headers.items()), body))
            self.send_response(state["hook"].status)
            self.send_header("Content-Length", str(len(state["hook"].reply)))
            self.end_headers()
            self.wfile.write(state["hook"].reply)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts on what arrived."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    state["hook"] = Hook(
        url=f"http://127.0.0.1:{port}/hooks/{URL_TOKEN}?sig={URL_TOKEN}", posts=posts
    )
    yield state["hook"]
    server.shutdown()
    server.server_close()


def test_webhook_posts_the_alert_signed(hook: Hook) -> None:
    spec = WebhookChannelSpec(url=SecretStr(hook.url), signing_secret=SecretStr(SIGNING_KEY))
    before = int(time.time())

    WebhookChannel("hook", spec).send(ALERT)

    ((path, headers, body),) = hook.posts
    assert path == f"/hooks/{URL_TOKEN}?sig={URL_TOKEN}"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    expected = hmac.new(SIGNING_KEY.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Tidegate-Signature"], f"sha256={expected}")
    assert before <= int(headers["X-Tidegate-Timestamp"]) <= int(time.time())
    assert json.loads(body) == ALERT.to_dict()
    assert SIGNING_KEY.encode() not in body


def test_webhook_without_a_signing_secret_is_unsigned(hook: Hook) -> None:
    WebhookChannel("hook", WebhookChannelSpec(url=SecretStr(hook.url))).send(RESOLVED)
    ((_, headers, _),) = hook.posts
    assert "X-Tidegate-Signature" not in headers
    assert hook.json()["status"] == "resolved"


def test_teams_gets_an_adaptive_card(hook: Hook) -> None:
    hook.status, hook.reply = 202, b""
    TeamsChannel("teams", TeamsChannelSpec(url=SecretStr(hook.url))).send(ALERT)

    message = hook.json()
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    title, summary, facts, *rest = card["body"]
    assert title["text"] == subject(ALERT)
    assert title["color"] == "attention"
    assert summary["text"] == ALERT.summary
    assert facts["type"] == "FactSet"
    shown = {fact["title"]: fact["value"] for fact in facts["facts"]}
    assert shown["Run"] == "run-20240611-0001"
    assert shown["Failing step"] == "load"
    assert shown["rows_read"] == "1,204,332"
    assert [block["text"] for block in rest] == [ALERT.error, f"Next action: {ALERT.next_action}"]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open the run", "url": ALERT.link}
    ]


def test_slack_gets_block_kit(hook: Hook) -> None:
    SlackChannel("slack", SlackChannelSpec(url=SecretStr(hook.url))).send(ALERT)

    message = hook.json()
    assert message["text"].startswith(subject(ALERT))
    header, section, detail, context, actions = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": subject(ALERT)}}
    assert section["type"] == "section"
    assert section["text"]["type"] == "mrkdwn"
    assert 1 <= len(section["fields"]) <= 10
    assert "*Run*\nrun-20240611-0001" in [f["text"] for f in section["fields"]]
    assert "refused &lt;after 3 retries&gt; &amp; gave up" in detail["text"]["text"]
    assert "*Next action:* Check that warehouse-db is up" in detail["text"]["text"]
    assert context["type"] == "context"
    assert "owner data-platform@example.com" in context["elements"][0]["text"]
    (button,) = actions["elements"]
    assert button["type"] == "button"
    assert button["url"] == ALERT.link


@pytest.mark.parametrize(
    ("status", "reply", "error", "shown"),
    [
        (404, b"no_service", ConfigError, "HTTP 404 (no_service)"),
        (404, f"Cannot POST /hooks/{URL_TOKEN}".encode(), ConfigError, "HTTP 404"),
        (503, b"", TransientError, "HTTP 503"),
        (500, b"oops", DependencyError, "HTTP 500 (oops)"),
    ],
)
def test_http_errors_never_show_the_url(
    hook: Hook, status: int, reply: bytes, error: type[Exception], shown: str
) -> None:
    hook.status, hook.reply = status, reply
    with pytest.raises(error) as caught:
        SlackChannel("slack", SlackChannelSpec(url=SecretStr(hook.url))).send(ALERT)
    message = str(caught.value)
    assert shown in message
    assert "127.0.0.1" in message
    assert URL_TOKEN not in message
    assert caught.value.__cause__ is None


def test_a_non_http_url_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="not an http") as caught:
        WebhookChannel("hook", WebhookChannelSpec(url=SecretStr(f"ftp://x/{URL_TOKEN}")))
    assert URL_TOKEN not in str(caught.value)


def test_console_prints_a_panel() -> None:
    out = io.StringIO()
    ConsoleChannel("console", console=Console(file=out, width=120)).send(ALERT)
    text = out.getvalue()
    assert subject(ALERT) in text
    assert "run-20240611-0001" in text
    assert "refused <after 3 retries> & gave up" in text


def test_build_channel_picks_the_type(hook: Hook) -> None:
    url = SecretStr(hook.url)
    assert isinstance(build_channel("a", _email_spec(25)), EmailChannel)
    assert isinstance(build_channel("b", WebhookChannelSpec(url=url)), WebhookChannel)
    assert isinstance(build_channel("c", TeamsChannelSpec(url=url)), TeamsChannel)
    assert isinstance(build_channel("d", SlackChannelSpec(url=url)), SlackChannel)
    assert isinstance(build_channel("e", ConsoleChannelSpec()), ConsoleChannel)


# --- the dispatcher ----------------------------------------------------------------------


@dataclass
class Results:
    """What ``on_result`` was told, and when."""

    seen: list[tuple[str, str, bool, str | None]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, channel: str, alert: Alert, ok: bool, error: str | None) -> None:
        with self.changed:
            self.seen.append((channel, alert.run_id or "", ok, error))
            self.changed.notify_all()

    def wait_for(
        self, count: int, timeout: float = 10.0
    ) -> list[tuple[str, str, bool, str | None]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.seen) >= count, timeout)
            return list(self.seen)


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_a_hung_smtp_server_delays_dispatch_by_the_timeout_only(hung_port: int) -> None:
    results = Results()
    channel = EmailChannel("mail", _email_spec(hung_port, timeout_seconds=1.5))
    dispatcher = Dispatcher([channel], timeout=0.3, retry_delays=(), on_result=results)

    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        outcome = dispatcher.dispatch(ALERT, ["mail"])
        elapsed = time.monotonic() - started
        assert outcome == {"mail": None}  # still trying when the run moved on
        assert elapsed < 0.3 + 0.2
        # The channel's own timeout ends the attempt in the background; it is recorded.
        (seen,) = results.wait_for(1)
    assert seen[:3] == ("mail", "run-20240611-0001", False)
    assert seen[3] is not None
    assert "did not answer within 1.5s" in seen[3]
    (log,) = [line for line in logs if line["event"] == "alert_channel_failed"]
    assert log["kind"] == "transient"
    dispatcher.close(1)


def test_a_refusing_smtp_server_is_retried_until_it_comes_up(
    certificate: Certificate,
) -> None:
    port, results = _free_port(), Results()
    channel = EmailChannel("mail", _email_spec(port), ssl_context=certificate.client)
    dispatcher = Dispatcher(
        [channel], timeout=2, retry_delays=(0.2, 0.3, 1.5, 3.0), on_result=results
    )

    with structlog.testing.capture_logs() as logs:
        started = time.monotonic()
        outcome = dispatcher.dispatch(ALERT, ["mail"])
        assert time.monotonic() - started < 2
        assert outcome == {"mail": False}
        (first,) = results.wait_for(1)
        # Two background retries fail against the closed port before the server comes up.
        time.sleep(0.8)
        mailbox = Mailbox()
        controller = _smtp(mailbox, port, tls_context=certificate.server, require_starttls=True)
        try:
            assert mailbox.arrived.wait(10)
            _, second = results.wait_for(2)
        finally:
            controller.stop()
    assert first[2] is False
    assert first[3] is not None
    assert "cannot be reached (ConnectionRefusedError" in first[3]
    assert second == ("mail", "run-20240611-0001", True, None)
    failures = [line for line in logs if line["event"] == "alert_channel_failed"]
    assert len(failures) == 1  # logged once, though three attempts failed
    assert dict(failures[0]) | {"error": ""} == {
        "event": "alert_channel_failed",
        "log_level": "warning",
        "channel": "mail",
        "host": f"127.0.0.1:{port}",
        "kind": "dependency",
        "error": "",
        "retries": 4,
    }
    ((_, message),) = mailbox.messages
    assert message["Subject"] == subject(ALERT)
    dispatcher.close(1)


def test_dispatch_fans_out_and_never_logs_secrets(hook: Hook, hung_port: int) -> None:
    results = Results()
    broken = SlackChannel(
        "broken", SlackChannelSpec(url=SecretStr(f"http://127.0.0.1:{_free_port()}/{URL_TOKEN}"))
    )
    channels: list[Channel] = [
        WebhookChannel(
            "hook",
            WebhookChannelSpec(url=SecretStr(hook.url), signing_secret=SecretStr(SIGNING_KEY)),
        ),
        TeamsChannel("teams", TeamsChannelSpec(url=SecretStr(hook.url))),
        broken,
        EmailChannel("mail", _email_spec(hung_port, timeout_seconds=0.5)),
    ]
    dispatcher = Dispatcher(channels, timeout=3, retry_delays=(0.1,), on_result=results)

    with structlog.testing.capture_logs() as logs:
        outcome = dispatcher.dispatch(ALERT, ["hook", "teams", "broken", "mail", "missing"])
        dispatcher.close(3)

    assert outcome == {
        "hook": True,
        "teams": True,
        "broken": False,
        "mail": False,
        "missing": False,
    }
    assert len(hook.posts) == 2
    finals = {name: (ok, error) for name, _, ok, error in results.seen}
    assert finals["broken"][1] is not None
    assert "gave up after 1 retry" in finals["broken"][1]
    assert finals["missing"][1] is not None
    assert "no alert channel is named 'missing'" in finals["missing"][1]
    failed = {line["channel"]: line for line in logs if line["event"] == "alert_channel_failed"}
    assert set(failed) == {"broken", "mail", "missing"}
    assert failed["broken"]["host"] == broken.target
    everything = repr(logs) + repr(results.seen)
    for secret in SECRETS:
        assert secret not in everything


def test_a_config_error_is_not_retried(hook: Hook) -> None:
    hook.status, hook.reply = 410, b"channel_is_archived"
    results = Results()
    channel = SlackChannel("slack", SlackChannelSpec(url=SecretStr(hook.url)))
    dispatcher = Dispatcher([channel], timeout=2, retry_delays=(0.05, 0.05), on_result=results)

    assert dispatcher.dispatch(ALERT, ["slack"]) == {"slack": False}
    dispatcher.close(1)

    assert len(hook.posts) == 1
    ((_, _, ok, error),) = results.seen
    assert not ok
    assert error is not None
    assert "HTTP 410 (channel_is_archived)" in error


def test_a_failing_result_recorder_does_not_break_delivery(hook: Hook) -> None:
    def recorder(channel: str, alert: Alert, ok: bool, error: str | None) -> None:
        raise RuntimeError("state store is down")

    channel = WebhookChannel("hook", WebhookChannelSpec(url=SecretStr(hook.url)))
    dispatcher = Dispatcher([channel], timeout=2, on_result=recorder)
    with structlog.testing.capture_logs() as logs:
        assert dispatcher.dispatch(ALERT, ["hook"]) == {"hook": True}
    assert [line["event"] for line in logs] == ["alert_result_not_recorded"]
    assert len(hook.posts) == 1
