"""WebhookNotifier: posts alert changes to a Slack-compatible webhook from its own task, never from the evaluator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import aiohttp

from sluicegate.runtime.logs import get_logger
from sluicegate_observer.alerts import Alert

log = get_logger(__name__)

SENT = "sent"
FAILED = "failed"
DROPPED = "dropped"


def slack_text(alert: Alert) -> str:
    """One line a person reads in a chat channel: state, rule, subject, what was measured."""
    state = "FIRING" if alert.is_firing else "RESOLVED"
    return f"[{state}] {alert.rule} ({alert.subject}): {alert.description}"


class WebhookNotifier:
    """Queues alert changes (bounded: when full, new ones are dropped and counted) and posts each as
    `{"text": ...}` with a timeout, retrying failures with doubling backoff. `count(outcome)` is told of every
    sent, failed (after the last retry) and dropped notification."""

    def __init__(
        self,
        url: str,
        count: Callable[[str], None],
        timeout_seconds: float,
        retries: int,
        backoff_seconds: float,
        queue_size: int = 1000,
    ) -> None:
        self._url = url
        self._count = count
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._retries = retries
        self._backoff_seconds = backoff_seconds
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=queue_size)

    def notify(self, alerts: Iterable[Alert]) -> None:
        """Never waits: the evaluator calls it on the event loop."""
        for alert in alerts:
            try:
                self._queue.put_nowait(alert)
            except asyncio.QueueFull:
                self._count(DROPPED)

    async def run(self) -> None:
        """Sends queued notifications, one at a time and in order, for the server's lifetime."""
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            while True:
                alert = await self._queue.get()
                self._count(SENT if await self._post(session, alert) else FAILED)

    async def _post(self, session: aiohttp.ClientSession, alert: Alert) -> bool:
        payload = {"text": slack_text(alert)}
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff_seconds * 2 ** (attempt - 1))
            try:
                async with session.post(self._url, json=payload) as response:
                    if response.status < 300:
                        return True
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = type(exc).__name__
            log.warning("alert webhook failed", attempt=attempt + 1, problem=problem, rule=alert.rule)
        return False
