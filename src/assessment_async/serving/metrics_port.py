"""GET /metrics on a port of its own (METRICS_PORT, bound to METRICS_HOST), never on the API's
port: Prometheus text exposition for the scraper inside the network, not for the internet.

The listener runs in the app's own event loop, under Hypercorn's asyncio server (a dependency
already), for as long as the app serves. With several workers each binds the port with
SO_REUSEPORT and any of them answers for all (PROMETHEUS_MULTIPROC_DIR, set by the CLI).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncGenerator
from typing import Any

from quart import Quart

from assessment_async.infra.metrics import exposition

NOT_FOUND = b"Only GET /metrics is served on this port.\n"


async def metrics_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
        status, (body, content_type) = 200, exposition()
    else:
        status, body, content_type = 404, NOT_FOUND, "text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # one per worker
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"METRICS_PORT {port} on {host}: {error.strerror}") from None
    sock.listen(64)
    return sock


def serve_metrics_port(app: Quart, host: str, port: int) -> None:
    """Serve /metrics on host:port while the app serves."""

    @app.while_serving
    async def _metrics_listener() -> AsyncGenerator[None, None]:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        sock = listening_socket(host, port)
        config = Config()
        config.bind = [f"fd://{sock.fileno()}"]
        config.accesslog = config.errorlog = None
        stop = asyncio.Event()
        task = asyncio.create_task(serve(metrics_app, config,  # type: ignore[arg-type]
                                         shutdown_trigger=stop.wait))
        try:
            yield
        finally:
            stop.set()
            await task
            # Hypercorn closed the listening socket (it served a socket object of its own on
            # the same descriptor): let go of ours without closing the number a second time.
            sock.detach()
