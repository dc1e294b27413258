"""The dashboard's ASGI app: overview, pipeline, run and health pages, a JSON API, probes and
metrics.

Read-only by construction: every route is a GET (HEAD answered as GET without a body), any
other method gets 405 before a route is looked up. Every response carries a strict
Content-Security-Policy and the other security headers; pages load only the package's own CSS
and one small script, never inline code, so the policy needs no ``unsafe-inline``. Templates
autoescape, so a step name or an error message holding markup shows as text.

With a ``token``, every request but ``/healthz`` must present it: an ``Authorization: Bearer``
header (scripts, Prometheus), or the ``tidegate_token`` cookie. A browser gets the cookie by
opening any page once with ``?token=...``; the answer sets it (HttpOnly, SameSite=Strict) and
redirects to the same address without the token, so it leaves the address bar and history.

With a ``HealthChecker``, ``/health`` and ``/api/health`` run the ``tidegate health`` checks of
the served pipelines when asked (see ``tidegate.web.health`` for how a round is shared).
"""

from __future__ import annotations

import gzip
import hmac
import threading
import time
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from tidegate.errors import TidegateError
from tidegate.web import charts
from tidegate.web.health import HEALTH_TTL, LiveHealth
from tidegate.web.metrics import render
from tidegate.web.models import (  # noqa: TC001 - FastAPI reads return types at runtime
    HealthReport,
    Overview,
    PipelineDetail,
    RunView,
)
from tidegate.web.templating import environment, run_context

if TYPE_CHECKING:
    from collections.abc import Callable

    import jinja2
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from tidegate.web.models import HealthChecker, HistoryReader

__all__ = ["SECURITY_HEADERS", "TOKEN_COOKIE", "create_app"]

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
"""Sent with every response, errors and static files included."""

TOKEN_COOKIE = "tidegate_token"  # noqa: S105 - a cookie name, not a secret
"""The cookie a browser keeps the token in after its first ``?token=`` visit."""

_T = TypeVar("_T")
_OPEN_PATHS = frozenset({"/healthz"})
_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
_NAME = Path(min_length=1, max_length=200)
_RUN_ID = Path(min_length=1, max_length=36)
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: {"description": "History unreadable."}}


