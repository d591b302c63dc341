"""Metering's domain records: principals, API keys, budgets, usage, reservations and spend."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Scope(StrEnum):
    """The level a budget applies at."""

    TENANT = "tenant"
    TEAM = "team"
    KEY = "key"
    USER = "user"


class Window(StrEnum):
    """The period a budget resets on (UTC)."""

    DAILY = "daily"
    MONTHLY = "monthly"
    LIFETIME = "lifetime"


class RateScope(StrEnum):
    """What a rate limit set by an administrator counts."""

    TENANT = "tenant"
    MODEL = "model"


class SpendGroup(StrEnum):
    """The dimension a spend report is grouped by."""

    DAY = "day"
    MODEL = "model"
    TEAM = "team"
    KEY = "key"
    USER = "user"


@dataclass(frozen=True)
class Principal:
    """Who a key belongs to and which logical models it may use (none listed = all)."""

    tenant_id: str
    team_id: str = ""
    user_id: str = ""
    key_id: str = ""
    allowed_models: tuple[str, ...] = ()

    def may_use(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


@dataclass(frozen=True)
class KeySpec:
    """What an API key's creator chooses."""

    tenant_id: str
    name: str = ""
    team_id: str = ""
    user_id: str = ""
    allowed_models: tuple[str, ...] = ()
    expires_at: float | None = None
    requests_per_minute: int = 0
    tokens_per_minute: int = 0


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored (its secret only as a salted hash, which never leaves the store)."""

    key_id: str
    spec: KeySpec
    created_at: float
    prefix: str
    revoked: bool = False

    @property
    def principal(self) -> Principal:
        return Principal(
            tenant_id=self.spec.tenant_id,
            team_id=self.spec.team_id,
            user_id=self.spec.user_id,
            key_id=self.key_id,
            allowed_models=self.spec.allowed_models,
        )

    def expired(self, now: float) -> bool:
        return self.spec.expires_at is not None and self.spec.expires_at <= now


@dataclass(frozen=True)
class IssuedKey:
    """A key with its secret: returned once, at creation or rotation."""

    record: ApiKeyRecord
    secret: str


@dataclass(frozen=True)
class BudgetRule:
    """A spending limit on one subject (tenant, team, key or user) over one window."""

    scope: Scope
    subject_id: str
    tenant_id: str
    window: Window
    limit_micros: int
    soft_threshold_ratio: float = 0.0
    allow_downgrade: bool = False
    reset_hour_utc: int = 0

    def applies_to(self, principal: Principal) -> bool:
        if self.tenant_id != principal.tenant_id:
            return False
        subject = {
            Scope.TENANT: principal.tenant_id,
            Scope.TEAM: principal.team_id,
            Scope.KEY: principal.key_id,
            Scope.USER: principal.user_id,
        }[self.scope]
        return bool(subject) and subject == self.subject_id


@dataclass(frozen=True)
class RateLimitRule:
    """Requests and tokens per minute (0 = unlimited) for a tenant, or for a model of one tenant or of all."""

    scope: RateScope
    tenant_id: str
    subject_id: str
    requests_per_minute: int = 0
    tokens_per_minute: int = 0


@dataclass(frozen=True)
class BucketState:
    """One budget bucket's counters: what its window has been charged and what calls in flight hold."""

    bucket: str
    limit_micros: int
    spent_micros: int
    reserved_micros: int

    @property
    def room_micros(self) -> int:
        """What can still be reserved; negative once settled overage pushed spend past the limit."""
        return self.limit_micros - self.spent_micros - self.reserved_micros


@dataclass(frozen=True)
class BudgetStatus:
    """A budget with the counters of its current bucket."""

    rule: BudgetRule
    state: BucketState

    @property
    def soft_threshold_reached(self) -> bool:
        ratio = self.rule.soft_threshold_ratio
        return ratio > 0 and self.state.spent_micros >= ratio * self.rule.limit_micros


@dataclass(frozen=True)
class UsageCharge:
    """The tokens one provider call consumed, to be priced at its deployment's price."""

    model: str
    deployment: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class BucketCharge:
    """Money moved on one bucket, and what the bucket has left afterwards."""

    bucket: str
    charged_micros: int
    remaining_micros: int
    limit_micros: int = 0
    soft_threshold_reached: bool = False


@dataclass(frozen=True)
class Reservation:
    """Worst-case money held on every applicable bucket until the call is settled or released."""

    reservation_id: str
    amount_micros: int
    model: str
    downgraded_from: str
    expires_at: float
    buckets: list[BucketCharge] = field(default_factory=list)


@dataclass(frozen=True)
class Settlement:
    """The actual cost charged for a reservation and the part of it returned."""

    charged_micros: int
    refunded_micros: int
    buckets: list[BucketCharge]


@dataclass(frozen=True)
class UsageCheck:
    """Whether a stream's usage so far fits its reservation, grown when its buckets had room, and until when
    the reservation now lives."""

    within_budget: bool
    cost_micros: int
    reserved_micros: int
    expires_at: float


@dataclass(frozen=True)
class SpendRow:
    """One group of a spend report."""

    group: str
    spent_micros: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class SpendExportRow:
    """The spend of one day, team, key, user and model."""

    day: str
    tenant_id: str
    team_id: str
    key_id: str
    user_id: str
    model: str
    spent_micros: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
