"""Reservations: hold a call's worst-case cost on every applicable bucket, then settle, release or reclaim it.

Every step that moves money is one Lua script, so concurrent calls on any number of replicas never
overspend: a reservation either lands on all its buckets or on none. Settlement charges the actual cost
even when it exceeds the reservation (a provider may return more than expected); that overage is the only
way spend can pass a limit, and the next reservation on the bucket is then refused.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping, Sequence

import grpc
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import denied, resource_exhausted, unavailable
from sluicegate.runtime.logs import get_logger
from sluicegate_metering import storage
from sluicegate_metering.budgets import BudgetBook, BudgetView, utc_day
from sluicegate_metering.holds import HeldReservation, RecentHolds
from sluicegate_metering.pricing import Pricer, Quote
from sluicegate_metering.ratelimits import (
    NO_DEFAULT_RATES,
    WINDOW_MS,
    DefaultRates,
    rate_limited,
    rate_subjects,
    window_keys,
)
from sluicegate_metering.records import (
    BucketCharge,
    BudgetRule,
    Principal,
    Reservation,
    Settlement,
    UsageCharge,
    UsageCheck,
)
from sluicegate_metering.spend import spend_increments
from sluicegate_metering.storage import fails_closed

log = get_logger(__name__)

RECLAIM_BATCH = 100
# The authorize script's answer when the budgets it was given changed since they were read.
STALE_BUDGETS = 3
# The authorize script's answer when the reservation id was voided (only a late run of a call given up on).
VOIDED = 4
# A budget view is refused only when an administrator changed a budget in between: one fresh read nearly
# always suffices; more attempts guard against a burst of changes.
MAX_AUTHORIZE_ATTEMPTS = 3
# An Authorize whose script may have run without its reply reaching us is voided off the request path: tried at
# once, then again with a growing pause while Redis fails, for this long at most (the reclaimer returns a
# reservation that landed meanwhile when its TTL ends). Beyond MAX_PENDING_VOIDS at once (a long outage), the
# reclaimer is left to it.
VOID_RETRY_SECONDS = 60.0
VOID_FIRST_PAUSE_SECONDS = 0.1
VOID_MAX_PAUSE_SECONDS = 5.0
MAX_PENDING_VOIDS = 1_000
# Errors after which a script may or may not have run: the reply did not come in time, or the connection was
# lost (or never made: voiding then finds nothing, and costs only the void).
AMBIGUOUS_FAILURES = (RedisTimeoutError, RedisConnectionError, asyncio.CancelledError)


def _unknown_reservation(reservation_id: str) -> Exception:
    return denied(
        grpc.StatusCode.NOT_FOUND,
        errors_pb2.ERROR_REASON_RESERVATION_UNKNOWN,
        f"reservation {reservation_id!r} is unknown, expired or already settled",
    )


def _script_keys(reservation_id: str, counter_keys: Sequence[str], *between: str) -> list[str]:
    """The keys every reservation script declares: the record, the expiry index, the holds, then the buckets'
    counters."""
    return [
        storage.reservation(reservation_id),
        storage.RESERVATION_EXPIRY,
        storage.RESERVATION_HOLDS,
        *between,
        *counter_keys,
    ]


def _counter_keys(buckets: Sequence[str]) -> list[str]:
    return [storage.bucket_counters(bucket) for bucket in buckets]


def _rate_windows(encoded: str | bytes | None) -> list[str]:
    """The rate-limit windows a reservation counted on; Lua's cjson writes an empty list as "{}"."""
    return list(json.loads(encoded)) if encoded else []


def _json_pairs(pairs: Mapping[str, object]) -> str:
    """Field/value pairs as one script argument: a JSON list of strings (a script gets one argument in about
    the time redis-py takes to pack each of many, and the values arrive as the strings Python wrote)."""
    return json.dumps([str(item) for pair in pairs.items() for item in pair], ensure_ascii=False)


