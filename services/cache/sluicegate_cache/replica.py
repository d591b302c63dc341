"""Keeps this replica's in-process vector indexes equal to the semantic records in Redis.

Every change to a tenant's records (store, eviction, invalidation, expiry purge) is made by a Lua script that
also publishes it with the tenant's next sequence number (see scripts.py). A replica loads a tenant's records
the first time it is asked about the tenant, then applies the published changes in order. It reloads the tenant
when it misses a number (a gap) and when its subscription is re-established (messages may have been lost while
it was down). Before each search it knows the tenant's sequence number as Redis held it when the lookup began
(the exact layer's script reads it with the entry; without an exact layer, one GET): if Redis is ahead, it
waits for the changes in flight, and reloads when none comes for a moment (the last message was lost). So a
replica never answers from an index older than the moment the lookup began, and replicas answer alike, except
that a lookup waits for a (re)load at most `load_wait_seconds` (50 ms): it is then left to the exact layer, and
the load goes on. A semantic hit missed that way costs a provider call, never a wrong answer.
Expired records are dropped locally by their expiry time, since Redis expires entries silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.redis import follow_channel
from sluicegate_cache.layout import TenantKeys
from sluicegate_cache.scripts import INDEX_CHANNEL
from sluicegate_cache.vectors import SemanticRecord, TenantIndex

log = get_logger(__name__)

# Records read per HSCAN call. The event loop indexes each batch between two reads (about 5 ms for 250 here), so
# while a tenant loads (about 0.2 s for 10,000 questions) other requests wait at most that long at a time.
_LOAD_BATCH = 250


@dataclass
class _TenantState:
    index: TenantIndex = field(default_factory=TenantIndex)
    sequence: int = 0
    loaded: bool = False
    loading: bool = False
    buffered: list[tuple[int, bytes, str, bytes]] = field(default_factory=list)
    # The load under way (or the last one): lookups share it.
    load: asyncio.Task | None = None
    advanced: asyncio.Event = field(default_factory=asyncio.Event)

    def note_advance(self) -> None:
        """Wakes every lookup waiting for this tenant's changes; later waiters get a fresh event."""
        self.advanced.set()
        self.advanced = asyncio.Event()


def _log_failed_load(load: asyncio.Task) -> None:
    """A load no lookup waited to the end of still reports its failure (the next lookup starts another)."""
    if not load.cancelled() and isinstance(load.exception(), RedisError):
        log.warning("tenant index load failed", error=type(load.exception()).__name__)


