"""`market serve` answers keep-alive requests without waiting for the client's delayed ACK.

With several workers uvicorn binds the listening socket itself with `proto` 0, and asyncio then
leaves Nagle's algorithm on for the sockets it accepts; core.http.NoDelayHTTPProtocol (the
protocol `market serve` passes to uvicorn) turns it off on every connection.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.config import Config
from uvicorn.server import ServerState

from core.http import NoDelayHTTPProtocol


async def _empty_app(scope, receive, send):  # pragma: no cover - never called
    raise AssertionError("no request is sent")


async def _nodelay_of_accepted_connection(protocol_class) -> int:
    config = Config(_empty_app, http=protocol_class, lifespan="off")
    config.load()
    state = ServerState()
    seen: list[int] = []

    class Probe(protocol_class):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    # As uvicorn binds for several workers: family and type given, proto left 0.
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Probe(config=config, server_state=state, app_state={}), sock=listening
    )
    try:
        _, writer = await asyncio.open_connection(*listening.getsockname())
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
    finally:
        for connection in list(state.connections):
            connection.shutdown()
        server.close()
        await server.wait_closed()
    assert seen, "no connection was accepted"
    return seen[0]


async def test_accepted_connections_have_nodelay():
    assert await _nodelay_of_accepted_connection(NoDelayHTTPProtocol) != 0


def test_market_serve_uses_the_nodelay_protocol(monkeypatch):
    import uvicorn

    from core import cli

    started: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    cli.get_settings.cache_clear()
    try:
        cli.serve(host="127.0.0.1", port=8000, workers=2, reload=False, forwarded_allow_ips="127.0.0.1")
    finally:
        cli.get_settings.cache_clear()
    assert started[0]["http"] == "core.http:NoDelayHTTPProtocol"
    assert started[0]["workers"] == 2
