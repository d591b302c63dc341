"""Metering's Redis layout, its Lua scripts, and the rule that a Redis failure fails closed (UNAVAILABLE)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import unavailable
from sluicegate.runtime.logs import get_logger

KEY_SALT = "sg:key-salt"
KEY_INDEX = "sg:key-index"
ALL_KEYS = "sg:keys"
RESERVATION_EXPIRY = "sg:resv-expiry"
RESERVATION_HOLDS = "sg:resv-holds"
LEDGER = "sg:ledger"
GLOBAL_RATE_LIMITS = "sg:rate-limits"

log = get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def key_record(key_id: str) -> str:
    return f"sg:key:{key_id}"


def tenant_keys(tenant_id: str) -> str:
    return f"sg:keys:{tenant_id}"


def tenant_budgets(tenant_id: str) -> str:
    return f"sg:budgets:{tenant_id}"


def bucket_counters(bucket_id: str) -> str:
    return f"sg:bucket:{bucket_id}"


def reservation(reservation_id: str) -> str:
    return f"sg:resv:{reservation_id}"


def tenant_rate_limits(tenant_id: str) -> str:
    return f"sg:rate-limits:{tenant_id}"


def rate_window(subject: str, window_start_ms: int) -> str:
    return f"sg:rate:{subject}:{window_start_ms}"


def daily_spend(tenant_id: str, day: str) -> str:
    return f"sg:spend:{tenant_id}:{day}"


def load_script(client: aioredis.Redis, name: str):
    """Registers `lua/<name>.lua`; redis-py runs it by SHA and reloads it after a Redis restart."""
    source = resources.files("sluicegate_metering").joinpath("lua", f"{name}.lua").read_text()
    return client.register_script(source)


def decoded(values: Mapping[bytes, bytes]) -> dict[str, str]:
    return {key.decode(): value.decode() for key, value in values.items()}


def fails_closed(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turns a Redis failure into UNAVAILABLE METERING_UNAVAILABLE: without its store, metering admits nothing."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            log.warning("redis failed", operation=method.__qualname__, error=type(exc).__name__)
            raise unavailable(
                errors_pb2.ERROR_REASON_METERING_UNAVAILABLE, "metering's store is unavailable", retry_after_seconds=1.0
            ) from exc

    return guarded
