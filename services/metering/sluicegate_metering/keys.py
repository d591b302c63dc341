"""API keys: issued once, stored only as a salted HMAC, resolved to a principal with a seconds-long cache."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable

import grpc
import redis.asyncio as aioredis

from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import denied, invalid_argument
from sluicegate_metering import storage
from sluicegate_metering.records import ApiKeyRecord, IssuedKey, KeySpec, Principal
from sluicegate_metering.storage import fails_closed

SECRET_PREFIX = "sg-"
# 30 random bytes are exactly 40 url-safe base64 characters.
SECRET_RANDOM_BYTES = 30
PREFIX_LENGTH = 7
CACHE_MAX_ENTRIES = 10_000


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_RANDOM_BYTES)


@fails_closed
async def resolve_salt(client: aioredis.Redis, configured: str) -> bytes:
    """The configured salt, or the one random salt every replica shares (the first to start persists it)."""
    if configured:
        return configured.encode()
    await client.set(storage.KEY_SALT, secrets.token_hex(32), nx=True)
    return await client.get(storage.KEY_SALT)


def _unauthenticated(reason: int, message: str) -> Exception:
    return denied(grpc.StatusCode.UNAUTHENTICATED, reason, message)


def _unknown_key(key_id: str) -> Exception:
    return denied(grpc.StatusCode.NOT_FOUND, errors_pb2.ERROR_REASON_API_KEY_INVALID, f"no API key {key_id!r}")


class KeyStore:
    """Creates, lists, rotates, revokes and authenticates API keys kept in Redis.

    Successful lookups are reused for `cache_seconds` at most, so a revocation or rotation made through
    another replica takes effect everywhere within that time (at once on the replica that made it).
    """

    def __init__(
        self, client: aioredis.Redis, salt: bytes, clock: Callable[[], float], cache_seconds: float = 2.0
    ) -> None:
        self._redis = client
        self._salt = salt
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}
        # Bumped by every revocation and rotation made here: a lookup that began before one may have read the
        # key as it was, and is used once but not cached.
        self._generation = 0
        self._create_script = storage.load_script(client, "create_key")
        self._rotate_script = storage.load_script(client, "rotate_key")

    def secret_hash(self, secret: str) -> str:
        return hmac.new(self._salt, secret.encode(), hashlib.sha256).hexdigest()

    @fails_closed
    async def create(self, spec: KeySpec) -> IssuedKey:
        """Creates a key with a new secret, shown only in the returned IssuedKey."""
        issued = await self._store(spec, new_secret())
        if issued is None:
            raise RuntimeError("a fresh 240-bit secret collided with an existing key")
        return issued

    @fails_closed
    async def ensure(self, spec: KeySpec, secret: str) -> bool:
        """Creates a key with a chosen secret unless that secret is a key already (an idempotent bootstrap)."""
        return await self._store(spec, secret) is not None

    async def _store(self, spec: KeySpec, secret: str) -> IssuedKey | None:
        if spec.expires_at is not None and spec.expires_at <= self._clock():
            raise invalid_argument({"key.expires_at": "is in the past"})
        record = ApiKeyRecord(
            key_id=f"key_{secrets.token_hex(8)}", spec=spec, created_at=self._clock(), prefix=secret[:PREFIX_LENGTH]
        )
        secret_hash = self.secret_hash(secret)
        fields = _to_fields(record, secret_hash)
        created = await self._create_script(
            keys=[
                storage.KEY_INDEX,
                storage.key_record(record.key_id),
                storage.tenant_keys(spec.tenant_id),
                storage.ALL_KEYS,
            ],
            args=[secret_hash, record.key_id, *[item for pair in fields.items() for item in pair]],
        )
        return IssuedKey(record, secret) if created else None

    @fails_closed
    async def list_keys(self, tenant_id: str = "") -> list[ApiKeyRecord]:
        """A tenant's keys (every tenant's when empty), oldest first."""
        key_ids = await self._redis.smembers(storage.tenant_keys(tenant_id) if tenant_id else storage.ALL_KEYS)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key_id in sorted(key_ids):
                pipe.hgetall(storage.key_record(key_id.decode()))
            rows = await pipe.execute()
        records = [_from_fields(storage.decoded(row)) for row in rows if row]
        return sorted(records, key=lambda record: (record.created_at, record.key_id))

    @fails_closed
    async def rotate(self, key_id: str) -> IssuedKey:
        secret = new_secret()
        outcome = await self._rotate_script(
            keys=[storage.key_record(key_id), storage.KEY_INDEX],
            args=[key_id, self.secret_hash(secret), secret[:PREFIX_LENGTH]],
        )
        if outcome == 0:
            raise _unknown_key(key_id)
        if outcome == -1:
            raise denied(
                grpc.StatusCode.FAILED_PRECONDITION,
                errors_pb2.ERROR_REASON_API_KEY_REVOKED,
                "a revoked key stays revoked",
            )
        self._forget(key_id)
        return IssuedKey(await self._record(key_id), secret)

    @fails_closed
    async def revoke(self, key_id: str) -> ApiKeyRecord:
        """Revokes a key; its secret stays indexed so presenting it says "revoked" rather than "unknown"."""
        if not await self._redis.hexists(storage.key_record(key_id), "secret_hash"):
            raise _unknown_key(key_id)
        await self._redis.hset(storage.key_record(key_id), "revoked", "1")
        self._forget(key_id)
        return await self._record(key_id)

    @fails_closed
    async def authenticate(self, secret: str) -> Principal:
        if not secret:
            raise _unauthenticated(errors_pb2.ERROR_REASON_API_KEY_MISSING, "no API key was presented")
        now = self._clock()
        secret_hash = self.secret_hash(secret)
        cached = self._cache.get(secret_hash)
        if cached is not None and now - cached[0] < self._cache_seconds:
            record = cached[1]
        else:
            generation = self._generation
            record = await self._lookup(secret_hash)
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                self._cache.clear()
            if self._cache_seconds > 0 and generation == self._generation:
                self._cache[secret_hash] = (now, record)
        if record.revoked:
            raise _unauthenticated(errors_pb2.ERROR_REASON_API_KEY_REVOKED, "the API key was revoked")
        if record.expired(now):
            raise _unauthenticated(errors_pb2.ERROR_REASON_API_KEY_EXPIRED, "the API key has expired")
        return record.principal

    async def _lookup(self, secret_hash: str) -> ApiKeyRecord:
        key_id = await self._redis.hget(storage.KEY_INDEX, secret_hash)
        fields = await self._redis.hgetall(storage.key_record(key_id.decode())) if key_id else None
        if not fields:
            raise _unauthenticated(errors_pb2.ERROR_REASON_API_KEY_INVALID, "the API key is not valid")
        return _from_fields(storage.decoded(fields))

    async def _record(self, key_id: str) -> ApiKeyRecord:
        return _from_fields(storage.decoded(await self._redis.hgetall(storage.key_record(key_id))))

    def _forget(self, key_id: str) -> None:
        self._generation += 1
        stale = [secret_hash for secret_hash, (_, record) in self._cache.items() if record.key_id == key_id]
        for secret_hash in stale:
            del self._cache[secret_hash]


def _to_fields(record: ApiKeyRecord, secret_hash: str) -> dict[str, str]:
    spec = record.spec
    return {
        "key_id": record.key_id,
        "secret_hash": secret_hash,
        "prefix": record.prefix,
        "created_at": repr(record.created_at),
        "revoked": "1" if record.revoked else "0",
        "tenant_id": spec.tenant_id,
        "name": spec.name,
        "team_id": spec.team_id,
        "user_id": spec.user_id,
        "allowed_models": json.dumps(list(spec.allowed_models)),
        "expires_at": "" if spec.expires_at is None else repr(spec.expires_at),
        "requests_per_minute": str(spec.requests_per_minute),
        "tokens_per_minute": str(spec.tokens_per_minute),
    }


def _from_fields(fields: dict[str, str]) -> ApiKeyRecord:
    spec = KeySpec(
        tenant_id=fields["tenant_id"],
        name=fields["name"],
        team_id=fields["team_id"],
        user_id=fields["user_id"],
        allowed_models=tuple(json.loads(fields["allowed_models"])),
        expires_at=float(fields["expires_at"]) if fields["expires_at"] else None,
        requests_per_minute=int(fields["requests_per_minute"]),
        tokens_per_minute=int(fields["tokens_per_minute"]),
    )
    return ApiKeyRecord(
        key_id=fields["key_id"],
        spec=spec,
        created_at=float(fields["created_at"]),
        prefix=fields["prefix"],
        revoked=fields["revoked"] == "1",
    )
