"""Rate limits: requests and tokens per minute per key, tenant and model, counted in Redis across replicas.

Each limit counts in one-minute windows (`sg:rate:{subject}:{window start}` hashes with `requests` and
`tokens`) and admits a call while `previous window × the share of it still inside the last minute + current
window + the call` fits the limit: the sliding-window counter. Bursts inside one window are counted exactly;
across a window boundary it assumes the previous window's calls were spread evenly. The check and the counting
run inside the authorize script together with the budget reservation, so a call is counted on every limit and
reserved on every bucket, or on none, whichever replica serves it.

A call counts 1 request and its prompt tokens plus its most output tokens (as a provider's own TPM limit
does); Settle corrects the tokens to the actual usage and Release takes them back.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import redis.asyncio as aioredis

from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import denied, resource_exhausted
from sluicegate_metering import storage
from sluicegate_metering.records import Principal, RateLimitRule, RateScope
from sluicegate_metering.storage import fails_closed

WINDOW_MS = 60_000
EVERY_TENANT = "*"
REQUESTS = "requests_per_minute"
TOKENS = "tokens_per_minute"


@dataclass(frozen=True)
class RateSubject:
    """One limit that may apply to a call: where its configuration is read and where it counts.

    `option` is 0 when the limit applies whichever model is reserved, else the 1-based option (model) it
    belongs to: a model's limits count only when that model is the one reserved.
    """

    name: str
    config_key: str
    config_prefix: str
    default_requests: int = 0
    default_tokens: int = 0
    option: int = 0


def _config_field(scope: RateScope, model: str = "") -> str:
    return f"{scope}:{model}:" if scope is RateScope.MODEL else f"{scope}:"


@functools.lru_cache(maxsize=4096)
def rate_subjects(
    principal: Principal, models: tuple[str, ...], default_requests: int = 0, default_tokens: int = 0
) -> tuple[RateSubject, ...]:
    """The limits that may apply to a call: the key's own (kept in its record), the tenant's (the default when
    it has none), and, per candidate model, the tenant's limit on that model and every tenant's together.
    A pure function of its arguments, remembered for the principals and models in use."""
    tenant = principal.tenant_id
    tenant_config = storage.tenant_rate_limits(tenant)
    subjects = []
    if principal.key_id:
        subjects.append(RateSubject(f"key:{principal.key_id}", storage.key_record(principal.key_id), ""))
    subjects.append(
        RateSubject(
            f"tenant:{tenant}", tenant_config, _config_field(RateScope.TENANT), default_requests, default_tokens
        )
    )
    for option, model in enumerate(models, start=1):
        prefix = _config_field(RateScope.MODEL, model)
        subjects.append(RateSubject(f"model:{tenant}/{model}", tenant_config, prefix, option=option))
        subjects.append(RateSubject(f"model:{EVERY_TENANT}/{model}", storage.GLOBAL_RATE_LIMITS, prefix, option=option))
    return tuple(subjects)


def window_keys(subject: RateSubject, now_ms: int) -> tuple[str, str]:
    """The previous and the current window's counters of a subject."""
    start = now_ms - now_ms % WINDOW_MS
    return storage.rate_window(subject.name, start - WINDOW_MS), storage.rate_window(subject.name, start)


class RateLimitBook:
    """Administrator-set tenant and model limits, kept where the authorize script reads them."""

    def __init__(self, client: aioredis.Redis, known_models: Sequence[str]) -> None:
        self._redis = client
        self._known_models = frozenset(known_models)

    @fails_closed
    async def set(self, rule: RateLimitRule) -> RateLimitRule:
        """Stores the limit; both rates 0 removes it."""
        if rule.scope is RateScope.MODEL and rule.subject_id not in self._known_models:
            raise denied(
                grpc.StatusCode.NOT_FOUND, errors_pb2.ERROR_REASON_MODEL_UNKNOWN, f"unknown model {rule.subject_id!r}"
            )
        if rule.scope is RateScope.TENANT:
            config_key, prefix = storage.tenant_rate_limits(rule.tenant_id), _config_field(RateScope.TENANT)
        else:
            config_key = storage.tenant_rate_limits(rule.tenant_id) if rule.tenant_id else storage.GLOBAL_RATE_LIMITS
            prefix = _config_field(RateScope.MODEL, rule.subject_id)
        fields = {prefix + REQUESTS: rule.requests_per_minute, prefix + TOKENS: rule.tokens_per_minute}
        if any(fields.values()):
            await self._redis.hset(config_key, mapping=fields)
        else:
            await self._redis.hdel(config_key, *fields)
        return rule


@dataclass(frozen=True)
class DefaultRates:
    """The tenant limits that apply to tenants an administrator set none for (0 = unlimited)."""

    requests: int = 0
    tokens: int = 0


NO_DEFAULT_RATES = DefaultRates()


def rate_limited(subject: RateSubject, unit: int, wait_ms: int, limit: int) -> Exception:
    """RESOURCE_EXHAUSTED RATE_LIMITED naming the limit (`tenant:acme:requests_per_minute`), with RetryInfo
    holding the wait, or without it when the call alone needs more tokens than the limit admits a minute."""
    name = f"{subject.name}:{REQUESTS if unit == 1 else TOKENS}"
    if wait_ms < 0:
        return resource_exhausted(
            errors_pb2.ERROR_REASON_RATE_LIMITED,
            name,
            f"the call may use more tokens than rate limit {name} admits in a minute ({limit}); it can never fit",
        )
    return resource_exhausted(
        errors_pb2.ERROR_REASON_RATE_LIMITED,
        name,
        f"rate limit {name} ({limit}) is reached; retry in {wait_ms / 1000:.3f} s",
        retry_after_seconds=wait_ms / 1000,
    )
