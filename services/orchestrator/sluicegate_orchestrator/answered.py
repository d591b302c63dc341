"""The requests this process has seen answered from the cache or stored in it."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from sluicegate.cache.v1 import cache_pb2


class AnsweredKeys:
    """Digests (16 bytes, never the text) of the last `capacity` cache keys this process saw hit the cache or saw
    the cache store an answer for: a request with one of them will most likely be an exact hit.

    The orchestrator plans a miss beside its cache lookup (a route and a reservation, wasted on a hit) only for
    requests it has not seen answered. So a repeated request plans for nothing however busy the process is, and a
    key costs at most one wasted plan a process (answered through another replica, or forgotten since) before it
    is known here.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._digests: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, key: cache_pb2.CacheKey) -> bool:
        return _digest(key) in self._digests

    def remember(self, key: cache_pb2.CacheKey) -> None:
        if self._capacity <= 0:
            return
        digest = _digest(key)
        self._digests[digest] = None
        self._digests.move_to_end(digest)
        while len(self._digests) > self._capacity:
            self._digests.popitem(last=False)


def _digest(key: cache_pb2.CacheKey) -> bytes:
    return hashlib.blake2b(key.SerializeToString(deterministic=True), digest_size=16).digest()
