"""The ``channel.k8s.io`` WebSocket framing shared by exec, attach and port-forward.

Each binary message is one channel byte followed by the payload
(apimachinery ``util/httpstream/wsstream``). Exec uses fixed channel numbers
(``util/remotecommand/constants.go``); v4 turned the error channel into a
JSON ``Status`` carrying the exit code, v5 added the CLOSE signal that lets a
client half-close stdin. Both the server (kubelet) and the client (CLI) build
and parse these bytes, so the encoding lives here once.
"""

from __future__ import annotations

import json
from typing import Any

from machinery.errors import ApiError, from_status

__all__ = [
    "STDIN", "STDOUT", "STDERR", "ERROR", "RESIZE", "CLOSE",
    "V5_PROTOCOL", "V4_PROTOCOL", "V1_PROTOCOL", "EXEC_PROTOCOLS",
    "encode_frame", "decode_frame", "negotiate_exec_protocol",
    "success_status", "exit_code_status", "failure_status", "status_payload",
    "exit_code_from_status",
]

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255

V5_PROTOCOL = "v5.channel.k8s.io"
V4_PROTOCOL = "v4.channel.k8s.io"
V1_PROTOCOL = "channel.k8s.io"

# Server preference, newest first. "" is what a client that offers nothing gets:
# the kubelet then speaks the original channel.k8s.io dialect.
EXEC_PROTOCOLS: tuple[str, ...] = (V5_PROTOCOL, V4_PROTOCOL, V1_PROTOCOL)

_NON_ZERO_EXIT = "NonZeroExitCode"
_EXIT_CODE_CAUSE = "ExitCode"


def encode_frame(channel: int, payload: bytes = b"") -> bytes:
    return bytes((channel,)) + payload


def decode_frame(message: bytes) -> tuple[int, bytes]:
    """Split a message into (channel, payload); an empty message is a protocol error."""
    if not message:
        raise ValueError("empty channel message")
    return message[0], message[1:]


def negotiate_exec_protocol(offered: list[str]) -> str | None:
    """Pick the subprotocol for an exec/attach WebSocket, or None if nothing fits.

    Returns "" when the client offered none (the legacy channel.k8s.io framing,
    answered without a Sec-WebSocket-Protocol header).
    """
    wanted = [p.strip() for p in offered if p.strip()]
    if not wanted:
        return ""
    for protocol in EXEC_PROTOCOLS:
        if protocol in wanted:
            return protocol
    return None


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(code: int) -> dict[str, Any]:
    """The Status kubectl turns into ``command terminated with exit code N``."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "reason": _NON_ZERO_EXIT,
        "details": {"causes": [{"reason": _EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def failure_status(message: str, *, reason: str = "InternalError", code: int = 500) -> dict[str, Any]:
    """A session that could not run at all (no such container, runtime error)."""
    return {"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}


def status_payload(protocol: str, status: dict[str, Any]) -> bytes | None:
    """What goes on the error channel for ``status`` under ``protocol``.

    v4 and v5 carry the JSON Status; the older dialects carry only the failure
    message as text and nothing at all on success.
    """
    if protocol in (V5_PROTOCOL, V4_PROTOCOL):
        return json.dumps(status, separators=(",", ":")).encode()
    if status.get("status") == "Success":
        return None
    return str(status.get("message") or "error").encode()


def exit_code_from_status(protocol: str, payload: bytes) -> int:
    """The remote exit code from an error-channel payload.

    An empty payload means success (a server may close without a status). A
    failure other than a non-zero exit is raised as the matching ``ApiError``.
    """
    if not payload.strip():
        return 0
    if protocol not in (V5_PROTOCOL, V4_PROTOCOL):
        raise ApiError(payload.decode(errors="replace"))
    try:
        status = json.loads(payload)
    except ValueError as exc:
        raise ApiError(f"error stream carried invalid status: {payload!r}") from exc
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == _NON_ZERO_EXIT:
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == _EXIT_CODE_CAUSE:
                try:
                    return int(cause.get("message", ""))
                except ValueError:
                    break
    raise from_status({"kind": "Status", **status}, int(status.get("code") or 500))
