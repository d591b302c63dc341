"""Metering's Redis layout, its Lua scripts, and the rule that a Redis failure fails closed (UNAVAILABLE) while
a script's own error is INTERNAL (never retried: a caller sending it again would get the same error)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import (
    ClusterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.context import request_id_var
from sluicegate.runtime.errors import internal_error, unavailable
from sluicegate.runtime.logs import get_logger

KEY_SALT = "sg:key-salt"
KEY_INDEX = "sg:key-index"
ALL_KEYS = "sg:keys"
RESERVATION_EXPIRY = "sg:resv-expiry"
RESERVATION_HOLDS = "sg:resv-holds"
LEDGER = "sg:ledger"
GLOBAL_RATE_LIMITS = "sg:rate-limits"

# Error replies that say the store cannot serve now (a replica made read-only by a failover, out of memory, busy
# with a long script, loading, its primary down), not that a command was wrong: those stay UNAVAILABLE. The
# command pipe raises every error reply as a plain ResponseError, so they are told apart by their first word;
# redis-py's own connections raise them as the classes below, without that word.
_OUTAGE_REPLIES = frozenset({"READONLY", "OOM", "BUSY", "LOADING", "MASTERDOWN", "TRYAGAIN", "NOREPLICAS", "NOSCRIPT"})
_OUTAGE_ERRORS = (ReadOnlyError, OutOfMemoryError, TryAgainError, ClusterDownError, NoScriptError)

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


def reservation_void(reservation_id: str) -> str:
    return f"sg:resv-void:{reservation_id}"


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


def is_outage(error: RedisError) -> bool:
    """Whether a Redis error means the store could not serve (worth a retry), rather than an error reply to the
    command itself (a script that failed, which a retry would only repeat)."""
    if not isinstance(error, ResponseError) or isinstance(error, _OUTAGE_ERRORS):
        return True
    first_word = str(error).split(" ", 1)[0]
    return first_word in _OUTAGE_REPLIES


def fails_closed(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turns a Redis failure into UNAVAILABLE METERING_UNAVAILABLE: without its store, metering admits nothing.
    An error reply to a script (it failed: a bug, or data it refused) is INTERNAL instead, which callers do not
    retry; the scripts check before their first write, so such a failure has changed nothing."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            if not is_outage(exc):
                log.error("a redis command failed", operation=method.__qualname__, error=str(exc)[:300])
                raise internal_error(request_id_var.get()) from exc
            log.warning("redis failed", operation=method.__qualname__, error=type(exc).__name__)
            raise unavailable(
                errors_pb2.ERROR_REASON_METERING_UNAVAILABLE, "metering's store is unavailable", retry_after_seconds=1.0
            ) from exc

    return guarded
