"""Alert channels (email, generic webhook, Microsoft Teams, Slack, console) and the ``Dispatcher``.

Why by hand and not through a notification library such as apprise: four small channels on the
standard library (``smtplib``, ``email.message``, ``hmac``) plus httpx, already a dependency,
give exact control of what matters here: the payload shapes receivers parse, the HMAC scheme,
TLS contexts, one timeout per send, and error messages that never carry a secret (apprise takes
channel URLs with the token inline and logs them; it would also add ~100 plugins and their
import time for the four channels Tidegate offers).

Payloads (every one rendered from the same ``Alert``):

- **Email**: ``multipart/alternative``, a text part and an HTML part (every value HTML-escaped)
  holding the summary, impact and consumers, owner, error kind and message, failing step,
  counts, next action and the link to the run. Subject ``[CRITICAL] orders failed: dependency
  error at step load (tier 1)`` while firing, ``[RESOLVED] orders recovered`` when resolved.
  ``security``: ``starttls`` (EHLO, STARTTLS, EHLO), ``tls`` (implicit TLS, port 465) or
  ``none``; the server certificate and host name are verified. Login only when ``username`` is
  set. Headers ``Auto-Submitted: auto-generated`` (RFC 3834: no auto-replies) and
  ``X-Tidegate-Fingerprint``.
- **Webhook**: ``POST`` of ``Alert.to_dict()`` as compact UTF-8 JSON. With ``signing_secret``
  the request carries ``X-Tidegate-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body
  bytes keyed by the secret, and ``X-Tidegate-Timestamp`` (Unix seconds of the send). A
  receiver verifies with ``hmac.compare_digest("sha256=" + hmac.new(secret, raw_body,
  "sha256").hexdigest(), header)`` over the raw bytes before parsing; the body's ``at`` field
  is signed, so it may also refuse stale deliveries. Retries resend the same body: deduplicate
  on ``fingerprint``, ``status`` and ``at``.
- **Teams**: the Workflows ("When a Teams webhook request is received") message shape, which
  classic incoming webhooks accept too: ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <Adaptive Card
  1.4: a TextBlock title coloured by severity, the summary, a FactSet, the error, the next
  action, and an Action.OpenUrl "Open the run">}]}``. Legacy MessageCards are not used: Office
  365 connectors are being retired.
- **Slack**: Block Kit for incoming webhooks: ``{"text": <fallback for notifications>,
  "blocks": [header, section (summary plus up to ten fields), section (error and next action),
  context (owner, tier, consumers, time), actions (a button opening the run, when there is a
  link)]}``, with ``&``, ``<`` and ``>`` escaped as Slack requires.
- **Console**: a coloured panel on stderr (rich), for the demo and for trying rules out.

Errors: a channel raises ``TransientError`` (timeouts, 4xx SMTP replies, HTTP 429/502/503),
``DependencyError`` (refused, unreachable, other failures) or ``ConfigError`` (bad login,
refused address, an HTTP 4xx meaning the URL or token is wrong). Messages name the channel and
its host only: webhook URLs are secrets (their path carries the token) and are never logged,
raised or chained; an HTTP error body is quoted only when it is a bare error code (Slack's
``no_service``), since some servers echo the request path.

The ``Dispatcher`` keeps a pipeline safe from its channels: each send runs on a daemon thread,
``dispatch`` waits for the first attempts at most ``timeout`` in all, a retryable failure is
retried in the background after each of ``retry_delays``, the first failure of each channel is
logged once (``alert_channel_failed``) and every outcome goes to ``on_result``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import smtplib
import ssl
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable
from urllib.parse import urlsplit

import structlog

from tidegate.core.taxonomy import error_type, http_status_kind
from tidegate.errors import (
    ConfigError,
    DependencyError,
    InternalError,
    TidegateError,
    TransientError,
)
from tidegate.spec.alerting import (
    ConsoleChannelSpec,
    EmailChannelSpec,
    SlackChannelSpec,
    TeamsChannelSpec,
    WebhookChannelSpec,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from pydantic import SecretStr
    from rich.console import Console

    from tidegate.observability.alert import Alert

__all__ = [
    "RETRY_DELAYS",
    "Channel",
    "ConsoleChannel",
    "Dispatcher",
    "EmailChannel",
    "ResultCallback",
    "SlackChannel",
    "TeamsChannel",
    "WebhookChannel",
    "build_channel",
    "render_html",
    "render_text",
    "slack_payload",
    "subject",
    "teams_payload",
]

_log = structlog.get_logger("tidegate.alerts")

RETRY_DELAYS: tuple[float, ...] = (1.0, 5.0, 30.0)
"""Seconds before each background retry of a failed send (three retries)."""

ResultCallback: TypeAlias = "Callable[[str, Alert, bool, str | None], None]"
"""``on_result(channel, alert, delivered, error)``: how the alerting engine records history."""


@runtime_checkable
class Channel(Protocol):
    """Where alerts go. ``send`` delivers one alert or raises ``TransientError``,
    ``DependencyError`` or ``ConfigError`` with a message free of secrets; ``target`` says
    where it sends in words safe to log (a host, never a URL)."""

    name: str
    target: str

    def send(self, alert: Alert) -> None:
        """Deliver ``alert`` once (the ``Dispatcher`` retries)."""


# --- rendering -------------------------------------------------------------------------------


def _line(text: str) -> str:
    """One line: headers and titles cannot carry line breaks."""
    return " ".join(text.split())


def subject(alert: Alert) -> str:
    """The email subject (and console heading): severity, title, error kind, step and tier."""
    if alert.status == "resolved":
        return _line(f"[RESOLVED] {alert.title}")
    text = f"[{alert.severity.upper()}] {alert.title}"
    if alert.error_kind:
        text += f": {alert.error_kind} error"
    if alert.step:
        text += f" at step {alert.step}"
    return _line(f"{text} (tier {alert.criticality})")


def _facts(alert: Alert) -> list[tuple[str, str]]:
    """The short facts every channel shows, in reading order."""
    rows = [("Pipeline", alert.pipeline)]
    if alert.run_id:
        rows.append(("Run", alert.run_id))
    if alert.error_kind:
        rows.append(("Error kind", alert.error_kind))
    if alert.step:
        rows.append(("Failing step", alert.step))
    if alert.owner:
        rows.append(("Owner", alert.owner))
    rows.append(("Criticality", f"tier {alert.criticality}"))
    if alert.consumers:
        rows.append(("Consumers", ", ".join(alert.consumers)))
    if alert.impact:
        rows.append(("Impact", alert.impact))
    rows.append(("At", alert.at.isoformat(timespec="seconds")))
    return rows


def _counts(alert: Alert) -> list[tuple[str, str]]:
    return [(name, f"{value:,}") for name, value in alert.counts.items()]


def render_text(alert: Alert) -> str:
    """The plain-text body of the email."""
    parts = [subject(alert), "", alert.summary, ""]
    width = max(len(label) for label, _ in _facts(alert)) + 1
    parts += [f"{label + ':':<{width}} {value}" for label, value in _facts(alert)]
    if alert.error:
        parts += ["", f"Error ({alert.error_kind or 'unknown'}):", alert.error]
    if alert.counts:
        name_width = max(len(name) for name in alert.counts)
        parts += ["", "Counts:"]
        parts += [f"  {name:<{name_width}}  {value:>15}" for name, value in _counts(alert)]
    if alert.next_action:
        parts += ["", f"Next action: {alert.next_action}"]
    if alert.link:
        parts += ["", f"Open the run: {alert.link}"]
    return "\n".join(parts) + "\n"


_COLOURS = {"critical": "#b42318", "warning": "#b54708", "info": "#175cd3", "resolved": "#067647"}


def _colour(alert: Alert) -> str:
    return _COLOURS["resolved" if alert.status == "resolved" else alert.severity]


def render_html(alert: Alert) -> str:
    """The HTML body of the email; every value is escaped."""
    e = html.escape
    cell = 'style="padding:2px 12px 2px 0;vertical-align:top"'
    rows = "".join(
        f"<tr><th align=left {cell}>{e(label)}</th><td {cell}>{e(value)}</td></tr>"
        for label, value in _facts(alert)
    )
    parts = [
        '<!DOCTYPE html><html><body style="font-family:sans-serif">',
        f'<h2 style="color:{_colour(alert)}">{e(subject(alert))}</h2>',
        f"<p>{e(alert.summary)}</p>",
        f"<table>{rows}</table>",
    ]
    if alert.error:
        parts.append(f"<h3>Error ({e(alert.error_kind or 'unknown')})</h3>")
        parts.append(f'<pre style="white-space:pre-wrap">{e(alert.error)}</pre>')
    if alert.counts:
        counts = "".join(
            f"<tr><td {cell}>{e(name)}</td><td align=right {cell}>{e(value)}</td></tr>"
            for name, value in _counts(alert)
        )
        parts.append(f"<h3>Counts</h3><table>{counts}</table>")
    if alert.next_action:
        parts.append(f"<p><b>Next action:</b> {e(alert.next_action)}</p>")
    if alert.link:
        parts.append(f'<p><a href="{e(alert.link, quote=True)}">Open the run</a></p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def teams_payload(alert: Alert) -> dict[str, Any]:
    """A Teams Workflows message holding one Adaptive Card (1.4)."""
    colour = {"critical": "attention", "warning": "warning", "info": "accent"}[alert.severity]
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": subject(alert),
            "weight": "bolder",
            "size": "medium",
            "wrap": True,
            "color": "good" if alert.status == "resolved" else colour,
        },
        {"type": "TextBlock", "text": alert.summary, "wrap": True},
        {
            "type": "FactSet",
            "facts": [{"title": k, "value": v} for k, v in _facts(alert) + _counts(alert)],
        },
    ]
    if alert.error:
        body.append(
            {"type": "TextBlock", "text": alert.error, "wrap": True, "fontType": "monospace"}
        )
    if alert.next_action:
        body.append(
            {"type": "TextBlock", "text": f"Next action: {alert.next_action}", "wrap": True}
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if alert.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the run", "url": alert.link}]
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


def _slack(text: str, limit: int = 2000) -> str:
    """Slack mrkdwn escaping, within Slack's length limit for a text field."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message in Block Kit."""
    fields = [
        {"type": "mrkdwn", "text": _slack(f"*{label}*\n{value}")}
        for label, value in (_facts(alert) + _counts(alert))[:10]
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject(alert)[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _slack(alert.summary, 3000)},
            "fields": fields,
        },
    ]
    detail = []
    if alert.error:
        detail.append(f"*Error ({alert.error_kind or 'unknown'})*\n```{alert.error}```")
    if alert.next_action:
        detail.append(f"*Next action:* {alert.next_action}")
    if detail:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack("\n".join(detail), 3000)}}
        )
    context = [f"tier {alert.criticality}", alert.at.isoformat(timespec="seconds")]
    if alert.owner:
        context.insert(0, f"owner {alert.owner}")
    if alert.consumers:
        context.append("consumers: " + ", ".join(alert.consumers))
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack(" · ".join(context))}]}
    )
    if alert.link:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open the run"},
            "url": alert.link,
        }
        blocks.append({"type": "actions", "elements": [button]})
    return {"text": _slack(f"{subject(alert)}: {alert.summary}", 3000), "blocks": blocks}


