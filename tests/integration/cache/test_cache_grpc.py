"""The cache served on port 0 over a real Redis, called through the production channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from replica_stats import settled_stats

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.devstack.processes import free_port
from sluicegate.embedding import SentenceEmbedder
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.testing import serving
from sluicegate_cache.app import make_build
from sluicegate_cache.servicer import SERVICE_NAME
from sluicegate_cache.settings import CacheSettings


def settings(redis_url: str) -> CacheSettings:
    return CacheSettings(
        port=0, redis_url=redis_url, redis_timeout_seconds=0.3, readiness_interval_seconds=0.1, log_requests=False
    )


async def start(stack: AsyncExitStack, redis_url: str, embedder: SentenceEmbedder) -> grpc.aio.Channel:
    """Serves the cache (sharing the test session's loaded model) until the stack closes; returns a channel."""
    configured = settings(redis_url)
    running = await stack.enter_async_context(serving("cache", configured, make_build(configured, embedder=embedder)))
    channel = create_channel(running.address, [SERVICE_NAME], default_timeout_seconds=5)
    stack.push_async_callback(channel.close)
    return channel


@pytest.fixture
async def replicas(redis_url: str, embedder) -> AsyncIterator[tuple[cache_pb2_grpc.CacheServiceStub, ...]]:
    """Two cache servers sharing one Redis, as two replicas behind a load balancer."""
    async with AsyncExitStack() as stack:
        channels = [await start(stack, redis_url, embedder) for _ in range(2)]
        yield tuple(cache_pb2_grpc.CacheServiceStub(channel) for channel in channels)


def with_schemas(json_schema: dict, tool_schema: dict) -> cache_pb2.CacheKey:
    """A request whose response schema and one tool's parameter schema are the given JSON objects."""
    request = key("Describe the weather as JSON")
    request.params.json_schema.update(json_schema)
    tool = request.params.tools.add(name="forecast")
    tool.parameters_json_schema.update(tool_schema)
    return request


def key(text: str, tenant: str = "acme") -> cache_pb2.CacheKey:
    return cache_pb2.CacheKey(
        tenant_id=tenant,
        model="fast",
        policy_version="2026-11",
        messages=[chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=text)])],
        params=chat_pb2.GenerationParams(temperature=0.0, max_tokens=64),
    )


STORED = cache_pb2.CachedAnswer(
    text="Paris.",
    model="fast",
    finish_reason=chat_pb2.FINISH_REASON_STOP,
    usage=chat_pb2.Usage(prompt_tokens=12, completion_tokens=2, total_tokens=14),
    cost_micros_usd=9,
)


async def test_store_then_lookup_is_an_exact_hit(replicas):
    first, _ = replicas
    miss = await first.Lookup(cache_pb2.LookupRequest(key=key("Capital of France?")))
    assert miss.decision.outcome == decision_pb2.CACHE_OUTCOME_MISS
    assert not miss.HasField("answer")

    stored = await first.Store(cache_pb2.StoreRequest(key=key("Capital of France?"), answer=STORED))
    hit = await first.Lookup(cache_pb2.LookupRequest(key=key("Capital of France?\r\n")))

    assert stored.stored and stored.skipped_reason == ""
    assert hit.decision.outcome == decision_pb2.CACHE_OUTCOME_HIT_EXACT
    assert hit.decision.similarity == 1.0
    assert hit.decision.entry_id == stored.entry_id
    assert 0 <= hit.decision.age_seconds <= 1
    assert hit.answer.text == "Paris." and hit.answer.usage.total_tokens == 14
    assert hit.answer.created_at.seconds > 0


async def test_store_refusal_is_reported_not_raised(replicas):
    first, _ = replicas
    response = await first.Store(
        cache_pb2.StoreRequest(key=key("Capital of Spain?"), answer=STORED, guard_flagged=True)
    )
    assert (response.stored, response.skipped_reason) == (False, "guard_flagged")


