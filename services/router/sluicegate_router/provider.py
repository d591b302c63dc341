"""What the router needs from a provider client, and a holder that builds the real one off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sluicegate.catalog import Deployment
from sluicegate.common.v1 import chat_pb2
from sluicegate.runtime.logs import get_logger
from sluicegate_router.failures import Failure

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """A call in the OpenAI chat shape litellm takes: messages and generation parameters."""

    messages: list[dict[str, Any]]
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """A whole answer."""

    text: str
    tool_calls: list[chat_pb2.ToolCall]
    finish_reason: str | None
    usage: chat_pb2.Usage | None


@dataclass(frozen=True, slots=True)
class ProviderChunk:
    """One piece of a streamed answer; tool calls appear once they are complete, usage at the end."""

    text: str = ""
    tool_calls: list[chat_pb2.ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: chat_pb2.Usage | None = None


class Provider(Protocol):
    """Calls one deployment. Errors are raised as the client library raises them and classified by `classify`."""

    async def complete(self, deployment: Deployment, request: ProviderRequest) -> ProviderAnswer: ...

    async def stream(self, deployment: Deployment, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        """Opens the stream (errors before the first byte of the answer are raised here) and returns its chunks.

        Closing the returned iterator (`aclose`) must close the provider's HTTP response.
        """
        ...

    def classify(self, error: Exception) -> Failure | None:
        """The failure an exception stands for, or None when it is not a provider failure (a bug: re-raised)."""
        ...

    async def aclose(self) -> None:
        """Closes the provider's pooled HTTP clients."""
        ...


class LazyProvider:
    """A provider built in a worker thread at start-up (importing litellm takes seconds); calls wait for it."""

    def __init__(self, load: Callable[[], Provider]) -> None:
        self._loading: asyncio.Future[Provider] = asyncio.ensure_future(asyncio.to_thread(load))
        self._loading.add_done_callback(_log_load_failure)

    async def ready(self) -> bool:
        return self._loaded()

    def _loaded(self) -> bool:
        loading = self._loading
        return loading.done() and not loading.cancelled() and loading.exception() is None

    async def complete(self, deployment: Deployment, request: ProviderRequest) -> ProviderAnswer:
        return await (await self._provider()).complete(deployment, request)

    async def stream(self, deployment: Deployment, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        return await (await self._provider()).stream(deployment, request)

    def classify(self, error: Exception) -> Failure | None:
        return self._loading.result().classify(error) if self._loaded() else None

    async def aclose(self) -> None:
        if not self._loading.done():
            # The import thread cannot be stopped; the process waits for it to finish when it exits.
            self._loading.cancel()
        elif self._loaded():
            await self._loading.result().aclose()

    async def _provider(self) -> Provider:
        # shield: a cancelled call must not cancel the start-up load every other call waits for.
        return await asyncio.shield(self._loading)


class ProviderSwitch:
    """Sends each deployment to the lean OpenAI-compatible client or to litellm, which is imported (seconds of
    CPU, hundreds of MiB) only when some deployment needs it: at start-up if the catalog has one, else on first
    use."""

    def __init__(
        self,
        lean: Provider,
        uses_lean: Callable[[Deployment], bool],
        load_litellm: Callable[[], Provider],
        deployments: Iterable[Deployment],
    ) -> None:
        self._lean = lean
        self._uses_lean = uses_lean
        self._load_litellm = load_litellm
        self._litellm: LazyProvider | None = None
        self.prepare(deployments)

    async def ready(self) -> bool:
        return self._litellm is None or await self._litellm.ready()

    def prepare(self, deployments: Iterable[Deployment]) -> None:
        """Starts loading litellm now if one of these deployments (a reloaded catalog's) will need it."""
        if any(not self._uses_lean(deployment) for deployment in deployments):
            self._full()

    async def complete(self, deployment: Deployment, request: ProviderRequest) -> ProviderAnswer:
        if self._uses_lean(deployment):
            return await self._lean.complete(deployment, request)
        return await self._full().complete(deployment, request)

    async def stream(self, deployment: Deployment, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        if self._uses_lean(deployment):
            return await self._lean.stream(deployment, request)
        return await self._full().stream(deployment, request)

    def classify(self, error: Exception) -> Failure | None:
        failure = self._lean.classify(error)
        if failure is None and self._litellm is not None:
            failure = self._litellm.classify(error)
        return failure

    async def aclose(self) -> None:
        await self._lean.aclose()
        if self._litellm is not None:
            await self._litellm.aclose()

    def _full(self) -> LazyProvider:
        if self._litellm is None:
            self._litellm = LazyProvider(self._load_litellm)
        return self._litellm


def _log_load_failure(loading: asyncio.Future[Provider]) -> None:
    if not loading.cancelled() and loading.exception() is not None:
        log.error("the provider client failed to load; the router stays NOT_SERVING", exc_info=loading.exception())
