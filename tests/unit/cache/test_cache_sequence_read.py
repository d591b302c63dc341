"""A lookup reads the tenant's change sequence number with its exact entry, in one round trip, and the semantic
layer's index still answers from at least that moment: a paraphrase of a question another replica stored just
before is a hit, with no read of the sequence of the index's own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from cache_builders import POLICY, FakeClock, answer, conversation, semantic_layer

from sluicegate.common.v1 import chat_pb2
from sluicegate.embedding import SentenceEmbedder
from sluicegate_cache.counters import HitCounters
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.layout import TenantKeys
from sluicegate_cache.results import Outcome
from sluicegate_cache.service import CacheService

NO_CONTROL = chat_pb2.CacheControl()


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[aioredis.Redis]]:
    made = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    yield made
    for client in made:
        await client.aclose()


def counting_gets(client: aioredis.Redis) -> list[str]:
    """The keys `client` is asked to GET from now on."""
    keys: list[str] = []
    get = client.get

    async def counted(name, *args, **kwargs):
        keys.append(name)
        return await get(name, *args, **kwargs)

    client.get = counted
    return keys


async def test_a_lookup_catches_up_on_the_sequence_its_exact_read_brought(
    clients: list[aioredis.Redis], embedder: SentenceEmbedder
) -> None:
    clock = FakeClock()
    services, following = [], []
    for client in clients:
        entries = ExactCache(client, 50)
        layer, replica = semantic_layer(client, clock, embedder, entries)
        following.append(asyncio.ensure_future(replica.run()))
        services.append(CacheService(entries, HitCounters(client), POLICY, clock=clock, semantic=layer))
    writer, reader = services
    try:
        await reader.lookup(conversation("Where are the billing service's logs kept?"), NO_CONTROL)  # loads
        gets = counting_gets(clients[1])
        stored = await writer.store(
            conversation("How do I rotate the signing keys of the billing service?"), NO_CONTROL, answer(), False
        )
        hit = await reader.lookup(conversation("How can I rotate the signing keys of the billing service?"), NO_CONTROL)
    finally:
        for task in following:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    assert (hit.outcome, hit.entry_id) == (Outcome.HIT_SEMANTIC, stored.entry_id)
    assert TenantKeys("acme").sequence not in gets