async def test_no_cache_lookup_is_skipped(replicas):
    first, _ = replicas
    await first.Store(cache_pb2.StoreRequest(key=key("Capital of Italy?"), answer=STORED))
    response = await first.Lookup(
        cache_pb2.LookupRequest(key=key("Capital of Italy?"), control=chat_pb2.CacheControl(no_cache=True))
    )
    assert response.decision.outcome == decision_pb2.CACHE_OUTCOME_SKIPPED


async def test_two_replicas_agree_after_a_store_in_one_and_an_invalidation_in_the_other(replicas):
    first, second = replicas
    stored = await first.Store(cache_pb2.StoreRequest(key=key("Capital of Peru?"), answer=STORED))

    seen_by_second = await second.Lookup(cache_pb2.LookupRequest(key=key("Capital of Peru?")))
    assert seen_by_second.decision.outcome == decision_pb2.CACHE_OUTCOME_HIT_EXACT
    assert seen_by_second.decision.entry_id == stored.entry_id

    removed = await second.Invalidate(cache_pb2.InvalidateRequest(tenant_id="acme", entry_id=stored.entry_id))
    assert removed.removed_entries == 1
    for replica in replicas:
        after = await replica.Lookup(cache_pb2.LookupRequest(key=key("Capital of Peru?")))
        assert after.decision.outcome == decision_pb2.CACHE_OUTCOME_MISS

    for replica in replicas:
        stats = await settled_stats(replica, "acme", lookups=3)
        assert (stats.exact_hits, stats.misses, stats.entries, stats.bytes) == (1, 2, 0, 0)
        assert stats.hit_rate == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("call", "request_message", "field"),
    [
        ("Lookup", cache_pb2.LookupRequest(key=key("hello", tenant="")), "key.tenant_id"),
        ("Store", cache_pb2.StoreRequest(key=key("hello", tenant=""), answer=STORED), "key.tenant_id"),
        ("Invalidate", cache_pb2.InvalidateRequest(), "tenant_id"),
        ("GetStats", cache_pb2.GetStatsRequest(tenant_id="acme}"), "tenant_id"),
        ("Invalidate", cache_pb2.InvalidateRequest(tenant_id="acme", entry_id="nope"), "entry_id"),
        ("Lookup", cache_pb2.LookupRequest(key=cache_pb2.CacheKey(tenant_id="acme", model="fast")), "key.messages"),
        (
            "Lookup",
            cache_pb2.LookupRequest(key=with_schemas({"properties": {"t": {"maximum": float("nan")}}}, {})),
            "key.params.json_schema.properties.t.maximum",
        ),
        (
            "Lookup",
            cache_pb2.LookupRequest(key=with_schemas({}, {"enum": [1, float("inf")]})),
            "key.params.tools[0].parameters_json_schema.enum[1]",
        ),
        (
            "Store",
            cache_pb2.StoreRequest(key=with_schemas({"minimum": float("-inf")}, {}), answer=STORED),
            "key.params.json_schema.minimum",
        ),
    ],
)
async def test_bad_requests_are_invalid_argument_naming_the_field(replicas, call, request_message, field):
    first, _ = replicas
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(first, call)(request_message)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = next(
        d for d in ServiceError.from_rpc_error(caught.value).details if isinstance(d, error_details_pb2.BadRequest)
    )
    assert field in [violation.field for violation in bad.field_violations]


async def test_without_redis_the_cache_is_not_serving_and_lookups_are_unavailable(embedder):
    async with AsyncExitStack() as stack:
        channel = await start(stack, f"redis://127.0.0.1:{free_port()}/0", embedder)
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
        assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cache_pb2_grpc.CacheServiceStub(channel).Lookup(cache_pb2.LookupRequest(key=key("hello")))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_with_redis_the_cache_is_serving(redis_url, embedder):
    async with AsyncExitStack() as stack:
        channel = await start(stack, redis_url, embedder)
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
