"""Budgets: their configuration, which apply to a principal, and the buckets (one per window) they count in."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from sluicegate_metering import storage
from sluicegate_metering.records import BucketState, BudgetRule, BudgetStatus, Principal, Scope, Window
from sluicegate_metering.storage import fails_closed

# Buckets outlive their window a little, so a reservation made just before midnight still settles into it.
BUCKET_GRACE = timedelta(days=2)
HOUR_SECONDS = 3600
# How many principals' budget views a replica keeps (the oldest is dropped first).
MAX_CACHED_VIEWS = 10_000


def utc_day(now: float) -> str:
    return _utc_day_of_hour(int(now // HOUR_SECONDS))


@functools.lru_cache(maxsize=64)
def _utc_day_of_hour(hour: int) -> str:
    return datetime.fromtimestamp(hour * HOUR_SECONDS, UTC).strftime("%Y-%m-%d")


def bucket_id(rule: BudgetRule, now: float) -> str:
    """`tenant:acme:daily:2026-11-29`, `team:acme/eng:monthly:2026-11`, `key:key_1f2e:lifetime`.

    Team and user ids are only unique inside a tenant, so their buckets carry the tenant too.
    """
    subject = rule.subject_id if rule.scope in (Scope.TENANT, Scope.KEY) else f"{rule.tenant_id}/{rule.subject_id}"
    # A window that resets at 08:00 UTC is labelled by the date it started on, plus its hour ("2026-11-29T08").
    moment = datetime.fromtimestamp(now - rule.reset_hour_utc * HOUR_SECONDS, UTC)
    hour = f"T{rule.reset_hour_utc:02d}" if rule.reset_hour_utc else ""
    period = {
        Window.DAILY: f":{moment:%Y-%m-%d}{hour}",
        Window.MONTHLY: f":{moment:%Y-%m}{hour}",
        Window.LIFETIME: "",
    }[rule.window]
    return f"{rule.scope}:{subject}:{rule.window}{period}"


def bucket_expires_at(window: Window, now: float, reset_hour_utc: int = 0) -> int:
    """When a bucket's counters may be dropped (epoch seconds), 0 for never."""
    shift = timedelta(hours=reset_hour_utc)
    moment = datetime.fromtimestamp(now, UTC) - shift
    if window is Window.DAILY:
        end = datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)
    elif window is Window.MONTHLY:
        end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    else:
        return 0
    return int((end + shift + BUCKET_GRACE).timestamp())


def bucket_expires_at_from_id(bucket: str) -> int:
    """When a bucket's counters may be dropped, read from its id (`...:daily:2026-11-29`); 0 for never."""
    head, _, period = bucket.rpartition(":")
    if period == Window.LIFETIME:
        return 0
    window = Window(head.rpartition(":")[2])
    date, _, hour = period.partition("T")
    reset_hour = int(hour) if hour else 0
    start = datetime.strptime(date, "%Y-%m-%d" if window is Window.DAILY else "%Y-%m").replace(tzinfo=UTC)
    return bucket_expires_at(window, start.timestamp() + reset_hour * HOUR_SECONDS, reset_hour)


def _field(scope: Scope, window: Window, subject_id: str) -> str:
    return f"{scope}:{window}:{subject_id}"


def _rule(tenant_id: str, field: str, value: str) -> BudgetRule:
    scope, window, subject_id = field.split(":", 2)
    settings = json.loads(value)
    return BudgetRule(
        scope=Scope(scope),
        subject_id=subject_id,
        tenant_id=tenant_id,
        window=Window(window),
        limit_micros=settings["limit_micros"],
        soft_threshold_ratio=settings["soft_threshold_ratio"],
        allow_downgrade=settings["allow_downgrade"],
        reset_hour_utc=settings.get("reset_hour_utc", 0),
    )


def _candidate_fields(principal: Principal) -> tuple[str, ...]:
    """Every budget field that would apply to the principal if set, in the order `rules` lists them."""
    subjects = {
        Scope.TENANT: principal.tenant_id,
        Scope.TEAM: principal.team_id,
        Scope.KEY: principal.key_id,
        Scope.USER: principal.user_id,
    }
    return tuple(
        sorted(_field(scope, window, subject) for scope, subject in subjects.items() if subject for window in Window)
    )