def create_app(
    reader: HistoryReader,
    *,
    token: str | None = None,
    refresh_seconds: int = 15,
    health: HealthChecker | None = None,
    health_ttl: float = HEALTH_TTL,
) -> FastAPI:
    """The dashboard over ``reader``; with ``token``, requests must present it (see above).

    With ``health``, the health page and ``/api/health`` show its checks, a round reused for
    ``health_ttl`` seconds; without, they are not served.
    """
    app = FastAPI(
        title="Tidegate dashboard",
        summary="Pipeline health, run history and run details, read from the state store.",
        docs_url=None,
        redoc_url=None,
    )
    templates = environment()
    app.mount(
        "/static", StaticFiles(directory=str(files("tidegate.web") / "static")), name="static"
    )

    # what every page's template is given besides its own values
    shared: dict[str, Any] = {
        "refresh_seconds": refresh_seconds,
        "health_page": health is not None,
        "standalone": None,
    }

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = templates.get_template(name).render(
            request=request, now=datetime.now(UTC), **shared, **context
        )
        return HTMLResponse(body, status_code=status)

    @app.exception_handler(TidegateError)
    async def unreadable(request: Request, exc: TidegateError) -> Response:
        """The history cannot be read: 503 (the page or the API says why, never a 500)."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=503)
        return page(request, "error.html", 503, title="History unavailable", error=exc)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers.")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: the history can be read.",
        responses=_UNAVAILABLE,
    )
    def readyz() -> JSONResponse:
        try:
            reader.ping()
        except TidegateError as exc:
            return JSONResponse({"status": "unavailable", "detail": exc.message}, 503)
        return JSONResponse({"status": "ready"})

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics of every pipeline's latest run.",
        response_class=Response,
        responses={200: {"content": {_PROMETHEUS: {}}}, **_UNAVAILABLE},
    )
    def metrics() -> Response:
        return Response(render(reader), media_type=_PROMETHEUS)

    @app.get("/api/overview", tags=["api"], responses=_UNAVAILABLE)
    def api_overview() -> Overview:
        """Every pipeline (problems first), the open breakers and the latest alerts."""
        return reader.overview()

    @app.get(
        "/api/pipelines/{name}",
        tags=["api"],
        responses={404: {"description": "No run of this pipeline."}, **_UNAVAILABLE},
    )
    def api_pipeline(
        name: Annotated[str, _NAME], runs: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> PipelineDetail:
        """The pipeline's health, its latest ``runs`` runs and its latest run's steps."""
        return _found(reader.pipeline(name, runs=runs), f"pipeline {name!r}")

    @app.get(
        "/api/runs/{run_id}",
        tags=["api"],
        responses={404: {"description": "No such run."}, **_UNAVAILABLE},
    )
    def api_run(run_id: Annotated[str, _RUN_ID]) -> RunView:
        """Everything recorded of the run of this id (or of a unique prefix of it)."""
        return _found(reader.run(run_id), f"run {run_id!r}")

    rendered = _Rendered(templates, **shared)

    @app.get("/", include_in_schema=False)
    def overview_page(request: Request) -> Response:
        return rendered.overview("overview.html", reader.overview(), request)

    @app.get("/fragments/overview", include_in_schema=False)
    def overview_rows(request: Request) -> Response:
        """The overview's live part (verdict, table, breakers, alerts), which the page's
        script swaps in on refresh."""
        return rendered.overview("_overview_live.html", reader.overview(), request)

    @app.get("/pipelines/{name}", include_in_schema=False)
    def pipeline_page(request: Request, name: Annotated[str, _NAME]) -> HTMLResponse:
        detail = reader.pipeline(name, runs=100)
        if detail is None:
            return page(
                request, "error.html", 404, title="Not found", message=f"no pipeline {name}"
            )
        return page(request, "pipeline.html", detail=detail, **_pipeline_charts(detail))

    @app.get("/runs/{run_id}", include_in_schema=False)
    def run_page(request: Request, run_id: Annotated[str, _RUN_ID]) -> HTMLResponse:
        run = reader.run(run_id)
        if run is None:
            return page(request, "error.html", 404, title="Not found", message=f"no run {run_id}")
        return page(request, "run.html", **run_context(run))

    if health is not None:
        _health_routes(app, LiveHealth(health, ttl=health_ttl), page, health_ttl)
    app.add_middleware(_Guard, token=token)
    return app


def _health_routes(
    app: FastAPI, live: LiveHealth, page: Callable[..., HTMLResponse], ttl: float
) -> None:
    @app.get("/api/health", tags=["health"])
    async def api_health() -> HealthReport:
        """The ``tidegate health`` checks of the served pipelines (source and destination
        connections, state store, circuit breakers, freshness, temp space), failed first.

        Run when asked; a round is shared by the requests arriving while it runs and reused
        for a few seconds (``checked_at`` tells when it ran). Always 200: ``healthy`` tells
        the outcome, so a failed check is data here, not an error of this endpoint.
        """
        return await live.report()

    @app.get("/health", include_in_schema=False)
    async def health_page(request: Request) -> HTMLResponse:
        return page(request, "health.html", report=await live.report(), ttl=ttl)

    @app.get("/fragments/health", include_in_schema=False)
    async def health_fragment(request: Request) -> HTMLResponse:
        """The health page's report alone, which the page's script swaps in on refresh."""
        return page(request, "_health_report.html", report=await live.report(), ttl=ttl)


class _Rendered:
    """The overview pages rendered (and gzipped) once per overview snapshot.

    A reader hands the same ``Overview`` to every request until it reads a new one, so the
    page is the same bytes for all of them: rendering a thousand rows once per snapshot instead
    of once per request is what keeps a wall of screens cheap, and compressing them once (to a
    twentieth) is what keeps it cheap over a slow link. Times show as of the snapshot.
    """

    def __init__(self, templates: jinja2.Environment, **context: Any) -> None:
        self._templates = templates
        self._context = context
        self._lock = threading.Lock()
        self._snapshot: Overview | None = None
        self._bodies: dict[str, tuple[bytes, bytes]] = {}

    def overview(self, name: str, snapshot: Overview, request: Request) -> Response:
        """Template ``name`` over ``snapshot``, gzipped when the client accepts it."""
        plain, packed = self._body(name, snapshot)
        headers = {"Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return HTMLResponse(packed, headers=headers)
        return HTMLResponse(plain, headers=headers)

    def _body(self, name: str, snapshot: Overview) -> tuple[bytes, bytes]:
        with self._lock:
            if self._snapshot is not snapshot:
                self._snapshot, self._bodies = snapshot, {}
            body = self._bodies.get(name)
            if body is None:
                plain = (
                    self._templates.get_template(name)
                    .render(overview=snapshot, now=snapshot.generated_at, **self._context)
                    .encode()
                )
                body = self._bodies[name] = (plain, gzip.compress(plain, compresslevel=6))
            return body


def _found(value: _T | None, what: str) -> _T:
    if value is None:
        raise HTTPException(404, f"no {what} in the history")
    return value


def _pipeline_charts(detail: PipelineDetail) -> dict[str, Any]:
    oldest_first = list(reversed(detail.runs))
    labels = [run.started_at.strftime("%Y-%m-%d %H:%M") for run in oldest_first]
    failed = [run.status == "failed" for run in oldest_first]

    def chart(title: str, values: list[float | None], unit: str = "") -> charts.Series:
        return charts.series(title, values, labels, failed, unit=unit)

    def number(values: list[int | None]) -> list[float | None]:
        return [None if value is None else float(value) for value in values]

    last = detail.runs[0]
    return {
        "charts": [
            chart("Duration", [run.seconds for run in oldest_first], " s"),
            chart("Rows read", number([run.rows_read for run in oldest_first])),
            chart("Rows rejected", number([run.rows_rejected for run in oldest_first])),
            chart("Quality score", [run.quality_score for run in oldest_first]),
        ],
        "step_bars": charts.time_bars(_step_shares(detail)),
        "flow": charts.flow(
            detail.steps,
            rows_read=last.rows_read,
            rows_written=last.rows_written,
            source=detail.spec.source if detail.spec else None,
            destination=detail.spec.destination if detail.spec else None,
            step_types=detail.spec.step_types if detail.spec else None,
        ),
        "lineage": charts.lineage_graph(detail.lineage) if detail.lineage else None,
    }


def _step_shares(detail: PipelineDetail) -> list[Any]:
    from tidegate.web.models import TimeShare  # noqa: PLC0415 - kept beside its one use

    total = sum(step.seconds for step in detail.steps)
    return [
        TimeShare(label=step.step, seconds=step.seconds, share=step.seconds / total if total else 0)
        for step in detail.steps
    ]


class _Guard:
    """ASGI middleware: GET/HEAD only, the token when one is set, security headers always."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        began = time.perf_counter()

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                headers.append((b"cache-control", b"no-store"))
                # how long the app took for this request (queueing in the process included)
                took = (time.perf_counter() - began) * 1000
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        if scope["method"] not in {"GET", "HEAD"}:
            await _plain(guarded, 405, "the dashboard is read-only: GET only", allow="GET, HEAD")
            return
        if (
            self.token is not None
            and scope["path"] not in _OPEN_PATHS
            and await self._refused(scope, guarded)
        ):
            return
        await self.app({**scope, "method": "GET"} if head else scope, receive, guarded)

    async def _refused(self, scope: Scope, send: Send) -> bool:
        """Answer (and return True) unless the request presents the token."""
        assert self.token is not None  # noqa: S101 - only called with a token
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if _same(headers.get("authorization", ""), f"Bearer {self.token}"):
            return False
        cookies = dict(
            part.strip().split("=", 1)
            for part in headers.get("cookie", "").split(";")
            if "=" in part
        )
        if _same(unquote(cookies.get(TOKEN_COOKIE, "")), self.token):
            return False
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        given = [value for key, value in query if key == "token"]
        if given and _same(given[0], self.token):
            rest = urlencode([(key, value) for key, value in query if key != "token"])
            await _plain(
                send,
                303,
                "token accepted",
                location=scope["path"] + (f"?{rest}" if rest else ""),
                set_cookie=f"{TOKEN_COOKIE}={quote(self.token, safe='')}; "
                "HttpOnly; SameSite=Strict; Path=/",
            )
            return True
        await _plain(
            send,
            401,
            "a token is required: send 'Authorization: Bearer <token>', or open the page "
            "once with ?token=<token> to keep it in a cookie",
            www_authenticate="Bearer",
        )
        return True


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison, so the answer's timing tells nothing about the token."""
    return hmac.compare_digest(given.encode(), expected.encode())


async def _plain(send: Send, status: int, text: str, **headers: str) -> None:
    body = f"{text}\n".encode()
    extra = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
