"""Streaming protocols for exec, attach and port-forward.

The kubelet serves them (``serve_exec``, ``serve_portforward``), the API
server relays them frame for frame (``relay``), and the CLI speaks their client side
(``exec_client``, ``portforward_client``). Sessions run over a ``Transport``,
so the same code sits behind a Starlette WebSocket or a ``websockets`` one.

Serving port-forward needs ``uvicorn.Config(..., ws=KubeWebSocketProtocol)``:
uvicorn's default refuses kubectl's ``SPDY/3.1+portforward.k8s.io`` offer.
"""

from machinery.streams.channels import negotiate_exec_protocol
from machinery.streams.client import exec_client, portforward_client, websocket_url
from machinery.streams.exec import ExecOptions, ExecProcess, report_exec_error, serve_exec
from machinery.streams.portforward import (
    SPDY_PORTFORWARD_PROTOCOL, negotiate_portforward_protocol, parse_ports, serve_portforward,
)
from machinery.streams.process import LocalProcess
from machinery.streams.transport import (
    StarletteTransport, Transport, TransportClosed, WebSocketsTransport, relay,
)
from machinery.streams.websocket import KubeWebSocketProtocol, connect_websocket

__all__ = [
    "Transport", "TransportClosed", "StarletteTransport", "WebSocketsTransport", "relay",
    "negotiate_exec_protocol", "negotiate_portforward_protocol", "SPDY_PORTFORWARD_PROTOCOL",
    "ExecProcess", "ExecOptions", "LocalProcess", "serve_exec", "report_exec_error",
    "serve_portforward", "parse_ports",
    "exec_client", "portforward_client", "websocket_url",
    "KubeWebSocketProtocol", "connect_websocket",
]