class ReplicaIndex:
    """The tenants' indexes this replica has loaded, kept in step with Redis."""

    def __init__(
        self,
        redis: aioredis.Redis,
        check_interval_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
        catch_up_seconds: float = 0.05,
        load_wait_seconds: float = 0.05,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._check_interval = check_interval_seconds
        self._catch_up_seconds = catch_up_seconds
        self._load_wait_seconds = load_wait_seconds
        self._tenants: dict[str, _TenantState] = {}
        self._subscribed = asyncio.Event()
        # Set once the first attempt to follow the channel has ended either way: until then (the process is
        # starting) a lookup waits for the subscription; after, one that finds the channel down never does.
        self._first_attempt_over = asyncio.Event()

    def held(self, tenant_id: str) -> TenantIndex | None:
        """The tenant's index as this replica holds it now (maybe behind Redis), or None when not loaded."""
        state = self._tenants.get(tenant_id)
        return state.index if state is not None and state.loaded else None

    async def tenant(self, tenant_id: str, latest: int | None = None) -> TenantIndex | None:
        """The tenant's index, loaded (or reloaded after a gap) first when needed; None while this replica is not
        following the change channel (it could not keep an index current, so it serves exact hits only, at once:
        only a process still making its first subscription waits for it, up to `check_interval_seconds`), and while
        a load takes longer than `load_wait_seconds` (a large tenant: about 0.2 s for 10,000 questions): that
        lookup is left to the exact layer, and the load goes on for the lookups after it. `latest` is the tenant's
        sequence number as the lookup already read it (the exact layer reads it with the entry); without it, it is
        read here."""
        if not self._subscribed.is_set():
            if self._first_attempt_over.is_set():
                return None
            await self._first_subscription()
            if not self._subscribed.is_set():
                return None
        state = self._tenants.setdefault(tenant_id, _TenantState())
        if state.loaded:
            await self._catch_up(tenant_id, state, latest)
        if not state.loaded:
            if state.load is None or state.load.done():
                state.load = asyncio.ensure_future(self._load(tenant_id, state))
                state.load.add_done_callback(_log_failed_load)
            done, _ = await asyncio.wait({state.load}, timeout=self._load_wait_seconds)
            if not done:
                return None
            state.load.result()  # a load that failed fails this lookup (Redis errors become UNAVAILABLE)
        return state.index

    async def _first_subscription(self) -> None:
        """Waits (at most `check_interval_seconds`) for the first subscription or the first attempt's failure."""
        waits = [asyncio.ensure_future(self._subscribed.wait()), asyncio.ensure_future(self._first_attempt_over.wait())]
        try:
            await asyncio.wait(waits, timeout=self._check_interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _catch_up(self, tenant_id: str, state: _TenantState, latest: int | None) -> None:
        """Waits until the index holds every change Redis had made when the lookup began (`latest`, read now when
        not given). Changes still arriving are waited for; when none arrives for `catch_up_seconds`, one was lost
        and the index is marked stale."""
        if latest is None:
            latest = int(await self._redis.get(TenantKeys(tenant_id).sequence) or 0)
        while state.loaded and state.sequence < latest:
            before = state.sequence
            try:
                await asyncio.wait_for(state.advanced.wait(), self._catch_up_seconds)
            except TimeoutError:
                if state.sequence == before:
                    state.loaded = False

    async def run(self) -> None:
        """Follows the change channel and sweeps expired records until cancelled; reconnects after Redis errors."""
        sweeper = asyncio.ensure_future(self._sweep_expired())
        try:
            while True:
                try:
                    await self._follow()
                except RedisError as exc:
                    log.warning("index change channel lost", error=type(exc).__name__)
                    self._subscribed.clear()
                    self._first_attempt_over.set()
                    self._mark_all_stale()
                    await asyncio.sleep(self._check_interval)
        finally:
            sweeper.cancel()
            for state in self._tenants.values():
                if state.load is not None:
                    state.load.cancel()

    async def _follow(self) -> None:
        # A PING every check interval: a connection that died silently (no FIN, no RST) ends the follow within
        # an interval and the Redis timeout, and the replica subscribes again.
        await follow_channel(
            self._redis, INDEX_CHANNEL, self._apply_message, self._on_subscribed, ping_seconds=self._check_interval
        )

    def _on_subscribed(self) -> None:
        # Changes published while this replica was not subscribed are lost: reload what is loaded.
        self._mark_all_stale()
        self._subscribed.set()
        self._first_attempt_over.set()

    def _apply_message(self, data: bytes) -> None:
        tenant, number, op, entry_id, record = data.split(b" ", 4)
        state = self._tenants.get(tenant.decode())
        if state is None:
            return
        change = (int(number), op, entry_id.decode(), record)
        if state.loading:
            state.buffered.append(change)
        elif state.loaded:
            self._apply(state, change)

    def _apply(self, state: _TenantState, change: tuple[int, bytes, str, bytes]) -> None:
        number, op, entry_id, record = change
        if number <= state.sequence:
            return
        if number != state.sequence + 1:
            state.loaded = False
            state.note_advance()
            return
        if op == b"a":
            state.index.put(entry_id, SemanticRecord.decode(record))
        else:
            state.index.remove(entry_id)
        state.sequence = number
        state.note_advance()

    async def _load(self, tenant_id: str, state: _TenantState) -> None:
        """Reads the tenant's records; changes published meanwhile are buffered and applied after."""
        keys = TenantKeys(tenant_id)
        state.loading, state.buffered = True, []
        try:
            sequence = int(await self._redis.get(keys.sequence) or 0)
            index = TenantIndex()
            async for entry_id, record in self._redis.hscan_iter(keys.vectors, count=_LOAD_BATCH):
                index.put(entry_id.decode(), SemanticRecord.decode(record))
        finally:
            state.loading = False
        state.index, state.sequence, state.loaded = index, sequence, True
        for change in state.buffered:
            self._apply(state, change)
        state.buffered = []
        state.index.forget_expired(int(self._clock() * 1000))

    def _mark_all_stale(self) -> None:
        for state in self._tenants.values():
            state.loaded = False

    async def _sweep_expired(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval)
            now_ms = int(self._clock() * 1000)
            for state in list(self._tenants.values()):
                if state.loaded:
                    state.index.forget_expired(now_ms)
