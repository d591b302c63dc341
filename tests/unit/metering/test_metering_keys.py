"""API keys: secrets shown once and stored only hashed; rotation, revocation and expiry take effect."""

from __future__ import annotations

import re

import grpc
import pytest

from sluicegate.runtime.errors import ServiceError
from sluicegate_metering.keys import KeyStore, resolve_salt
from sluicegate_metering.records import KeySpec, Principal


async def _reason(coro) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(ServiceError) as caught:
        await coro
    return caught.value.code, caught.value.reason


async def _everything_in(redis_client) -> bytes:
    """Every key name and value in Redis, concatenated, to search for leaked secrets."""
    dump = b""
    async for name in redis_client.scan_iter():
        kind = (await redis_client.type(name)).decode()
        dump += name
        if kind == "hash":
            for field, value in (await redis_client.hgetall(name)).items():
                dump += field + value
        elif kind == "string":
            dump += await redis_client.get(name)
        elif kind == "set":
            dump += b"".join(await redis_client.smembers(name))
    return dump


async def test_a_created_key_authenticates_and_its_secret_is_stored_only_hashed(keys, redis_client):
    issued = await keys.create(KeySpec("acme", name="ci", team_id="eng", user_id="u1", allowed_models=("fast",)))
    assert re.fullmatch(r"sg-[A-Za-z0-9_-]{40}", issued.secret)
    assert issued.record.prefix == issued.secret[:7]
    principal = await keys.authenticate(issued.secret)
    assert principal == Principal("acme", "eng", "u1", issued.record.key_id, ("fast",))
    stored = await _everything_in(redis_client)
    assert issued.secret.encode() not in stored
    assert issued.secret[7:].encode() not in stored
    assert keys.secret_hash(issued.secret).encode() in stored


async def test_missing_and_unknown_keys_are_unauthenticated(keys):
    assert await _reason(keys.authenticate("")) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_MISSING")
    assert await _reason(keys.authenticate("sg-" + "x" * 40)) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID")


async def test_rotation_replaces_the_secret_and_keeps_the_key(keys):
    issued = await keys.create(KeySpec("acme", name="ci"))
    await keys.authenticate(issued.secret)
    rotated = await keys.rotate(issued.record.key_id)
    assert rotated.secret != issued.secret
    assert rotated.record.key_id == issued.record.key_id and rotated.record.spec == issued.record.spec
    assert await _reason(keys.authenticate(issued.secret)) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID")
    assert (await keys.authenticate(rotated.secret)).key_id == issued.record.key_id


async def test_revoked_key_is_refused_and_cannot_be_rotated_back(keys):
    issued = await keys.create(KeySpec("acme"))
    await keys.authenticate(issued.secret)
    revoked = await keys.revoke(issued.record.key_id)
    assert revoked.revoked
    assert await _reason(keys.authenticate(issued.secret)) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_REVOKED")
    assert await _reason(keys.rotate(issued.record.key_id)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "API_KEY_REVOKED",
    )
    assert await _reason(keys.revoke("key_missing")) == (grpc.StatusCode.NOT_FOUND, "API_KEY_INVALID")


async def test_revocation_on_another_replica_takes_effect_within_the_cache_time(redis_client, clock):
    replica_a = KeyStore(redis_client, b"shared", clock, cache_seconds=2)
    replica_b = KeyStore(redis_client, b"shared", clock, cache_seconds=2)
    issued = await replica_a.create(KeySpec("acme"))
    await replica_b.authenticate(issued.secret)
    await replica_a.revoke(issued.record.key_id)
    clock.advance(2)
    assert await _reason(replica_b.authenticate(issued.secret)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "API_KEY_REVOKED",
    )


async def test_a_key_stops_working_at_its_expiry(keys, clock):
    issued = await keys.create(KeySpec("acme", expires_at=clock.now + 60))
    await keys.authenticate(issued.secret)
    clock.advance(60)
    assert await _reason(keys.authenticate(issued.secret)) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_EXPIRED")
    code, _ = await _reason(keys.create(KeySpec("acme", expires_at=clock.now - 1)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_listing_is_per_tenant_and_oldest_first(keys, clock):
    first = await keys.create(KeySpec("acme", name="first"))
    clock.advance(1)
    second = await keys.create(KeySpec("acme", name="second"))
    other = await keys.create(KeySpec("globex"))
    assert [record.key_id for record in await keys.list_keys("acme")] == [first.record.key_id, second.record.key_id]
    assert {record.key_id for record in await keys.list_keys()} == {
        first.record.key_id,
        second.record.key_id,
        other.record.key_id,
    }


async def test_replicas_share_one_generated_salt(redis_client, clock):
    salt = await resolve_salt(redis_client, "")
    assert salt == await resolve_salt(redis_client, "") and len(salt) == 64
    issued = await KeyStore(redis_client, salt, clock).create(KeySpec("acme"))
    other_replica = KeyStore(redis_client, await resolve_salt(redis_client, ""), clock)
    assert (await other_replica.authenticate(issued.secret)).tenant_id == "acme"


async def test_bootstrap_key_is_created_once(keys):
    secret = "sg-demo-bootstrap-key-0000000000000000000000"
    assert await keys.ensure(KeySpec("demo", name="bootstrap"), secret)
    assert not await keys.ensure(KeySpec("demo", name="bootstrap"), secret)
    assert len(await keys.list_keys("demo")) == 1
    assert (await keys.authenticate(secret)).tenant_id == "demo"


async def test_a_lookup_that_read_the_key_before_its_revocation_here_is_not_cached(keys, clock, monkeypatch):
    issued = await keys.create(KeySpec("acme"))
    lookup = keys._lookup

    async def revoked_while_reading(secret_hash: str):
        record = await lookup(secret_hash)  # Redis answered before the revocation was written
        await keys.revoke(issued.record.key_id)
        return record

    monkeypatch.setattr(keys, "_lookup", revoked_while_reading)
    await keys.authenticate(issued.secret)  # this lookup began before the revocation: its answer stands once
    monkeypatch.setattr(keys, "_lookup", lookup)
    clock.advance(1)  # within the cache's 2 s
    assert await _reason(keys.authenticate(issued.secret)) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_REVOKED")
