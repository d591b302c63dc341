"""The exact layer's Redis bookkeeping: invalidation in batches, and expired entries leaving the counts."""

from __future__ import annotations

from sluicegate_cache.exact import ExactCache

NOW = 1_800_000_000.0


async def _put(cache: ExactCache, count: int, namespace: str, ttl_seconds: int = 60) -> None:
    for n in range(count):
        await cache.put("acme", namespace, f"{namespace[:1]}{n:063x}", b"answer", ttl_seconds, NOW + n / 1000)


async def test_invalidation_walks_the_index_in_batches(redis):
    cache = ExactCache(redis, max_entries_per_tenant=1000, scan_batch=4)
    await _put(cache, 11, "default")
    await _put(cache, 13, "support")

    assert await cache.invalidate("acme", "support", "", NOW + 1) == 13
    assert await cache.size("acme", NOW + 1) == (11, 11 * len(b"answer"))
    assert await cache.invalidate("acme", "", "", NOW + 1) == 11
    assert await cache.size("acme", NOW + 1) == (0, 0)
    assert [key async for key in redis.scan_iter(match="sg:cache:{acme}:*:e:*")] == []
    assert await redis.exists("sg:cache:{acme}:lru", "sg:cache:{acme}:exp", "sg:cache:{acme}:idx") == 0


async def test_entries_past_their_expiry_are_forgotten_and_deleted(redis):
    cache = ExactCache(redis, max_entries_per_tenant=1000)
    await _put(cache, 3, "default", ttl_seconds=10)
    await _put(cache, 2, "support", ttl_seconds=100)

    assert (await cache.size("acme", NOW + 50))[0] == 2
    assert len([key async for key in redis.scan_iter(match="sg:cache:{acme}:*:e:*")]) == 2
