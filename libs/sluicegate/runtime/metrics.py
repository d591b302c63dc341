"""A Prometheus `/metrics` endpoint any service can open beside its gRPC port, on its own registry."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from sluicegate.runtime.server import ServiceApp


def serve_metrics(app: ServiceApp, registry: CollectorRegistry, host: str, port: int) -> int:
    """Serves `registry` on http://host:port/metrics from a thread (port 0 picks one); returns the bound port.

    Scrapes never touch the event loop: collectors read the service's state when Prometheus asks.
    """
    server, thread = start_http_server(port, addr=host, registry=registry)
    assert isinstance(server, WSGIServer) and isinstance(thread, threading.Thread)

    async def stop() -> None:
        server.shutdown()
        server.server_close()

    app.on_shutdown(stop)
    return server.server_port
