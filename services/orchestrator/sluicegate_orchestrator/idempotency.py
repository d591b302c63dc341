"""Idempotency records in Redis: a retried request with the same key gets the first answer, not a second charge."""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import redis.asyncio as aioredis

from sluicegate.common.v1 import errors_pb2
from sluicegate.gateway.v1 import gateway_pb2
from sluicegate.runtime.errors import denied

_PENDING = b"pending"


def request_fingerprint(request: gateway_pb2.ChatRequest | gateway_pb2.ChatStreamRequest) -> str:
    """A hash of everything that shapes the answer, so a key reused for another request is caught."""
    canonical = gateway_pb2.ChatRequest(
        messages=request.messages,
        model=request.model,
        params=request.params,
        complexity_hint=request.complexity_hint,
        user_id=request.user_id,
        routing_policy=request.routing_policy,
    )
    return hashlib.sha256(canonical.SerializeToString(deterministic=True)).hexdigest()


class IdempotencyStore:
    """`claim` returns a stored response to replay, or None when the caller owns the request and must `complete` it."""

    def __init__(self, redis: aioredis.Redis, ttl_seconds: int, poll_seconds: float = 0.05) -> None:
        self._redis = redis
        self._ttl_seconds = ttl_seconds
        self._poll_seconds = poll_seconds

    @staticmethod
    def _keys(tenant_id: str, key: str) -> tuple[str, str]:
        digest = hashlib.sha256(key.encode()).hexdigest()
        base = f"sg:idem:{{{tenant_id}}}:{digest}"
        return f"{base}:state", f"{base}:fingerprint"

    async def claim(
        self, tenant_id: str, key: str, fingerprint: str, wait_seconds: float
    ) -> gateway_pb2.ChatResponse | None:
        state_key, fingerprint_key = self._keys(tenant_id, key)
        claimed = await self._redis.set(state_key, _PENDING, nx=True, ex=self._ttl_seconds)
        if claimed:
            await self._redis.set(fingerprint_key, fingerprint, ex=self._ttl_seconds)
            return None
        stored_fingerprint = await self._redis.get(fingerprint_key)
        if stored_fingerprint is not None and stored_fingerprint.decode() != fingerprint:
            raise denied(
                grpc.StatusCode.ALREADY_EXISTS,
                errors_pb2.ERROR_REASON_IDEMPOTENCY_CONFLICT,
                "this idempotency key was used for a different request",
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            state = await self._redis.get(state_key)
            if state is None:
                # The first attempt failed and gave the key back: this attempt takes over.
                return await self.claim(tenant_id, key, fingerprint, max(deadline - loop.time(), 0.0))
            if state != _PENDING:
                return gateway_pb2.ChatResponse.FromString(state)
            if loop.time() >= deadline:
                raise denied(
                    grpc.StatusCode.ABORTED,
                    errors_pb2.ERROR_REASON_IDEMPOTENCY_CONFLICT,
                    "a request with this idempotency key is still in progress; retry later",
                )
            await asyncio.sleep(self._poll_seconds)

    async def complete(self, tenant_id: str, key: str, response: gateway_pb2.ChatResponse) -> None:
        state_key, _ = self._keys(tenant_id, key)
        await self._redis.set(state_key, response.SerializeToString(), ex=self._ttl_seconds)

    async def abandon(self, tenant_id: str, key: str) -> None:
        """Gives the key back after a failure, so a retry can run the request."""
        state_key, fingerprint_key = self._keys(tenant_id, key)
        await self._redis.delete(state_key, fingerprint_key)
