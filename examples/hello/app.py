"""Hello-world web app for k8py examples.

Listens on $PORT (8080), answers every path with
``Hello from <hostname> (version <HELLO_VERSION>)`` and ``/healthz`` with ``ok``.
Uses only what Debian's python3-minimal ships (no http.server there), so the
image stays small.  Exits 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

VERSION = os.environ.get("HELLO_VERSION", "dev")
PORT = int(os.environ.get("PORT", "8080"))
HOSTNAME = socket.gethostname()


def respond(conn: socket.socket, status: str, body: bytes) -> None:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    conn.sendall(head.encode() + body)


def handle(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            parts = data.split(b"\r\n", 1)[0].split()
            if len(parts) < 2:
                respond(conn, "400 Bad Request", b"bad request\n")
                return
            method, path = parts[0].decode(), parts[1].decode().split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                respond(conn, "405 Method Not Allowed", b"method not allowed\n")
            elif path == "/healthz":
                respond(conn, "200 OK", b"ok\n")
            else:
                respond(conn, "200 OK", f"Hello from {HOSTNAME} (version {VERSION})\n".encode())
            print(f"{method} {path}", flush=True)
        except OSError:
            pass


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    srv = socket.create_server(("", PORT), family=socket.AF_INET6, dualstack_ipv6=True) \
        if socket.has_dualstack_ipv6() else socket.create_server(("", PORT))
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    print(f"hello {VERSION} listening on :{PORT}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