class Meter:
    """Authorize, ReportUsage, Settle and Release over Redis, plus reclaiming abandoned reservations."""

    def __init__(
        self,
        client: aioredis.Redis,
        pricer: Pricer,
        budgets: BudgetBook,
        clock: Callable[[], float],
        reservation_ttl_seconds: int = 600,
        spend_retention_days: int = 400,
        default_rates: DefaultRates = NO_DEFAULT_RATES,
    ) -> None:
        self._redis = client
        self._pricer = pricer
        self._budgets = budgets
        self._clock = clock
        self._ttl_seconds = reservation_ttl_seconds
        self._spend_ttl_seconds = spend_retention_days * 86_400
        self._default_rates = default_rates
        self._recent = RecentHolds()
        self._authorize_script = storage.load_script(client, "authorize")
        self._settle_script = storage.load_script(client, "settle")
        self._return_script = storage.load_script(client, "return_hold")
        self._report_script = storage.load_script(client, "report_usage")
        self._void_script = storage.load_script(client, "void_reservation")
        self._voids: set[asyncio.Task[None]] = set()

    @fails_closed
    async def authorize(
        self,
        principal: Principal,
        model: str,
        prompt_tokens: int,
        max_tokens: int,
        request_id: str = "",
        allow_downgrade: bool = False,
    ) -> Reservation:
        """Reserves the call's worst case on every budget bucket of the principal and counts it on every rate
        limit, or fails BUDGET_EXCEEDED naming the first bucket that cannot cover it, or RATE_LIMITED naming
        the limit with the wait. When the request or the refusing bucket's budget allows it, the cheapest
        capable model is reserved instead of failing the budget."""
        requested = self._pricer.quote(model, prompt_tokens, max_tokens)
        if not principal.may_use(model):
            raise denied(
                grpc.StatusCode.PERMISSION_DENIED,
                errors_pb2.ERROR_REASON_MODEL_NOT_ALLOWED,
                f"the API key may not use model {model!r}",
            )
        view = await self._budgets.view(principal)
        for _ in range(MAX_AUTHORIZE_ATTEMPTS):
            reservation = await self._reserve(
                principal, view, requested, prompt_tokens, max_tokens, request_id, allow_downgrade
            )
            if reservation is not None:
                return reservation
            view = await self._budgets.view(principal, stale=view)
        raise unavailable(
            errors_pb2.ERROR_REASON_METERING_UNAVAILABLE,
            "budgets kept changing during the authorization",
            retry_after_seconds=1.0,
        )

    async def _reserve(
        self,
        principal: Principal,
        view: BudgetView,
        requested: Quote,
        prompt_tokens: int,
        max_tokens: int,
        request_id: str,
        allow_downgrade: bool,
    ) -> Reservation | None:
        """One run of the authorize script under a budget view; None when the view was stale."""
        rules = view.rules
        options = [requested]
        if allow_downgrade or any(rule.allow_downgrade for rule in rules):
            alternative = self._pricer.cheapest_alternative(principal, requested, prompt_tokens, max_tokens)
            if alternative is not None:
                options.append(alternative)

        now = self._clock()
        now_ms = int(now * 1000)
        expires_at = now + self._ttl_seconds
        reservation_id = f"rsv_{os.urandom(16).hex()}"
        placed = view.placed(now)
        buckets = placed.buckets
        subjects = rate_subjects(
            principal,
            tuple(option.model for option in options),
            self._default_rates.requests,
            self._default_rates.tokens,
        )
        args: list[object] = [
            reservation_id,
            int(expires_at * 1000),
            self._ttl_seconds * 1000,
            int(allow_downgrade),
            len(options),
            placed.buckets_json,
            requested.model,
            len(buckets),
            len(subjects),
            now_ms,
            WINDOW_MS,
            view.fields_json,
            view.stored_json,
            *placed.script_args,
        ]
        tokens = [prompt_tokens + self._pricer.output_tokens(option.model, max_tokens) for option in options]
        for option, option_tokens in zip(options, tokens, strict=True):
            args += [option.amount_micros, option.model, option_tokens]
        rate_keys: list[str] = []
        for subject in subjects:
            args += [subject.config_prefix, subject.default_requests, subject.default_tokens, subject.option]
            rate_keys += [*window_keys(subject, now_ms), subject.config_key]
        record = {
            "tenant_id": principal.tenant_id,
            "team_id": principal.team_id,
            "user_id": principal.user_id,
            "key_id": principal.key_id,
            "request_id": request_id,
            "created_at": repr(now),
            "limits": placed.limits_json,
        }
        args.append(_json_pairs(record))
        keys = [
            *_script_keys(reservation_id, placed.counter_keys, view.key, storage.reservation_void(reservation_id)),
            *rate_keys,
        ]
        try:
            result = await self._authorize_script(keys=keys, args=args)
        except AMBIGUOUS_FAILURES:
            # The script may run (or have run) although we never hear of it, and the caller, told UNAVAILABLE,
            # retries with another reservation: this one must not hold money until its TTL.
            self._void_later(reservation_id)
            raise
        if result[0] == STALE_BUDGETS:
            return None
        if result[0] == VOIDED:
            raise unavailable(
                errors_pb2.ERROR_REASON_METERING_UNAVAILABLE, "the reservation was voided", retry_after_seconds=1.0
            )
        if result[0] == 0:
            bucket, room = buckets[result[1] - 1], max(result[2], 0)
            raise resource_exhausted(
                errors_pb2.ERROR_REASON_BUDGET_EXCEEDED,
                bucket,
                f"budget {bucket} has {room} micro-USD left; the call may cost up to {requested.amount_micros}",
            )
        if result[0] == 2:
            raise rate_limited(subjects[result[1] - 1], result[2], result[3], result[4])
        chosen = options[result[1] - 1]
        rooms = result[2 : 2 + len(buckets)]
        self._recent.remember(
            reservation_id,
            HeldReservation(
                principal=principal,
                model=chosen.model,
                request_id=request_id,
                buckets=buckets,
                limits=[rule.limit_micros for rule in rules],
                rate_windows=[window.decode() for window in result[2 + len(buckets) :]],
                rate_tokens=tokens[result[1] - 1],
            ),
            expires_at,
            now,
        )
        return Reservation(
            reservation_id=reservation_id,
            amount_micros=chosen.amount_micros,
            model=chosen.model,
            downgraded_from="" if chosen is requested else requested.model,
            expires_at=expires_at,
            buckets=[
                BucketCharge(
                    bucket,
                    chosen.amount_micros,
                    max(room, 0),
                    limit_micros=rule.limit_micros,
                    soft_threshold_reached=_past_soft_threshold(rule, room),
                )
                for bucket, rule, room in zip(buckets, rules, rooms, strict=True)
            ],
        )

    @fails_closed
    async def report_usage(self, reservation_id: str, charges: Sequence[UsageCharge]) -> UsageCheck:
        """Charges a stream's progress against its reservation: usage beyond it grows the reservation when every
        bucket has room, else the stream is no longer within budget. Every report extends the reservation's
        life by the TTL, so a long stream is not reclaimed under its caller."""
        held = self._recent.get(reservation_id) or await self._held(reservation_id)
        cost = sum(self._pricer.cost(charge, held.model) for charge in charges)
        expires_at = self._clock() + self._ttl_seconds
        result = await self._report_script(
            keys=_script_keys(reservation_id, _counter_keys(held.buckets)),
            args=[reservation_id, cost, int(expires_at * 1000), self._ttl_seconds * 1000],
        )
        if result[0] == -1:
            raise _unknown_reservation(reservation_id)
        return UsageCheck(
            within_budget=result[0] == 1, cost_micros=cost, reserved_micros=result[1], expires_at=expires_at
        )

    @fails_closed
    async def settle(self, reservation_id: str, charges: Sequence[UsageCharge]) -> Settlement:
        """Charges the actual cost once; settling the same reservation again is RESERVATION_UNKNOWN."""
        held = self._recent.forget(reservation_id) or await self._held(reservation_id)
        costs = [self._pricer.cost(charge, held.model) for charge in charges]
        cost = sum(costs)
        now = self._clock()
        day = utc_day(now)
        last = charges[-1] if charges else UsageCharge(model=held.model, deployment="")
        ledger = {
            "reservation_id": reservation_id,
            "request_id": held.request_id,
            "tenant_id": held.principal.tenant_id,
            "team_id": held.principal.team_id,
            "key_id": held.principal.key_id,
            "user_id": held.principal.user_id,
            "model": last.model or held.model,
            "deployment": last.deployment,
            "prompt_tokens": sum(charge.prompt_tokens for charge in charges),
            "completion_tokens": sum(charge.completion_tokens for charge in charges),
            "cached_prompt_tokens": sum(charge.cached_prompt_tokens for charge in charges),
            "reasoning_tokens": sum(charge.reasoning_tokens for charge in charges),
            "cost_micros_usd": cost,
            "reserved_model": held.model,
            "buckets": json.dumps(held.buckets),
            "bucket_limits": json.dumps(held.limits),
            "day": day,
            "settled_at": repr(now),
            "charges": json.dumps(
                [
                    {
                        "model": charge.model,
                        "deployment": charge.deployment,
                        "prompt_tokens": charge.prompt_tokens,
                        "completion_tokens": charge.completion_tokens,
                        "cached_prompt_tokens": charge.cached_prompt_tokens,
                        "reasoning_tokens": charge.reasoning_tokens,
                        "cost_micros_usd": charge_cost,
                    }
                    for charge, charge_cost in zip(charges, costs, strict=True)
                ]
            ),
        }
        increments = spend_increments(held.principal, charges, costs, held.model)
        tokens_used = sum(charge.prompt_tokens + charge.completion_tokens for charge in charges)
        result = await self._settle_script(
            keys=[
                *_script_keys(
                    reservation_id,
                    _counter_keys(held.buckets),
                    storage.LEDGER,
                    storage.daily_spend(held.principal.tenant_id, day),
                ),
                *held.rate_windows,
            ],
            args=[
                reservation_id,
                cost,
                self._spend_ttl_seconds,
                len(held.buckets),
                tokens_used - held.rate_tokens,
                _json_pairs(ledger),
                _json_pairs(increments),
                int(now * 1000),
            ],
        )
        if result[0] == -1:
            raise _unknown_reservation(reservation_id)
        return Settlement(
            charged_micros=cost,
            refunded_micros=max(result[0] - cost, 0),
            buckets=[
                BucketCharge(bucket, cost, max(room, 0)) for bucket, room in zip(held.buckets, result[1:], strict=True)
            ],
        )

    @fails_closed
    async def release(self, reservation_id: str) -> int:
        """Returns the whole reservation; the amount returned."""
        returned = await self._return_hold(reservation_id)
        if returned is None:
            raise _unknown_reservation(reservation_id)
        return returned

    async def reclaim_expired(self) -> int:
        """Returns the money of reservations past their expiry (abandoned by a crashed caller); how many. The
        script checks the expiry again, so one extended by ReportUsage since it was listed stays."""
        now_ms = int(self._clock() * 1000)
        expired = await self._redis.zrangebyscore(
            storage.RESERVATION_EXPIRY, "-inf", now_ms, start=0, num=RECLAIM_BATCH
        )
        reclaimed = 0
        for reservation_id in expired:
            if await self._return_hold(reservation_id.decode(), expired_by_ms=now_ms) is not None:
                reclaimed += 1
        return reclaimed

    def _void_later(self, reservation_id: str) -> None:
        if len(self._voids) >= MAX_PENDING_VOIDS:
            log.warning("too many reservations to void; the reclaimer will return them", reservation_id=reservation_id)
            return
        task = asyncio.get_running_loop().create_task(self._void(reservation_id))
        self._voids.add(task)
        task.add_done_callback(self._voids.discard)

    async def _void(self, reservation_id: str) -> None:
        """Returns the reservation if its Authorize landed, else voids its id so that it never lands."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + VOID_RETRY_SECONDS
        pause = VOID_FIRST_PAUSE_SECONDS
        while True:
            try:
                returned = await self._return_hold(reservation_id)
                if returned is not None:
                    log.info("returned an authorization whose reply was lost", reservation_id=reservation_id)
                    return
                voided = await self._void_script(
                    keys=[storage.RESERVATION_HOLDS, storage.reservation_void(reservation_id)],
                    args=[reservation_id, self._ttl_seconds * 1000],
                )
                if voided == 1:
                    return
                # The Authorize landed between the two steps: return it now.
            except RedisError as exc:
                if loop.time() + pause > deadline:
                    log.warning(
                        "voiding an authorization failed; the reclaimer will return it if it landed",
                        reservation_id=reservation_id,
                        error=type(exc).__name__,
                    )
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, VOID_MAX_PAUSE_SECONDS)

    async def _return_hold(self, reservation_id: str, expired_by_ms: int = 0) -> int | None:
        """Returns a reservation's money and takes back the tokens it counted on rate limits (when its record,
        which names them, is still there: an expired one's windows have long passed). With `expired_by_ms`,
        only if its expiry is no later (reclaiming)."""
        held = self._recent.get(reservation_id)
        if held is not None:
            buckets, windows, tokens = held.buckets, held.rate_windows, held.rate_tokens
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hget(storage.RESERVATION_HOLDS, reservation_id)
                pipe.hmget(storage.reservation(reservation_id), "rate_windows", "rate_tokens")
                hold, (rate_windows, rate_tokens) = await pipe.execute()
            if hold is None:
                await self._redis.zrem(storage.RESERVATION_EXPIRY, reservation_id)
                return None
            buckets = json.loads(hold.decode().partition("|")[2])
            windows, tokens = _rate_windows(rate_windows), int(rate_tokens or 0)
        returned = await self._return_script(
            keys=[*_script_keys(reservation_id, _counter_keys(buckets)), *windows],
            args=[reservation_id, len(buckets), -tokens, expired_by_ms],
        )
        if returned == -2:
            return None
        self._recent.forget(reservation_id)
        return None if returned == -1 else returned

    async def _held(self, reservation_id: str) -> HeldReservation:
        """A reservation another replica made (or this one forgot), read from its record."""
        fields = storage.decoded(await self._redis.hgetall(storage.reservation(reservation_id)))
        if not fields:
            raise _unknown_reservation(reservation_id)
        return HeldReservation(
            principal=Principal(
                tenant_id=fields["tenant_id"],
                team_id=fields["team_id"],
                user_id=fields["user_id"],
                key_id=fields["key_id"],
            ),
            model=fields["model"],
            request_id=fields["request_id"],
            buckets=json.loads(fields["buckets"]),
            limits=json.loads(fields.get("limits", "[]")),
            rate_windows=_rate_windows(fields.get("rate_windows")),
            rate_tokens=int(fields.get("rate_tokens", 0)),
        )


async def reclaim_forever(meter: Meter, interval_seconds: float) -> None:
    """The background task that keeps abandoned reservations from holding budget forever."""
    while True:
        try:
            reclaimed = await meter.reclaim_expired()
        except RedisError as exc:
            log.warning("reclaiming expired reservations failed", error=type(exc).__name__)
            reclaimed = 0
        if reclaimed:
            log.info("reclaimed expired reservations", count=reclaimed)
        if reclaimed < RECLAIM_BATCH:
            await asyncio.sleep(interval_seconds)


def _past_soft_threshold(rule: BudgetRule, room_micros: int) -> bool:
    """Whether spend plus reservations have passed the rule's soft threshold (its alerting line)."""
    ratio = rule.soft_threshold_ratio
    return bool(ratio) and rule.limit_micros > 0 and rule.limit_micros - room_micros >= ratio * rule.limit_micros
