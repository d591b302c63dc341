"""Alerts end to end: slow traffic fires over the service, the webhook hears it, ListAlerts and /metrics agree."""

from __future__ import annotations

import asyncio

from aiohttp import web
from observer_harness import ADMIN, START, eventually, observer_serving, trace

from sluicegate.observer.v1 import observer_pb2


async def test_alert_changes_reach_the_webhook_and_are_counted():
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack"
    clock = [START]
    try:
        async with observer_serving(clock, alert_webhook_url=url, alert_webhook_timeout_seconds=2) as observer:
            await observer.record([trace(f"slow-{i}", model="gpt-4o", duration_ms=9000.0) for i in range(20)])
            await eventually(lambda: asyncio.sleep(0, len(received) == 1))
            listed = await observer.query.ListAlerts(observer_pb2.ListAlertsRequest(), metadata=ADMIN)

            clock[0] = START + 301
            await eventually(lambda: asyncio.sleep(0, len(received) == 2))
            samples = await observer.samples()
    finally:
        await runner.cleanup()

    assert [(alert.rule, alert.subject) for alert in listed.alerts] == [("latency_p95_high", "gpt-4o")]
    assert received[0]["text"].startswith("[FIRING] latency_p95_high (gpt-4o): p95 latency of gpt-4o is 9.00 s")
    assert received[1]["text"].startswith("[RESOLVED] latency_p95_high (gpt-4o)")
    assert samples[("sluicegate_observer_alert_notifications_total", frozenset({("outcome", "sent")}))] == 2
