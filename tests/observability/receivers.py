"""Real telemetry backends on loopback: OTLP over HTTP and gRPC, Azure Monitor ingestion.

Each keeps the raw bytes it was sent (to prove no secret is among them) and decodes them the
way the real backend would: OTLP protobuf, Azure Monitor's JSON envelopes (gzip or not).
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped]  # grpcio ships no stubs
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
    from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class Received:
    """What a receiver got: raw bodies and headers, in arrival order."""

    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        with self.lock:
            self.bodies.append((path, body))
            self.headers.append(headers)

    def raw(self) -> bytes:
        """Every byte received, headers included."""
        with self.lock:
            parts = [body for _, body in self.bodies]
            parts += [f"{k}: {v}".encode() for h in self.headers for k, v in h.items()]
        return b"\n".join(parts)


def spans(requests: list[trace_service_pb2.ExportTraceServiceRequest]) -> list[Span]:
    """Every span of the decoded requests."""
    return [
        span
        for request in requests
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def metrics(requests: list[metrics_service_pb2.ExportMetricsServiceRequest]) -> list[Metric]:
    """Every metric of the decoded requests."""
    return [
        metric
        for request in requests
        for resource in request.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    ]


def attributes(span: Span) -> dict[str, Any]:
    """A protobuf span's attributes as a plain dict."""
    found: dict[str, Any] = {}
    for attribute in span.attributes:
        value = attribute.value
        kind = value.WhichOneof("value")
        if kind == "array_value":
            found[attribute.key] = [
                getattr(v, v.WhichOneof("value")) for v in value.array_value.values
            ]
        else:
            found[attribute.key] = getattr(value, kind) if kind else None
    return found


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.received.add(self.path, body, headers)
        reply = self.server.reply(self.path, body)
        self.send_response(200)
        self.send_header("Content-Type", reply[0])
        self.send_header("Content-Length", str(len(reply[1])))
        self.end_headers()
        self.wfile.write(reply[1])

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received = Received()

    def reply(self, path: str, body: bytes) -> tuple[str, bytes]:
        return "application/x-protobuf", b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class OtlpHttpReceiver(_Server):
    """An OTLP/HTTP collector: POST /v1/traces and /v1/metrics, protobuf bodies."""

    def traces(self) -> list[trace_service_pb2.ExportTraceServiceRequest]:
        decoded = []
        for path, body in list(self.received.bodies):
            if path == "/v1/traces":
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                decoded.append(request)
        return decoded

    def metrics(self) -> list[metrics_service_pb2.ExportMetricsServiceRequest]:
        decoded = []
        for path, body in list(self.received.bodies):
            if path == "/v1/metrics":
                request = metrics_service_pb2.ExportMetricsServiceRequest()
                request.ParseFromString(body)
                decoded.append(request)
        return decoded


class AzureIngestion(_Server):
    """Application Insights ingestion: POST <endpoint>/v2.1/track, a JSON array of envelopes."""

    def reply(self, path: str, body: bytes) -> tuple[str, bytes]:
        count = len(_envelopes(body))
        answer = {"itemsReceived": count, "itemsAccepted": count, "errors": []}
        return "application/json", json.dumps(answer).encode()

    def envelopes(self) -> list[dict[str, Any]]:
        return [e for _, body in list(self.received.bodies) for e in _envelopes(body)]


def _envelopes(body: bytes) -> list[dict[str, Any]]:
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    document = json.loads(body)
    return document if isinstance(document, list) else [document]


def serve(server: _Server) -> Iterator[_Server]:
    """Run ``server`` on a thread for the duration of a fixture."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpGrpcReceiver) -> None:
        self.receiver = receiver

    def Export(  # noqa: N802 - the generated servicer's name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.receiver.record(request, context)
        self.receiver.traces.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpGrpcReceiver) -> None:
        self.receiver = receiver

    def Export(  # noqa: N802 - the generated servicer's name
        self,
        request: metrics_service_pb2.ExportMetricsServiceRequest,
        context: grpc.ServicerContext,
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        self.receiver.record(request, context)
        self.receiver.metrics.append(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class OtlpGrpcReceiver:
    """An OTLP/gRPC collector on loopback implementing the trace and metrics services."""

    def __init__(self) -> None:
        self.traces: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.received = Received()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _TraceService(self), self.server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _MetricsService(self), self.server
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def record(self, request: Any, context: grpc.ServicerContext) -> None:
        headers = {key: str(value) for key, value in context.invocation_metadata()}
        self.received.add("grpc", request.SerializeToString(), headers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def hanging_listener() -> socket.socket:
    """A socket that accepts connections (the kernel's backlog) but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock
