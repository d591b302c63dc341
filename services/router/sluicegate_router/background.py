"""A value built in a worker thread at start-up (a model, litellm): readiness waits for it, callers check for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from sluicegate.runtime.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")


class BackgroundLoad(Generic[T]):
    """Starts `load` in a worker thread at once (nothing to load when it is None). A failed load is logged and
    leaves the value missing, so the router stays NOT_SERVING."""

    def __init__(self, what: str, load: Callable[[], T] | None) -> None:
        self._what = what
        self._loading: asyncio.Future[T] | None = None
        if load is not None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(load))
            self._loading.add_done_callback(self._log_failure)

    async def ready(self) -> bool:
        return self._loading is None or self.value() is not None

    def value(self) -> T | None:
        """The loaded value; None while loading, after a failure, or when there is nothing to load."""
        loading = self._loading
        if loading is None or not loading.done() or loading.cancelled() or loading.exception() is not None:
            return None
        return loading.result()

    async def aclose(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()

    def _log_failure(self, loading: asyncio.Future[T]) -> None:
        if not loading.cancelled() and loading.exception() is not None:
            log.error(f"{self._what} failed to load; the router stays NOT_SERVING", exc_info=loading.exception())
