"""The cache's domain over a real Redis: hits and misses, store rules, TTL, isolation, eviction, invalidation, stats."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from cache_builders import MAX_ENTRIES, answer, make_service, request_key
from redis.exceptions import ConnectionError as RedisConnectionError

from sluicegate.common.v1 import chat_pb2
from sluicegate.devstack.processes import free_port
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.redis import create_redis
from sluicegate_cache.counters import IN_DOUBT_SECONDS
from sluicegate_cache.layout import TenantKeys
from sluicegate_cache.results import CacheStats, Outcome
from sluicegate_cache.service import CacheService

NO_CONTROL = chat_pb2.CacheControl()


async def store(service: CacheService, key, control=NO_CONTROL, guard_flagged=False, stored_answer=None):
    return await service.store(key, control, stored_answer or answer(), guard_flagged)


async def lookup(service: CacheService, key, control=NO_CONTROL):
    return await service.lookup(key, control)


async def test_stored_answer_is_served_as_exact_hit_with_its_age(cache):
    miss = await lookup(cache.service, request_key())
    assert miss.outcome is Outcome.MISS and miss.answer is None

    stored = await store(cache.service, request_key())
    assert stored.stored and len(stored.entry_id) == 64
    cache.clock.advance(42)
    # Same request, spelled with different surrounding whitespace and line endings.
    hit = await lookup(cache.service, request_key("  What is a sluice gate?\r\n"))

    assert hit.outcome is Outcome.HIT_EXACT
    assert hit.similarity == 1.0
    assert hit.age_seconds == 42
    assert hit.entry_id == stored.entry_id
    assert hit.answer.text == "A gate that controls water flow."
    assert hit.answer.cost_micros_usd == 120


async def test_entry_expires_after_its_ttl(cache):
    await store(cache.service, request_key(), chat_pb2.CacheControl(ttl_seconds=1))
    assert (await lookup(cache.service, request_key())).outcome is Outcome.HIT_EXACT

    await asyncio.sleep(1.1)
    cache.clock.advance(1.1)

    assert (await lookup(cache.service, request_key())).outcome is Outcome.MISS
    stats = await cache.service.stats("acme")
    assert (stats.entries, stats.bytes) == (0, 0)


async def test_ttl_follows_the_request_defaults_and_is_capped(cache):
    async def ttl_ms(text: str, ttl_seconds: int) -> int:
        stored = await store(cache.service, request_key(text), chat_pb2.CacheControl(ttl_seconds=ttl_seconds))
        return await cache.redis.pttl(f"sg:cache:{{acme}}:default:e:{stored.entry_id}")

    assert 110_000 < await ttl_ms("requested", 120) <= 120_000
    assert 3_590_000 < await ttl_ms("default", 0) <= 3_600_000
    assert 7_190_000 < await ttl_ms("capped", 10**9) <= 7_200_000


async def test_no_cache_skips_the_lookup_and_is_not_counted(cache):
    await store(cache.service, request_key())
    result = await lookup(cache.service, request_key(), chat_pb2.CacheControl(no_cache=True))
    assert result.outcome is Outcome.SKIPPED and result.answer is None
    stats = await cache.service.stats("acme")
    assert (stats.exact_hits, stats.misses) == (0, 0)


@pytest.mark.parametrize(
    ("reason", "key", "control", "guard_flagged", "stored_answer"),
    [
        ("no_store", request_key(), chat_pb2.CacheControl(no_store=True), False, None),
        ("guard_flagged", request_key(), NO_CONTROL, True, None),
        ("empty_answer", request_key(), NO_CONTROL, False, answer(" \n")),
        ("not_finished", request_key(), NO_CONTROL, False, answer(finish=chat_pb2.FINISH_REASON_LENGTH)),
        ("not_finished", request_key(), NO_CONTROL, False, answer(finish=chat_pb2.FINISH_REASON_TOOL_CALLS)),
        ("not_finished", request_key(), NO_CONTROL, False, answer(finish=chat_pb2.FINISH_REASON_CONTENT_FILTER)),
        ("high_temperature", request_key(temperature=1.3), NO_CONTROL, False, None),
        ("too_large", request_key(), NO_CONTROL, False, answer("x" * 5000)),
    ],
)
async def test_ineligible_answers_are_not_stored(cache, reason, key, control, guard_flagged, stored_answer):
    result = await store(cache.service, key, control, guard_flagged, stored_answer)
    assert (result.stored, result.skipped_reason, result.entry_id) == (False, reason, "")
    assert (await lookup(cache.service, key)).outcome is Outcome.MISS


@pytest.mark.parametrize("params", [{"temperature": 1.0}, {"temperature": 0.0}, {}])
async def test_answers_at_or_below_the_temperature_limit_are_stored(cache, params):
    assert (await store(cache.service, request_key(**params))).stored
    assert (await lookup(cache.service, request_key(**params))).outcome is Outcome.HIT_EXACT


async def test_another_tenant_sending_the_same_request_never_hits(cache):
    await store(cache.service, request_key(tenant="acme"))
    assert (await lookup(cache.service, request_key(tenant="globex"))).outcome is Outcome.MISS
    assert (await cache.service.stats("globex")).entries == 0
    assert (await lookup(cache.service, request_key(tenant="acme"))).outcome is Outcome.HIT_EXACT


async def test_namespaces_partition_a_tenant(cache):
    await store(cache.service, request_key(), chat_pb2.CacheControl(namespace="support"))
    assert (await lookup(cache.service, request_key())).outcome is Outcome.MISS
    hit = await lookup(cache.service, request_key(), chat_pb2.CacheControl(namespace="support"))
    assert hit.outcome is Outcome.HIT_EXACT


async def test_eviction_at_the_limit_keeps_the_most_recently_used(cache):
    texts = [f"question {n}" for n in range(MAX_ENTRIES)]
    for text in texts:
        await store(cache.service, request_key(text))
        cache.clock.advance(1)
    await lookup(cache.service, request_key(texts[0]))  # the oldest becomes the most recently used
    cache.clock.advance(1)

    result = await store(cache.service, request_key("newcomer"))

    assert result.evicted == 1
    assert (await lookup(cache.service, request_key(texts[1]))).outcome is Outcome.MISS
    for text in [texts[0], texts[2], "newcomer"]:
        assert (await lookup(cache.service, request_key(text))).outcome is Outcome.HIT_EXACT
    assert (await cache.service.stats("acme")).entries == MAX_ENTRIES


async def test_concurrent_stores_from_two_replicas_never_exceed_the_limit(cache, redis_url):
    other = create_redis(redis_url)
    replicas = [cache.service, make_service(other, cache.clock)]
    await asyncio.gather(*(store(replicas[n % 2], request_key(f"q{n}")) for n in range(40)))
    await other.aclose()

    entry_keys = [key async for key in cache.redis.scan_iter(match="sg:cache:{acme}:*:e:*")]
    stats = await cache.service.stats("acme")
    assert len(entry_keys) == stats.entries == MAX_ENTRIES
    assert stats.bytes == sum([await cache.redis.strlen(key) for key in entry_keys])


async def test_storing_the_same_request_again_replaces_the_entry(cache):
    await store(cache.service, request_key(), stored_answer=answer("first"))
    await store(cache.service, request_key(), stored_answer=answer("second, longer"))
    assert (await lookup(cache.service, request_key())).answer.text == "second, longer"
    stats = await cache.service.stats("acme")
    entry_keys = [key async for key in cache.redis.scan_iter(match="sg:cache:{acme}:*:e:*")]
    assert stats.entries == len(entry_keys) == 1
    assert stats.bytes == await cache.redis.strlen(entry_keys[0])


FILLED = [("a", "acme", ""), ("c", "acme", "support"), ("d", "acme", "support"), ("g", "globex", "")]


async def _fill(cache) -> dict[str, str]:
    """acme: "a" in the default namespace, "c" and "d" in "support"; globex: "g". Returns entry ids by name."""
    ids = {}
    for name, tenant, namespace in FILLED:
        control = chat_pb2.CacheControl(namespace=namespace)
        ids[name] = (await store(cache.service, request_key(name, tenant), control)).entry_id
        cache.clock.advance(1)
    return ids


async def _present(cache) -> set[str]:
    found = set()
    for name, tenant, namespace in FILLED:
        result = await lookup(cache.service, request_key(name, tenant), chat_pb2.CacheControl(namespace=namespace))
        if result.outcome is Outcome.HIT_EXACT:
            found.add(name)
    return found


async def test_invalidate_one_entry(cache):
    ids = await _fill(cache)
    assert await cache.service.invalidate("acme", "", ids["c"]) == 1
    assert await _present(cache) == {"a", "d", "g"}
    assert await cache.service.invalidate("acme", "", ids["c"]) == 0


async def test_invalidate_one_entry_only_within_the_named_namespace(cache):
    ids = await _fill(cache)
    assert await cache.service.invalidate("acme", "default", ids["c"]) == 0
    assert await cache.service.invalidate("acme", "support", ids["c"]) == 1
    assert await _present(cache) == {"a", "d", "g"}


async def test_invalidate_a_namespace(cache):
    await _fill(cache)
    assert await cache.service.invalidate("acme", "support", "") == 2
    assert await _present(cache) == {"a", "g"}
    assert (await cache.service.stats("acme")).entries == 1


async def test_invalidate_a_tenant_removes_every_namespace_and_nothing_else(cache):
    await _fill(cache)
    assert await cache.service.invalidate("acme", "", "") == 3
    assert await _present(cache) == {"g"}
    stats = await cache.service.stats("acme")
    assert (stats.entries, stats.bytes) == (0, 0)


async def test_invalidating_another_tenants_entry_id_removes_nothing(cache):
    ids = await _fill(cache)
    assert await cache.service.invalidate("acme", "", ids["g"]) == 0
    assert "g" in await _present(cache)


async def test_stats_count_hits_misses_entries_and_bytes(cache):
    await store(cache.service, request_key("one"))
    await store(cache.service, request_key("two"))
    await lookup(cache.service, request_key("one"))
    await lookup(cache.service, request_key("one"))
    await lookup(cache.service, request_key("three"))
    await lookup(cache.service, request_key("one", tenant="globex"))

    stats = await cache.service.stats("acme")

    assert (stats.exact_hits, stats.semantic_hits, stats.misses, stats.entries) == (2, 0, 1, 2)
    assert stats.hit_rate == pytest.approx(2 / 3)
    stored_bytes = [await cache.redis.strlen(key) async for key in cache.redis.scan_iter(match="sg:cache:{acme}:*:e:*")]
    assert stats.bytes == sum(stored_bytes) > 0
    assert (await cache.service.stats("globex")).misses == 1


async def test_a_lookup_answers_without_waiting_for_its_count_and_a_failed_count_is_not_its_failure(cache):
    await store(cache.service, request_key("one"))
    counters = cache.service._counters
    real_add = counters._add_batch
    gate = asyncio.Event()

    async def slow_add(keys, args):
        await gate.wait()
        return await real_add(keys=keys, args=args)

    counters._add_batch = slow_add
    hit = await asyncio.wait_for(lookup(cache.service, request_key("one")), 1.0)  # the count is still held back
    assert hit.outcome is Outcome.HIT_EXACT
    gate.set()
    assert (await cache.service.stats("acme")).exact_hits == 1  # this replica's read waits for its counts

    async def lost_add(keys, args):
        raise RedisConnectionError("redis went away")

    counters._add_batch = lost_add
    assert (await lookup(cache.service, request_key("one"))).outcome is Outcome.HIT_EXACT
    assert (await cache.service.stats("acme")).exact_hits == 1  # not written yet: Redis did not take it
    counters._add_batch = real_add
    assert (await lookup(cache.service, request_key("one"))).outcome is Outcome.HIT_EXACT
    assert (await cache.service.stats("acme")).exact_hits == 3  # the failed count went with the next write


async def test_a_batch_sent_again_after_its_answer_was_lost_is_added_once(cache):
    await store(cache.service, request_key("one"))
    counters = cache.service._counters
    real_add = counters._add_batch

    async def answer_lost(keys, args):
        await real_add(keys=keys, args=args)  # Redis added it, but the reply never came back
        raise RedisConnectionError("connection reset")

    counters._add_batch = answer_lost
    for _ in range(3):
        await lookup(cache.service, request_key("one"))
    await counters.drain()
    counters._add_batch = real_add
    await lookup(cache.service, request_key("two"))
    stats = await cache.service.stats("acme")
    assert (stats.exact_hits, stats.misses) == (3, 1)  # the batch sent again was not added a second time
    assert counters._in_doubt == {}


async def test_a_batch_in_doubt_past_its_time_is_given_up_and_later_counts_go_on(cache):
    counters = cache.service._counters
    now = [0.0]
    counters._clock = lambda: now[0]
    real_add = counters._add_batch

    async def down(keys, args):
        raise RedisConnectionError("redis went away")

    counters._add_batch = down
    await lookup(cache.service, request_key("one"))
    await counters.drain()
    assert "acme" in counters._in_doubt
    await lookup(cache.service, request_key("two"))  # waits behind the batch in doubt
    now[0] = IN_DOUBT_SECONDS + 1
    await counters.drain()
    counters._add_batch = real_add
    stats = await cache.service.stats("acme")
    assert stats.misses == 1 and counters._in_doubt == {}  # the first given up, the second written


async def test_counts_arriving_while_one_is_written_go_in_the_next_write(cache):
    await store(cache.service, request_key("one"))
    counters = cache.service._counters
    real_add = counters._add_batch
    writes = []

    async def counted_add(keys, args):
        writes.append(args)
        return await real_add(keys=keys, args=args)

    counters._add_batch = counted_add
    outcomes = await asyncio.gather(*(lookup(cache.service, request_key(q)) for q in ["one"] * 30 + ["two"] * 20))
    stats = await cache.service.stats("acme")

    assert [o.outcome for o in outcomes].count(Outcome.HIT_EXACT) == 30
    assert (stats.exact_hits, stats.misses) == (30, 20)
    assert 1 <= len(writes) < 10  # 50 lookups, a few round trips


async def test_counts_wait_out_their_window_unless_this_replica_reads_them(cache):
    counters = cache.service._counters
    await lookup(cache.service, request_key("one"))
    await asyncio.sleep(0.1)
    unsent = await cache.redis.hgetall(TenantKeys("acme").counts)  # held back: the window is 250 ms
    started = time.perf_counter()
    stats = await cache.service.stats("acme")  # written at once for this replica's own read
    waited = time.perf_counter() - started
    await lookup(cache.service, request_key("two"))
    await asyncio.sleep(0.35)
    written = await cache.redis.hgetall(TenantKeys("acme").counts)

    assert unsent == {} and stats.misses == 1 and waited < 0.1
    assert counters._flushing.done() and written[b"misses"] == b"2"  # the next count waited out its own window


@pytest.mark.parametrize("tenant", ["", "a b", "{acme}", "acme:x", "*", "-acme"])
async def test_requests_without_a_valid_tenant_are_rejected(cache, tenant):
    calls = [
        lookup(cache.service, request_key(tenant=tenant)),
        store(cache.service, request_key(tenant=tenant)),
        cache.service.invalidate(tenant, "", ""),
        cache.service.stats(tenant),
    ]
    for call in calls:
        with pytest.raises(ServiceError) as caught:
            await call
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert await cache.redis.dbsize() == 0


async def test_key_and_control_must_agree_on_the_namespace(cache):
    key = request_key()
    key.namespace = "sales"
    with pytest.raises(ServiceError) as caught:
        await lookup(cache.service, key, chat_pb2.CacheControl(namespace="support"))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_hit_rate_is_zero_before_any_lookup():
    assert CacheStats(0, 0, 0, 0, 0).hit_rate == 0.0


async def test_redis_failure_is_unavailable():
    broken = create_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.2)
    service = make_service(broken, lambda: 0.0)
    for call in [
        lookup(service, request_key()),
        store(service, request_key()),
        service.invalidate("acme", "", ""),
        service.stats("acme"),
    ]:
        with pytest.raises(ServiceError) as caught:
            await call
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    await broken.aclose()


async def test_a_question_is_embedded_once_for_its_lookup_and_its_store() -> None:
    import numpy as np

    from sluicegate_cache.semantic import embed_off_loop

    class CountingEmbedder:
        calls = 0

        def embed_one(self, text: str) -> np.ndarray:
            CountingEmbedder.calls += 1
            return np.ones(3, dtype=np.float32)

    embed = embed_off_loop(CountingEmbedder(), remember=2)
    await embed("how do I reset my password?")
    await embed("how do I reset my password?")
    assert CountingEmbedder.calls == 1
    await embed("second")
    await embed("third")  # the first question is forgotten: only two are kept
    await embed("how do I reset my password?")
    assert CountingEmbedder.calls == 4
