"""MetricsHttpServer: `/metrics` (Prometheus), `/healthz` and the dashboard, served with aiohttp in-process."""

from __future__ import annotations

import asyncio
from importlib import resources

from aiohttp import web

from sluicegate.runtime.logs import get_logger
from sluicegate_observer.dashboard import DashboardData, dashboard_json, parse_range_seconds
from sluicegate_observer.metrics import TraceMetrics

log = get_logger(__name__)

STATIC = resources.files("sluicegate_observer") / "static"
DEFAULT_RANGE_MINUTES = 60.0
MAX_RANGE_MINUTES = 24 * 60.0


class MetricsHttpServer:
    """Serves the metrics registry and the dashboard over HTTP beside the gRPC server, on the same event loop.

    `GET /` and `GET /dashboard`: the dashboard page (its script and style under `/static/`, bundled in the
    package, so it works with no internet); `GET /api/dashboard?minutes=N`: the JSON it draws.
    """

    def __init__(self, metrics: TraceMetrics, dashboard: DashboardData, host: str, port: int) -> None:
        self._metrics = metrics
        self._dashboard = dashboard
        self._host = host
        self._requested_port = port
        app = web.Application()
        app.router.add_get("/metrics", self._serve_metrics)
        app.router.add_get("/healthz", self._serve_health)
        app.router.add_get("/", self._serve_page)
        app.router.add_get("/dashboard", self._serve_page)
        app.router.add_get("/api/dashboard", self._serve_dashboard_json)
        app.router.add_static("/static/", str(STATIC))
        self._runner = web.AppRunner(app, access_log=None)
        self.port = 0

    @property
    def serving(self) -> bool:
        return bool(self._runner.addresses)

    async def start(self) -> None:
        """Binds (port 0 picks a free one, logged) and starts serving; raises OSError when the port is taken."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._requested_port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]
        log.info("metrics http listening", host=self._host, port=self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        # Rendering takes ~25 ms for 1,700 lines here and grows with the label sets, so it runs in a thread
        # (prometheus_client's metrics are thread-safe) while the event loop keeps ingesting.
        body, content_type = await asyncio.to_thread(self._metrics.render, request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _serve_health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _serve_page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "dashboard.html")

    async def _serve_dashboard_json(self, request: web.Request) -> web.Response:
        range_seconds = parse_range_seconds(request.query.get("minutes"), DEFAULT_RANGE_MINUTES, MAX_RANGE_MINUTES)
        # The buffer is copied on the loop (ingest mutates it there); the aggregation runs in a thread.
        snapshot = self._dashboard.snapshot(range_seconds)
        body = await asyncio.to_thread(dashboard_json, *snapshot)
        return web.json_response(body, headers={"Cache-Control": "no-store"})
