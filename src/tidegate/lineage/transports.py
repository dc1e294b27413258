"""Where OpenLineage events go: openlineage-python transports made from the ``lineage:`` spec.

``file`` appends one JSON event per line (openlineage-python's ``FileTransport`` in append
mode), ``http`` POSTs to a Marquez-compatible API (its ``HttpTransport``: ``{url}/{endpoint}``,
bearer token from ``api_key``, bounded timeout and retries) and ``console`` writes one JSON
line per event on standard error. Every transport is openlineage-python's ``Transport``, so the
listener sends through any of them the same way.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)

from tidegate.spec.lineage import FileTransportSpec

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.spec.lineage import LineageSpec, TransportSpec

__all__ = ["StreamTransport", "build_transport", "build_transports"]


class StreamTransport(Transport):
    """One JSON event per line on a text stream: standard error unless another is given."""

    kind = "tidegate-console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def emit(self, event: Any) -> None:
        """Write ``event`` as one line and flush, so a tail -f sees it at once."""
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write(Serde.to_json(event) + "\n")
        stream.flush()


def build_transport(spec: TransportSpec, base_dir: Path) -> Transport:
    """The openlineage-python transport of one ``lineage.transports`` entry."""
    if spec.type == "console":
        return StreamTransport()
    if spec.type == "file":
        path = base_dir / spec.path
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileTransport(FileConfig(log_file_path=str(path), append=True))
    auth: TokenProvider = (
        ApiKeyTokenProvider({"apiKey": spec.api_key.get_secret_value()})
        if spec.api_key is not None
        else TokenProvider({})
    )
    retry = {
        "total": spec.retries,
        "read": spec.retries,
        "connect": spec.retries,
        "backoff_factor": 0.3,
        "status_forcelist": [500, 502, 503, 504],
        "allowed_methods": ["POST"],
    }
    return HttpTransport(
        HttpConfig(
            url=spec.url,
            endpoint=spec.endpoint,
            timeout=spec.timeout_seconds,
            verify=spec.verify,
            auth=auth,
            retry=retry,
        )
    )


def build_transports(spec: LineageSpec, base_dir: Path) -> dict[str, Transport]:
    """Every transport of the ``lineage:`` section by name; the default file when none."""
    if not spec.transports:
        return {"file": build_transport(FileTransportSpec(type="file"), base_dir)}
    return {name: build_transport(item, base_dir) for name, item in spec.transports.items()}