# --- channels ------------------------------------------------------------------------------


class EmailChannel:
    """SMTP email; ``ssl_context`` verifies the server (tests pass one trusting their cert)."""

    def __init__(
        self, name: str, spec: EmailChannelSpec, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if spec.username and spec.password is None:
            raise ConfigError(
                f"alert channel {name!r} has a username but no password",
                hint="set password (env:NAME or file:PATH), or remove username",
            )
        self.name = name
        self.spec = spec
        self.target = f"{spec.host}:{spec.port}"
        self._context = ssl_context if ssl_context is not None else ssl.create_default_context()

    def message(self, alert: Alert) -> EmailMessage:
        """The email for ``alert`` (multipart/alternative: text, then HTML)."""
        message = EmailMessage()
        message["Subject"] = subject(alert)
        message["From"] = self.spec.sender
        message["To"] = ", ".join(self.spec.to)
        message["Date"] = format_datetime(alert.at)
        message["Message-ID"] = make_msgid("tidegate", domain=self.spec.sender.rpartition("@")[2])
        message["Auto-Submitted"] = "auto-generated"
        message["X-Tidegate-Fingerprint"] = _line(alert.fingerprint)
        message.set_content(render_text(alert))
        message.add_alternative(render_html(alert), subtype="html")
        return message

    def send(self, alert: Alert) -> None:
        """Connect, secure, log in when configured and send; errors name the host only."""
        spec, where = self.spec, f"the SMTP server {self.target} of alert channel {self.name!r}"
        message = self.message(alert)
        missing = "STARTTLS" if spec.security == "starttls" else "AUTH"
        try:
            smtp: smtplib.SMTP
            if spec.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    spec.host, spec.port, timeout=spec.timeout_seconds, context=self._context
                )
            else:
                smtp = smtplib.SMTP(spec.host, spec.port, timeout=spec.timeout_seconds)
            with smtp:
                if spec.security == "starttls":
                    smtp.starttls(context=self._context)
                    missing = "AUTH"
                if spec.username and spec.password is not None:
                    smtp.login(spec.username, spec.password.get_secret_value())
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(
                f"{where} refused the login of {spec.username!r} (SMTP {exc.smtp_code})",
                hint="check username and password (the password is not shown)",
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise ConfigError(
                f"{where} does not support {missing}",
                hint="set security: tls (port 465) or none, or remove username",
            ) from exc
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise ConfigError(
                f"{where} refused the sender or a recipient: {_reply(exc)}",
                hint="check sender and to of the channel",
            ) from exc
        except smtplib.SMTPResponseException as exc:
            kind = TransientError if 400 <= exc.smtp_code < 500 else DependencyError
            raise kind(f"{where} answered {_reply(exc)}", hint="retried in the background") from exc
        except ssl.SSLCertVerificationError as exc:
            raise ConfigError(
                f"{where} presented a certificate that is not trusted ({exc.verify_message})",
                hint="use the host name the certificate names, or install its CA",
            ) from exc
        except OSError as exc:  # smtplib.SMTPException is an OSError
            # smtplib reports a read timeout as SMTPServerDisconnected raised while handling it.
            if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
                raise TransientError(
                    f"{where} did not answer within {spec.timeout_seconds:g}s",
                    hint="the server is slow or down; raise timeout_seconds or check it",
                ) from exc
            raise DependencyError(
                f"{where} cannot be reached ({type(exc).__name__}: {exc})",
                hint="check host, port and security, and that the server is up",
            ) from exc


def _reply(exc: smtplib.SMTPException) -> str:
    """An SMTP error's code and reply text (the server's words, which carry no secret of ours)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {reply.decode(errors='replace')}"
            for address, (code, reply) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return _line(f"{exc.smtp_code} {text}")[:200]
    return type(exc).__name__


_ERROR_CODE = re.compile(r"[A-Za-z_]{1,40}")


class _HttpChannel(ABC):
    """A channel that POSTs JSON to a secret URL (webhook, Teams, Slack); each kind says its
    payload."""

    label = "webhook"

    def __init__(self, name: str, url: SecretStr, timeout: float) -> None:
        parts = urlsplit(url.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"the url of alert channel {name!r} is not an http(s) URL (not shown: a secret)",
                hint="set url to the https://... address the service gave you",
            )
        self.name = name
        self.target = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        self._url = url
        self._timeout = timeout

    @abstractmethod
    def payload(self, alert: Alert) -> dict[str, Any]:
        """The JSON body for ``alert``."""

    def headers(self, body: bytes) -> dict[str, str]:
        """Request headers for ``body`` besides the content type."""
        return {}

    def send(self, alert: Alert) -> None:
        """POST the payload; any 2xx is success."""
        import httpx  # noqa: PLC0415 - only processes that alert pay for importing httpx

        body = json.dumps(self.payload(alert), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", **self.headers(body)}
        where = f"the {self.label} at {self.target} (alert channel {self.name!r})"
        # Not chained (from None): httpx errors hold the request, whose URL is the secret.
        try:
            response = httpx.post(
                self._url.get_secret_value(), content=body, headers=headers, timeout=self._timeout
            )
        except httpx.TimeoutException:
            raise TransientError(
                f"{where} did not answer within {self._timeout:g}s",
                hint="the service is slow or down; raise timeout_seconds or check it",
            ) from None
        except httpx.HTTPError as exc:
            raise DependencyError(
                f"{where} cannot be reached ({type(exc).__name__})",
                hint="check the url (not shown: a secret) and the network",
            ) from None
        if response.is_success:
            return
        status = response.status_code
        code = response.text.strip()
        detail = f" ({code})" if _ERROR_CODE.fullmatch(code) else ""
        kind = error_type(http_status_kind(status))
        hint = (
            "the url or its token is wrong or revoked; set a new one (not shown: a secret)"
            if kind is ConfigError
            else "retried in the background"
        )
        raise kind(f"{where} answered HTTP {status}{detail}", hint=hint) from None


class WebhookChannel(_HttpChannel):
    """A generic JSON webhook: ``Alert.to_dict()``, HMAC-signed when ``signing_secret`` is set."""

    def __init__(self, name: str, spec: WebhookChannelSpec) -> None:
        super().__init__(name, spec.url, spec.timeout_seconds)
        self._key = spec.signing_secret

    def payload(self, alert: Alert) -> dict[str, Any]:
        """``Alert.to_dict()``."""
        return alert.to_dict()

    def headers(self, body: bytes) -> dict[str, str]:
        """``X-Tidegate-Signature`` (HMAC-SHA256 of the body) and ``X-Tidegate-Timestamp``."""
        if self._key is None:
            return {}
        key = self._key.get_secret_value().encode()
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
        return {
            "X-Tidegate-Signature": f"sha256={digest}",
            "X-Tidegate-Timestamp": str(int(time.time())),
        }


class TeamsChannel(_HttpChannel):
    """Microsoft Teams (a Workflows webhook or an incoming webhook): an Adaptive Card."""

    label = "Teams webhook"

    def __init__(self, name: str, spec: TeamsChannelSpec) -> None:
        super().__init__(name, spec.url, spec.timeout_seconds)

    def payload(self, alert: Alert) -> dict[str, Any]:
        """See ``teams_payload``."""
        return teams_payload(alert)


class SlackChannel(_HttpChannel):
    """Slack incoming webhook: Block Kit."""

    label = "Slack webhook"

    def __init__(self, name: str, spec: SlackChannelSpec) -> None:
        super().__init__(name, spec.url, spec.timeout_seconds)

    def payload(self, alert: Alert) -> dict[str, Any]:
        """See ``slack_payload``."""
        return slack_payload(alert)


class ConsoleChannel:
    """A coloured panel on stderr (or on ``console``)."""

    target = "stderr"

    def __init__(
        self, name: str, spec: ConsoleChannelSpec | None = None, *, console: Console | None = None
    ) -> None:
        self.name = name
        self._console = console

    def send(self, alert: Alert) -> None:
        """Print the alert; ``Text`` objects, so nothing in it is read as rich markup."""
        from rich.console import Console  # noqa: PLC0415 - imported on first alert
        from rich.panel import Panel  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        colour = _colour(alert)
        body = Text(alert.summary + "\n")
        for label, value in _facts(alert) + _counts(alert):
            body.append(f"{label}: ", style="bold").append(f"{value}\n")
        if alert.error:
            body.append("Error: ", style="bold").append(f"{alert.error}\n", style=colour)
        if alert.next_action:
            body.append("Next action: ", style="bold").append(f"{alert.next_action}\n")
        if alert.link:
            body.append(alert.link, style=f"link {alert.link}")
        body.rstrip()
        console = self._console if self._console is not None else Console(stderr=True)
        title = Text(subject(alert), style=f"bold {colour}")
        console.print(Panel(body, title=title, border_style=colour, expand=False))


def build_channel(
    name: str,
    spec: EmailChannelSpec
    | WebhookChannelSpec
    | TeamsChannelSpec
    | SlackChannelSpec
    | ConsoleChannelSpec,
) -> Channel:
    """The channel for one entry of ``observability.alerts.channels``."""
    if isinstance(spec, EmailChannelSpec):
        return EmailChannel(name, spec)
    if isinstance(spec, WebhookChannelSpec):
        return WebhookChannel(name, spec)
    if isinstance(spec, TeamsChannelSpec):
        return TeamsChannel(name, spec)
    if isinstance(spec, SlackChannelSpec):
        return SlackChannel(name, spec)
    return ConsoleChannel(name, spec)


# --- dispatch ------------------------------------------------------------------------------


@dataclass
class _Delivery:
    channel: Channel
    alert: Alert
    first: threading.Event = field(default_factory=threading.Event)
    ok: bool | None = None


class Dispatcher:
    """Sends alerts to channels without ever failing or holding up the pipeline for long.

    ``dispatch`` starts one daemon thread per named channel and waits for their first attempts
    at most ``timeout`` seconds in all; a channel still busy then (a hung server, bounded by
    its own timeout) finishes in the background. A retryable failure (``TransientError``,
    ``DependencyError``) is retried after each of ``retry_delays``; a ``ConfigError`` is not,
    as retrying cannot fix it. ``on_result(channel, alert, delivered, error)`` is called after
    the first attempt and, when that failed and was retried, once more with the final outcome;
    its own failures are logged, never raised. The first failure of each channel is logged
    once (``alert_channel_failed``: channel, host, error kind and message); one dispatcher is
    meant to live as long as the process, so "once" means once per process.
    """

    def __init__(
        self,
        channels: Iterable[Channel],
        *,
        timeout: float,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        on_result: ResultCallback | None = None,
    ) -> None:
        self.channels = {channel.name: channel for channel in channels}
        self.timeout = timeout
        self._delays = tuple(retry_delays)
        self._on_result = on_result
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def dispatch(self, alert: Alert, names: Iterable[str]) -> dict[str, bool | None]:
        """Send ``alert`` to the channels ``names``; return each first outcome (``None``: still
        trying when ``timeout`` ran out). An unknown name is a failure, reported and logged."""
        deadline = time.monotonic() + self.timeout
        outcome: dict[str, bool | None] = {}
        deliveries: list[_Delivery] = []
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
        for name in dict.fromkeys(names):
            channel = self.channels.get(name)
            if channel is None:
                error = ConfigError(
                    f"no alert channel is named {name!r}",
                    hint=f"define it under observability.alerts.channels ({sorted(self.channels)})",
                )
                self._failed(name, "-", error)
                self._report(name, alert, ok=False, error=str(error))
                outcome[name] = False
                continue
            delivery = _Delivery(channel, alert)
            thread = threading.Thread(
                target=self._deliver,
                args=(delivery,),
                name=f"tidegate-alert-{name}",
                daemon=True,
            )
            thread.start()
            with self._lock:
                self._threads.append(thread)
            deliveries.append(delivery)
        for delivery in deliveries:
            delivery.first.wait(max(deadline - time.monotonic(), 0.0))
            outcome[delivery.channel.name] = delivery.ok
        return outcome

    def close(self, timeout: float | None = None) -> None:
        """Give pending retries one last attempt now; wait at most ``timeout`` (default the
        dispatcher's) for them and for sends in flight."""
        self._closing.set()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def _deliver(self, delivery: _Delivery) -> None:
        """First attempt, then retries after each delay while the failure is retryable."""
        name, alert = delivery.channel.name, delivery.alert
        error = self._attempt(delivery.channel, alert)
        delivery.ok = error is None
        self._report(name, alert, ok=error is None, error=None if error is None else str(error))
        delivery.first.set()
        if error is None or not error.retryable or not self._delays:
            return
        retries = 0
        for delay in self._delays:
            closing = self._closing.wait(delay)
            retries += 1
            error = self._attempt(delivery.channel, alert)
            if error is None:
                _log.info("alert_channel_recovered", channel=name, host=delivery.channel.target)
                self._report(name, alert, ok=True, error=None)
                return
            if closing or not error.retryable:
                break
        plural = "retry" if retries == 1 else "retries"
        self._report(name, alert, ok=False, error=f"{error} (gave up after {retries} {plural})")

    def _attempt(self, channel: Channel, alert: Alert) -> TidegateError | None:
        try:
            channel.send(alert)
        except TidegateError as exc:
            error: TidegateError = exc
        except Exception as exc:  # a third-party channel's bug must not reach the pipeline
            # Only the type is kept: a foreign exception's text may quote a secret URL.
            error = InternalError(f"alert channel {channel.name!r} raised {type(exc).__name__}")
        else:
            return None
        self._failed(channel.name, channel.target, error)
        return error

    def _failed(self, name: str, target: str, error: TidegateError) -> None:
        with self._lock:
            first = name not in self._warned
            self._warned.add(name)
        if first:
            _log.warning(
                "alert_channel_failed",
                channel=name,
                host=target,
                kind=error.kind.value,
                error=error.message,
                retries=len(self._delays) if error.retryable else 0,
            )

    def _report(self, name: str, alert: Alert, *, ok: bool, error: str | None) -> None:
        if self._on_result is None:
            return
        try:
            self._on_result(name, alert, ok, error)
        except Exception as exc:  # recording history must not break delivery
            _log.warning("alert_result_not_recorded", channel=name, error=type(exc).__name__)
