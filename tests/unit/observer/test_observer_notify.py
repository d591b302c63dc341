"""The alert webhook: Slack-compatible JSON, retries with a timeout, and every outcome counted."""

from __future__ import annotations

import asyncio
import collections
import contextlib

import pytest
from aiohttp import web

from sluicegate_observer.alerts import Alert
from sluicegate_observer.notify import DROPPED, FAILED, SENT, WebhookNotifier

FIRING = Alert("latency_p95_high", "gpt-4o", 8.0, 5.0, "p95 latency of gpt-4o is 8.00 s", fired_at=1.0)
RESOLVED = Alert("error_rate_high", "fast", 0.0, 0.01, "errors are back to normal", fired_at=1.0, resolved_at=2.0)


class Webhook:
    """A webhook receiver on a free port that answers with the statuses it is given (then 200), or hangs."""

    def __init__(self, statuses: list[int] | None = None, hang_seconds: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.hang_seconds = hang_seconds
        self.received: list[dict] = []
        self.attempts = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.hang_seconds:
            await asyncio.sleep(self.hang_seconds)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append(await request.json())
        return web.Response(status=status)


@contextlib.asynccontextmanager
async def receiving(webhook: Webhook):
    app = web.Application()
    app.router.add_post("/hook", webhook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    webhook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield webhook
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def notifying(url: str, retries: int = 2, timeout_seconds: float = 2.0, queue_size: int = 100):
    counts: collections.Counter[str] = collections.Counter()
    notifier = WebhookNotifier(url, lambda outcome: counts.update([outcome]), timeout_seconds, retries, 0.0, queue_size)
    notifier.counts = counts
    task = asyncio.ensure_future(notifier.run())
    try:
        yield notifier
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(predicate, timeout_seconds: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)


async def test_alert_changes_are_posted_as_slack_text_in_order():
    async with receiving(Webhook()) as hook, notifying(hook.url) as notifier:
        notifier.notify([FIRING, RESOLVED])
        await until(lambda: notifier.counts[SENT] == 2)

    assert hook.received == [
        {"text": "[FIRING] latency_p95_high (gpt-4o): p95 latency of gpt-4o is 8.00 s"},
        {"text": "[RESOLVED] error_rate_high (fast): errors are back to normal"},
    ]


async def test_a_failing_webhook_is_retried_until_it_answers():
    async with receiving(Webhook(statuses=[500, 503])) as hook, notifying(hook.url, retries=2) as notifier:
        notifier.notify([FIRING])
        await until(lambda: notifier.counts[SENT] == 1)

    assert hook.attempts == 3
    assert len(hook.received) == 1
    assert notifier.counts[FAILED] == 0


@pytest.mark.parametrize("webhook", [Webhook(statuses=[500] * 10), Webhook(hang_seconds=2.0)], ids=["5xx", "timeout"])
async def test_a_webhook_that_keeps_failing_is_given_up_on_and_counted(webhook):
    # The timeout is long enough for each attempt to reach the (hanging) webhook on a loaded machine.
    async with (
        receiving(webhook) as hook,
        notifying(hook.url, retries=1, timeout_seconds=0.5) as notifier,
    ):
        notifier.notify([FIRING])
        await until(lambda: notifier.counts[FAILED] == 1)

    assert hook.attempts == 2
    assert hook.received == []


async def test_a_full_queue_drops_and_counts_instead_of_waiting():
    async with notifying("http://127.0.0.1:9/unreachable", retries=0, queue_size=2) as notifier:
        notifier.notify([FIRING] * 5)

        assert notifier.counts[DROPPED] == 3
