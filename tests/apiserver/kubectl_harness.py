"""A throwaway HTTP server answering what the real kubectl asks first.

It serves ``/version``, aggregated discovery and ``/openapi/v3`` from the
apiserver's own builders, hands every other GET to a test-supplied function
and records writes (answering them 403), so a test can run the installed
kubectl 1.32 against k8py's read-side documents without etcd or the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from apiserver.discovery import AGGREGATED_CONTENT_TYPE, aggregated_discovery
from apiserver.openapi import openapi_v3_document, openapi_v3_index

# A GET handler returns (body, content type), or None for a 404.
GetHandler = Callable[[str, str], tuple[Any, str] | None]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": reason,
            "code": code, "message": message}


@dataclass
class Harness:
    port: int
    cache: Path
    config: Path
    writes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    on_get: GetHandler = lambda path, query: None

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", f"--server=http://127.0.0.1:{self.port}", f"--cache-dir={self.cache}", *args],
            capture_output=True, text=True, env={**os.environ, "KUBECONFIG": str(self.config)}, timeout=60,
        )


def _handler(harness_ref: list[Harness]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path, _, query = self.path.partition("?")
            fixed: dict[str, tuple[Any, str]] = {
                "/version": ({"major": "1", "minor": "32", "gitVersion": "v1.32.4"}, "application/json"),
                "/api": (aggregated_discovery(True), AGGREGATED_CONTENT_TYPE),
                "/apis": (aggregated_discovery(False), AGGREGATED_CONTENT_TYPE),
                "/openapi/v3": (openapi_v3_index(), "application/json"),
            }
            if path in fixed:
                return self._send(200, *fixed[path])
            if path.startswith("/openapi/v3/") and (doc := openapi_v3_document(path)) is not None:
                return self._send(200, doc)
            answer = harness_ref[0].on_get(path, query)
            if answer is None:
                return self._send(404, _status(404, "NotFound", "not found"))
            self._send(200, *answer)

        def _write(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            harness_ref[0].writes.append((self.command, self.path, body))
            self._send(403, _status(403, "Forbidden", "recorded"))

        do_POST = do_PATCH = do_PUT = _write

    return Handler


@contextmanager
def kubectl_harness(tmp_path: Path) -> Iterator[Harness]:
    ref: list[Harness] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    ref.append(Harness(server.server_address[1], tmp_path / "cache", tmp_path / "kubeconfig"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ref[0]
    finally:
        server.shutdown()
        server.server_close()
