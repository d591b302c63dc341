"""A short-lived cache of authenticated keys, so a burst from one client costs one metering round trip a second."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from sluicegate.common.v1 import chat_pb2


class PrincipalCache:
    """Maps a key's SHA-256 (never the key itself) to its principal for `ttl_seconds`.

    Revocation therefore takes effect within `ttl_seconds` here plus metering's own cache; 0 disables it.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()

    @staticmethod
    def _digest(api_key: str) -> bytes:
        return hashlib.sha256(api_key.encode()).digest()

    def get(self, api_key: str) -> chat_pb2.Principal | None:
        if self._ttl <= 0:
            return None
        digest = self._digest(api_key)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        expires, principal = entry
        if self._clock() >= expires:
            del self._entries[digest]
            return None
        return chat_pb2.Principal.FromString(principal)

    def put(self, api_key: str, principal: chat_pb2.Principal) -> None:
        if self._ttl <= 0:
            return
        digest = self._digest(api_key)
        self._entries[digest] = (self._clock() + self._ttl, principal.SerializeToString())
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
