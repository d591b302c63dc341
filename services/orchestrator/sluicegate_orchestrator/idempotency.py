"""Idempotency records in Redis: a retried request with the same key gets the first answer, not a second charge."""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import redis.asyncio as aioredis

from sluicegate.common.v1 import errors_pb2
from sluicegate.gateway.v1 import gateway_pb2
from sluicegate.runtime.errors import denied
from sluicegate.runtime.redis import pipelined

# A claimed key holds this prefix and its owner's token until the answer replaces it.
_PENDING = b"pending:"

# Claims a key for a request, with its fingerprint, or reads who holds it, in one round trip. The fingerprint is
# written with the claim, so a retry never finds a claimed key without one. A claim lives only as long as a request
# can (a process that dies mid-request leaves its key locked that long, not for the answers' TTL).
# KEYS[1] state, KEYS[2] fingerprint; ARGV[1] the owner's pending marker, ARGV[2] the fingerprint, ARGV[3] TTL (s).
# Returns {1} when claimed, else {0, stored fingerprint or nil, state or nil}.
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  return {1}
end
return {0, redis.call('GET', KEYS[2]), redis.call('GET', KEYS[1])}
"""

# Stores the answer for the answers' TTL, the fingerprint with it. ARGV[1] the answer, ARGV[2] TTL (s).
_COMPLETE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

# Gives a key back only while its owner's claim holds it: never another request's claim, never an answer.
# ARGV[1] the owner's pending marker. Returns 1 when given back.
_ABANDON = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""


def request_fingerprint(request: gateway_pb2.ChatRequest | gateway_pb2.ChatStreamRequest) -> str:
    """A hash of everything that shapes the answer, so a key reused for another request is caught."""
    canonical = gateway_pb2.ChatRequest(
        messages=request.messages,
        model=request.model,
        params=request.params,
        complexity_hint=request.complexity_hint,
        user_id=request.user_id,
        routing_policy=request.routing_policy,
        cache=request.cache,
    )
    return hashlib.sha256(canonical.SerializeToString(deterministic=True)).hexdigest()


class IdempotencyStore:
    """`claim` returns a stored response to replay, or None when the caller owns the request and must `complete` it
    (or `abandon` it, with the token it claimed with)."""

    def __init__(
        self, redis: aioredis.Redis, ttl_seconds: int, pending_seconds: int = 300, poll_seconds: float = 0.05
    ) -> None:
        self._redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._complete = redis.register_script(_COMPLETE)
        self._abandon = redis.register_script(_ABANDON)
        self._ttl_seconds = ttl_seconds
        self._pending_seconds = pending_seconds
        self._poll_seconds = poll_seconds

    @staticmethod
    def _keys(tenant_id: str, key: str) -> tuple[str, str]:
        digest = hashlib.sha256(key.encode()).hexdigest()
        base = f"sg:idem:{{{tenant_id}}}:{digest}"
        return f"{base}:state", f"{base}:fingerprint"

    async def claim(
        self, tenant_id: str, key: str, fingerprint: str, wait_seconds: float, token: str
    ) -> gateway_pb2.ChatResponse | None:
        """`token` names this attempt: only it can give the key back, even if its claim's reply was lost."""
        state_key, fingerprint_key = self._keys(tenant_id, key)
        marker = _PENDING + token.encode()
        claim = await self._claim(keys=[state_key, fingerprint_key], args=[marker, fingerprint, self._pending_seconds])
        if claim[0] == 1:
            return None
        stored_fingerprint, state = claim[1], claim[2]
        if stored_fingerprint is not None and stored_fingerprint.decode() != fingerprint:
            raise denied(
                grpc.StatusCode.ALREADY_EXISTS,
                errors_pb2.ERROR_REASON_IDEMPOTENCY_CONFLICT,
                "this idempotency key was used for a different request",
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            if state is None:
                # The first attempt failed and gave the key back: this attempt takes over.
                return await self.claim(tenant_id, key, fingerprint, max(deadline - loop.time(), 0.0), token)
            if not state.startswith(_PENDING):
                return gateway_pb2.ChatResponse.FromString(state)
            if loop.time() >= deadline:
                raise denied(
                    grpc.StatusCode.ABORTED,
                    errors_pb2.ERROR_REASON_IDEMPOTENCY_CONFLICT,
                    "a request with this idempotency key is still in progress; retry later",
                )
            await asyncio.sleep(self._poll_seconds)
            state = await pipelined(self._redis, "GET", state_key)

    async def complete(self, tenant_id: str, key: str, response: gateway_pb2.ChatResponse) -> None:
        await self._complete(
            keys=list(self._keys(tenant_id, key)), args=[response.SerializeToString(), self._ttl_seconds]
        )

    async def abandon(self, tenant_id: str, key: str, token: str) -> bool:
        """Gives the key back after a failure, so a retry can run the request; only the claim `token` made."""
        given_back = await self._abandon(keys=list(self._keys(tenant_id, key)), args=[_PENDING + token.encode()])
        return bool(given_back)