@dataclass(frozen=True)
class BudgetView:
    """The budgets that apply to one principal, with the stored settings they were read from.

    A view is cached, and the authorize script compares the stored values it was read from (`stored_json`,
    one per field of `fields_json`, "" for a field not set) with the tenant's budget hash in the same
    atomic step that reserves: a view made stale by any change (on any replica, or by hand) is refused there
    and read again, so no reservation is ever made under an outdated budget.
    """

    key: str
    rules: tuple[BudgetRule, ...]
    fields_json: str
    stored_json: str
    _placed: dict[int, PlacedBudgets] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def placed(self, now: float) -> PlacedBudgets:
        """Where the budgets count at `now`. Windows start on whole UTC hours, so that is worked out once an
        hour."""
        hour = int(now // HOUR_SECONDS)
        placed = self._placed.get(hour)
        if placed is None:
            placed = PlacedBudgets.at(self.rules, hour * HOUR_SECONDS)
            self._placed.clear()
            self._placed[hour] = placed
        return placed


@dataclass(frozen=True)
class PlacedBudgets:
    """The buckets budgets count in during one hour, in the forms the authorize script takes."""

    buckets: list[str]
    buckets_json: str
    counter_keys: list[str]
    limits_json: str
    # Per bucket: its limit, when its counters may be dropped, whether its budget allows a downgrade.
    script_args: list[int]

    @classmethod
    def at(cls, rules: Sequence[BudgetRule], now: float) -> PlacedBudgets:
        buckets = [bucket_id(rule, now) for rule in rules]
        script_args = []
        for rule in rules:
            script_args += [
                rule.limit_micros,
                bucket_expires_at(rule.window, now, rule.reset_hour_utc),
                int(rule.allow_downgrade),
            ]
        return cls(
            buckets=buckets,
            buckets_json=json.dumps(buckets),
            counter_keys=[storage.bucket_counters(bucket) for bucket in buckets],
            limits_json=json.dumps([rule.limit_micros for rule in rules]),
            script_args=script_args,
        )


class BudgetBook:
    """Budget configuration in Redis (one hash per tenant) plus the optional default tenant daily budget."""

    def __init__(
        self, client: aioredis.Redis, clock: Callable[[], float], default_tenant_daily_micros: int = 0
    ) -> None:
        self._redis = client
        self._clock = clock
        self._default_tenant_daily_micros = default_tenant_daily_micros
        self._views: dict[tuple[str, str, str, str], BudgetView] = {}

    @fails_closed
    async def set(self, rule: BudgetRule) -> BudgetStatus:
        settings = {
            "limit_micros": rule.limit_micros,
            "soft_threshold_ratio": rule.soft_threshold_ratio,
            "allow_downgrade": rule.allow_downgrade,
            "reset_hour_utc": rule.reset_hour_utc,
        }
        await self._redis.hset(
            storage.tenant_budgets(rule.tenant_id),
            _field(rule.scope, rule.window, rule.subject_id),
            json.dumps(settings),
        )
        return (await self._statuses([rule]))[0]

    @fails_closed
    async def rules(self, tenant_id: str) -> list[BudgetRule]:
        """Every budget of a tenant, the default tenant daily budget included when it has no explicit one."""
        stored = await self._redis.hgetall(storage.tenant_budgets(tenant_id))
        rules = [_rule(tenant_id, field, value) for field, value in sorted(storage.decoded(stored).items())]
        return self._with_default(tenant_id, rules)

    def _with_default(self, tenant_id: str, rules: list[BudgetRule]) -> list[BudgetRule]:
        has_tenant_daily = any(rule.scope is Scope.TENANT and rule.window is Window.DAILY for rule in rules)
        if self._default_tenant_daily_micros and not has_tenant_daily:
            rules.append(
                BudgetRule(Scope.TENANT, tenant_id, tenant_id, Window.DAILY, self._default_tenant_daily_micros)
            )
        return rules

    async def view(self, principal: Principal, stale: BudgetView | None = None) -> BudgetView:
        """The budgets that apply to the principal: the cached view, or one read afresh when there is none or
        the authorize script refused `stale`."""
        cache_key = (principal.tenant_id, principal.team_id, principal.key_id, principal.user_id)
        cached = self._views.get(cache_key)
        if cached is not None and cached is not stale:
            return cached
        budgets_key = storage.tenant_budgets(principal.tenant_id)
        fields = _candidate_fields(principal)
        values = await self._redis.hmget(budgets_key, fields)
        stored = tuple("" if value is None else value.decode() for value in values)
        rules = [_rule(principal.tenant_id, field, value) for field, value in zip(fields, stored, strict=True) if value]
        view = BudgetView(
            budgets_key,
            tuple(self._with_default(principal.tenant_id, rules)),
            json.dumps(fields, ensure_ascii=False),
            json.dumps(stored, ensure_ascii=False),
        )
        self._views.pop(cache_key, None)
        if len(self._views) >= MAX_CACHED_VIEWS:
            del self._views[next(iter(self._views))]
        self._views[cache_key] = view
        return view

    @fails_closed
    async def statuses(self, tenant_id: str) -> list[BudgetStatus]:
        return await self._statuses(await self.rules(tenant_id))

    async def _statuses(self, rules: Sequence[BudgetRule]) -> list[BudgetStatus]:
        now = self._clock()
        states = await self.bucket_states([bucket_id(rule, now) for rule in rules])
        return [
            BudgetStatus(rule, BucketState(state.bucket, rule.limit_micros, state.spent_micros, state.reserved_micros))
            for rule, state in zip(rules, states, strict=True)
        ]

    async def bucket_states(self, bucket_ids: Sequence[str]) -> list[BucketState]:
        """The counters of buckets, with the limit each had when it was last reserved on."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for bucket in bucket_ids:
                pipe.hmget(storage.bucket_counters(bucket), "limit", "spent", "reserved")
            rows = await pipe.execute()
        return [
            BucketState(bucket, *(int(value or 0) for value in row))
            for bucket, row in zip(bucket_ids, rows, strict=True)
        ]
