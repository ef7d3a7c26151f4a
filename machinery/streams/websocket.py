"""WebSocket plumbing that tolerates Kubernetes' subprotocol names.

kubectl asks for the subprotocol ``SPDY/3.1+portforward.k8s.io``; the ``/``
is not an RFC 7230 token character, and the ``websockets`` package (behind
uvicorn's default WebSocket implementation, and behind its own client)
rejects the whole handshake with 400 ("expected comma"). Go's gorilla
WebSocket, used by the real apiserver and kubelet, only splits on commas.
So every k8py process that serves port-forward runs uvicorn with
``ws=KubeWebSocketProtocol``, and every hop that dials one uses
``connect_websocket``.
"""

from __future__ import annotations

import json
import ssl as ssl_module
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeader, InvalidStatus, NegotiationError
from websockets.typing import Subprotocol

from machinery.errors import from_status

__all__ = ["KubeWebSocketProtocol", "connect_websocket", "split_subprotocols"]


def split_subprotocols(values: list[str]) -> list[str]:
    """Sec-WebSocket-Protocol header values split the way Go's gorilla does it."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


class KubeWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's default WebSocket protocol without the strict subprotocol parse.

    uvicorn already hands the offered subprotocols to the app (split on commas)
    and writes the accepted one into the response itself, so the handshake
    layer has nothing to select.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.process_subprotocol = _select_nothing  # type: ignore[method-assign]


def _select_nothing(headers: Headers) -> Subprotocol | None:
    return None


def _client_connection_for(offered: list[str]) -> type[ClientConnection]:
    """A connection class whose handshake accepts any offered name, tokens or not.

    The offer goes out as a plain header, since the package refuses to send
    such names itself; the reply is checked here the way gorilla checks it.
    """

    def accepted(headers: Headers) -> Subprotocol | None:
        chosen = split_subprotocols(headers.get_all("Sec-WebSocket-Protocol"))
        if not chosen:
            return None
        if len(chosen) > 1:
            raise InvalidHeader("Sec-WebSocket-Protocol", f"multiple values: {', '.join(chosen)}")
        if chosen[0] not in offered:
            raise NegotiationError(f"unsupported subprotocol: {chosen[0]}")
        return Subprotocol(chosen[0])

    class LenientClientConnection(ClientConnection):
        def __init__(self, protocol: ClientProtocol, **kwargs: Any) -> None:
            protocol.process_subprotocol = accepted  # type: ignore[method-assign]
            super().__init__(protocol, **kwargs)

    return LenientClientConnection


async def connect_websocket(
    url: str,
    headers: dict[str, str],
    protocols: list[str],
    *,
    ssl: ssl_module.SSLContext | None = None,
) -> ClientConnection:
    """Open a WebSocket offering ``protocols``; a refused upgrade raises its Status error.

    The Status body of a non-101 reply (say 404 for a missing pod) becomes the
    matching ``ApiError``, so callers report it as kubectl would.
    """
    offer = dict(headers)
    if protocols:
        offer["Sec-WebSocket-Protocol"] = ", ".join(protocols)
    try:
        return await connect(
            url, additional_headers=offer, max_size=None, compression=None, ssl=ssl,
            create_connection=_client_connection_for(protocols),
        )
    except InvalidStatus as exc:
        response = exc.response
        body = bytes(response.body or b"")
        try:
            status: Any = json.loads(body)
        except ValueError:
            status = None
        raise from_status(status, response.status_code, body.decode(errors="replace")) from exc
