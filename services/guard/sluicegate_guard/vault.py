"""The PII vault: a request's placeholder mapping in Redis, AES-GCM encrypted, bound to its tenant, with a TTL."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping

import redis.asyncio as aioredis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.redis import pipelined

log = get_logger(__name__)

_NONCE_BYTES = 12


class Vault:
    """Stores placeholder mappings under random restore handles.

    The tenant and the handle are the AES-GCM associated data: a handle presented by another tenant
    fails authentication and restores nothing, and Redis only ever holds ciphertext.
    """

    def __init__(self, redis: aioredis.Redis, key: bytes, ttl_seconds: int, prefix: str = "guard:vault:") -> None:
        self._redis = redis
        self._cipher = AESGCM(key)
        self._ttl_seconds = ttl_seconds
        self._prefix = prefix

    @staticmethod
    def _associated_data(tenant_id: str, handle: str) -> bytes:
        return f"{tenant_id}\x00{handle}".encode()

    async def store(self, tenant_id: str, mapping: Mapping[str, str]) -> str:
        """Saves the mapping and returns its restore handle."""
        handle = secrets.token_urlsafe(24)
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(dict(mapping), separators=(",", ":")).encode()
        sealed = nonce + self._cipher.encrypt(nonce, plaintext, self._associated_data(tenant_id, handle))
        await pipelined(self._redis, "SET", self._prefix + handle, sealed, "EX", self._ttl_seconds)
        return handle

    async def load(self, tenant_id: str, handle: str) -> dict[str, str]:
        """The mapping, or an empty one when the handle is unknown, expired or another tenant's."""
        if not handle:
            return {}
        sealed = await pipelined(self._redis, "GET", self._prefix + handle)
        if sealed is None:
            return {}
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            plaintext = self._cipher.decrypt(nonce, ciphertext, self._associated_data(tenant_id, handle))
        except InvalidTag:
            log.warning("restore handle refused: another tenant's, or sealed with another key")
            return {}
        return json.loads(plaintext)
