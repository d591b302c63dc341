"""Per-day spend aggregates: what a settlement adds to them, and reports grouped by day, model, team, key or user."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, timedelta

import redis.asyncio as aioredis

from sluicegate.runtime.errors import invalid_argument
from sluicegate_metering import storage
from sluicegate_metering.budgets import utc_day
from sluicegate_metering.records import Principal, SpendExportRow, SpendGroup, SpendRow, UsageCharge
from sluicegate_metering.storage import fails_closed

# A day's aggregate hash has fields `<dimension>:<value>:<metric>`; the day's totals use the dimension
# "total" with an empty value, and a day report reads those. The dimension "row" has as value the JSON list
# [team, key, user, model]: the finest grouping, which the export reads.
TOTAL = "total"
ROW = "row"
METRICS = ("micros", "requests", "prompt_tokens", "completion_tokens")
MAX_REPORT_DAYS = 366


def spend_increments(
    principal: Principal, charges: Sequence[UsageCharge], costs: Sequence[int], reserved_model: str
) -> dict[str, int]:
    """What one settled request adds to its day. Tokens and money go to each charge's own model; the request
    counts once, for the model that answered last (a fallback's, when the first model failed)."""
    increments: dict[str, int] = {}

    def add(model: str, **amounts: int) -> None:
        groups = (
            (TOTAL, ""),
            (SpendGroup.MODEL.value, model),
            (SpendGroup.TEAM.value, principal.team_id),
            (SpendGroup.KEY.value, principal.key_id),
            (SpendGroup.USER.value, principal.user_id),
            (ROW, json.dumps([principal.team_id, principal.key_id, principal.user_id, model])),
        )
        for dimension, value in groups:
            prefix = f"{dimension}:{value}:"
            for metric, amount in amounts.items():
                field = prefix + metric
                increments[field] = increments.get(field, 0) + amount

    for charge, cost in zip(charges, costs, strict=True):
        add(
            charge.model or reserved_model,
            micros=cost,
            prompt_tokens=charge.prompt_tokens,
            completion_tokens=charge.completion_tokens,
        )
    add((charges[-1].model or reserved_model) if charges else reserved_model, requests=1)
    return {field: amount for field, amount in increments.items() if amount}


def days_between(start_day: str, end_day: str) -> list[str]:
    """Each day from start to end, or INVALID_ARGUMENT when that is none or more than MAX_REPORT_DAYS (checked
    before listing them: 0001-01-01..9999-12-31 would be 3.6 million)."""
    start, end = date.fromisoformat(start_day), date.fromisoformat(end_day)
    count = (end - start).days + 1
    if not 1 <= count <= MAX_REPORT_DAYS:
        raise invalid_argument(
            {"end_day": f"must be on or after start_day, at most {MAX_REPORT_DAYS} days later (empty = today)"}
        )
    return [(start + timedelta(days=offset)).isoformat() for offset in range(count)]


class SpendReport:
    """Reads the per-day aggregates the settle script maintains."""

    def __init__(self, client: aioredis.Redis, clock: Callable[[], float]) -> None:
        self._redis = client
        self._clock = clock

    async def _days(self, tenant_id: str, start_day: str, end_day: str) -> list[tuple[str, dict[str, str]]]:
        """Each day from start to end (each empty = today) with its aggregate."""
        today = utc_day(self._clock())
        days = days_between(start_day or today, end_day or today)
        async with self._redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(storage.daily_spend(tenant_id, day))
            aggregates = await pipe.execute()
        return [(day, storage.decoded(aggregate)) for day, aggregate in zip(days, aggregates, strict=True)]

    @fails_closed
    async def report(self, tenant_id: str, group: SpendGroup, start_day: str = "", end_day: str = "") -> list[SpendRow]:
        """Spend grouped by `group` over the days from start to end (each empty = today), largest first."""
        totals: dict[str, Counter[str]] = {}
        for day, aggregate in await self._days(tenant_id, start_day, end_day):
            for field, value in aggregate.items():
                dimension, group_value, metric = _split(field)
                if group is SpendGroup.DAY and dimension == TOTAL:
                    totals.setdefault(day, Counter())[metric] += int(value)
                elif dimension == group:
                    totals.setdefault(group_value, Counter())[metric] += int(value)
        rows = [SpendRow(name, *(metrics[metric] for metric in METRICS)) for name, metrics in totals.items()]
        return sorted(rows, key=lambda row: (-row.spent_micros, row.group))

    @fails_closed
    async def export(self, tenant_id: str, start_day: str = "", end_day: str = "") -> list[SpendExportRow]:
        """The spend of every day, team, key, user and model over the days, by day then largest spend first."""
        rows = []
        for day, aggregate in await self._days(tenant_id, start_day, end_day):
            totals: dict[str, Counter[str]] = {}
            for field, value in aggregate.items():
                dimension, group_value, metric = _split(field)
                if dimension == ROW:
                    totals.setdefault(group_value, Counter())[metric] += int(value)
            day_rows = [
                SpendExportRow(day, tenant_id, *json.loads(group), *(metrics[metric] for metric in METRICS))
                for group, metrics in totals.items()
            ]
            rows += sorted(day_rows, key=lambda row: (-row.spent_micros, row.team_id, row.key_id, row.model))
        return rows


def _split(field: str) -> tuple[str, str, str]:
    """`model:balanced:micros` -> ("model", "balanced", "micros"); values may hold colons, metrics never do."""
    dimension, rest = field.split(":", 1)
    value, metric = rest.rsplit(":", 1)
    return dimension, value, metric
