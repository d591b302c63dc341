"""Request validators: each raises INVALID_ARGUMENT naming the bad fields before a servicer runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.message import Message

from sluicegate.metering.v1 import metering_pb2
from sluicegate.runtime.errors import invalid_argument

Validator = Callable[[Message], None]

# The most tokens of each kind one call may count (prompt, completion, cached, reasoning, total, max_tokens;
# in Settle and ReportUsage also summed over the charges): far beyond any context window, and small enough
# that every cost, reservation and token correction stays an exact integer in Lua (below 2^53).
MAX_TOKENS_PER_CALL = 100_000_000
# The largest budget limit (a billion USD): spent + reserved + limit stays exact in Lua's doubles.
MAX_LIMIT_MICROS_USD = 10**15
# Tenant, team and user ids go into bucket ids (`team:{tenant}/{team}:...`), rate-limit subjects
# (`model:{tenant}/{model}`, `*` = every tenant) and Redis keys (`sg:spend:{tenant}:{day}`): none of the
# separators may appear in them, nor anything unprintable.
MAX_ID_LENGTH = 128
_ID_SEPARATORS = frozenset("/:*{}")
USAGE_TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "cached_prompt_tokens", "reasoning_tokens", "total_tokens")


def _value(message: Message, path: str) -> object:
    """The field at a dotted path, such as `principal.tenant_id`."""
    value: object = message
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _missing(request: Message, *paths: str) -> dict[str, str]:
    return {path: "is required" for path in paths if not _value(request, path)}


def _negative(request: Message, *paths: str) -> dict[str, str]:
    return {path: "must not be negative" for path in paths if _value(request, path) < 0}


def _too_many_tokens(request: Message, *paths: str) -> dict[str, str]:
    return {
        path: f"must be at most {MAX_TOKENS_PER_CALL:,}"
        for path in paths
        if _value(request, path) > MAX_TOKENS_PER_CALL
    }


def id_problem(value: str) -> str | None:
    """Why `value` cannot be a tenant, team or user id, or None when it can (empty is checked elsewhere)."""
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters"
    if any(char in _ID_SEPARATORS or char.isspace() or not char.isprintable() for char in value):
        return "must not contain '/', ':', '*', '{', '}', whitespace or control characters"
    return None


def _bad_ids(request: Message, *paths: str) -> dict[str, str]:
    problems = {path: id_problem(_value(request, path)) for path in paths}
    return {path: problem for path, problem in problems.items() if problem}


def _raise_if(violations: dict[str, str]) -> None:
    if violations:
        raise invalid_argument(violations)


def _requiring(*paths: str) -> Validator:
    """A validator for requests whose only rule is that some fields are set."""

    def validate(request: Message) -> None:
        _raise_if(_missing(request, *paths))

    return validate


def _is_day(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _charge_violations(charges: Sequence[metering_pb2.UsageCharge]) -> dict[str, str]:
    violations = {}
    totals = dict.fromkeys(USAGE_TOKEN_FIELDS, 0)
    for index, charge in enumerate(charges):
        usage = charge.usage
        for name in USAGE_TOKEN_FIELDS:
            count = getattr(usage, name)
            totals[name] += count
            if count < 0:
                violations[f"charges[{index}].usage.{name}"] = "must not be negative"
            elif count > MAX_TOKENS_PER_CALL:
                violations[f"charges[{index}].usage.{name}"] = f"must be at most {MAX_TOKENS_PER_CALL:,}"
        if not charge.model and not charge.deployment:
            violations[f"charges[{index}]"] = "needs a model or a deployment"
    if not violations:
        for name, total in totals.items():
            if total > MAX_TOKENS_PER_CALL:
                violations[f"charges.usage.{name}"] = f"must sum to at most {MAX_TOKENS_PER_CALL:,} over the charges"
    return violations


def validate_authorize(request: metering_pb2.AuthorizeRequest) -> None:
    _raise_if(
        {
            **_missing(request, "principal.tenant_id", "model"),
            **_too_many_tokens(request, "prompt_tokens", "max_tokens"),
            **_negative(request, "prompt_tokens", "max_tokens"),
        }
    )


def validate_usage(request: metering_pb2.ReportUsageRequest | metering_pb2.SettleRequest) -> None:
    _raise_if({**_missing(request, "reservation_id"), **_charge_violations(request.charges)})


def validate_create_key(request: metering_pb2.CreateApiKeyRequest) -> None:
    _raise_if(
        {
            **_bad_ids(request, "key.tenant_id", "key.team_id", "key.user_id"),
            **_missing(request, "key.tenant_id"),
            **_negative(request, "key.requests_per_minute", "key.tokens_per_minute"),
        }
    )


def _known(value: int, enum: EnumTypeWrapper, unspecified: int) -> bool:
    return value in enum.values() and value != unspecified


def validate_set_budget(request: metering_pb2.SetBudgetRequest) -> None:
    budget = request.budget
    violations = {
        **_bad_ids(request, "budget.tenant_id", "budget.subject_id"),
        **_missing(request, "budget.tenant_id"),
        **_negative(request, "budget.limit_micros_usd"),
    }
    if budget.limit_micros_usd > MAX_LIMIT_MICROS_USD:
        violations["budget.limit_micros_usd"] = f"must be at most {MAX_LIMIT_MICROS_USD:,}"
    if not _known(budget.scope, metering_pb2.BudgetScope, metering_pb2.BUDGET_SCOPE_UNSPECIFIED):
        violations["budget.scope"] = "must be tenant, team, key or user"
    elif budget.scope == metering_pb2.BUDGET_SCOPE_TENANT:
        if budget.subject_id not in ("", budget.tenant_id):
            violations["budget.subject_id"] = "must be the tenant id for a tenant budget"
    elif not budget.subject_id:
        violations["budget.subject_id"] = "is required"
    if not _known(budget.window, metering_pb2.BudgetWindow, metering_pb2.BUDGET_WINDOW_UNSPECIFIED):
        violations["budget.window"] = "must be daily, monthly or lifetime"
    if not 0 <= budget.soft_threshold_ratio <= 1:
        violations["budget.soft_threshold_ratio"] = "must be between 0 and 1"
    if not 0 <= budget.reset_hour_utc <= 23:
        violations["budget.reset_hour_utc"] = "must be an hour from 0 to 23"
    _raise_if(violations)


def validate_set_rate_limit(request: metering_pb2.SetRateLimitRequest) -> None:
    limit = request.rate_limit
    # A model limit's subject is a model, checked against the catalog; a tenant limit's is the tenant.
    violations = {
        **_bad_ids(request, "rate_limit.tenant_id"),
        **_negative(request, "rate_limit.requests_per_minute", "rate_limit.tokens_per_minute"),
    }
    if limit.scope == metering_pb2.RATE_LIMIT_SCOPE_TENANT:
        violations.update(_missing(request, "rate_limit.tenant_id"))
        if limit.subject_id not in ("", limit.tenant_id):
            violations["rate_limit.subject_id"] = "must be the tenant id for a tenant limit"
    elif limit.scope == metering_pb2.RATE_LIMIT_SCOPE_MODEL:
        violations.update(_missing(request, "rate_limit.subject_id"))
    else:
        violations["rate_limit.scope"] = "must be tenant or model"
    _raise_if(violations)


def _day_violations(request: Message) -> dict[str, str]:
    violations = {}
    for name in ("start_day", "end_day"):
        value = getattr(request, name)
        if value and not _is_day(value):
            violations[name] = "must be a date as YYYY-MM-DD"
    return violations


def validate_spend(request: metering_pb2.GetSpendRequest) -> None:
    violations = {**_missing(request, "tenant_id"), **_day_violations(request)}
    if request.group_by not in metering_pb2.SpendGroup.values():
        violations["group_by"] = "is not a known grouping"
    _raise_if(violations)


def validate_export(request: metering_pb2.ExportSpendRequest) -> None:
    _raise_if({**_missing(request, "tenant_id"), **_day_violations(request)})


VALIDATORS: dict[type, Validator] = {
    metering_pb2.AuthorizeRequest: validate_authorize,
    metering_pb2.ReportUsageRequest: validate_usage,
    metering_pb2.SettleRequest: validate_usage,
    metering_pb2.ReleaseRequest: _requiring("reservation_id"),
    metering_pb2.CreateApiKeyRequest: validate_create_key,
    metering_pb2.RotateApiKeyRequest: _requiring("key_id"),
    metering_pb2.RevokeApiKeyRequest: _requiring("key_id"),
    metering_pb2.SetBudgetRequest: validate_set_budget,
    metering_pb2.GetBudgetStatusRequest: _requiring("tenant_id"),
    metering_pb2.GetSpendRequest: validate_spend,
    metering_pb2.SetRateLimitRequest: validate_set_rate_limit,
    metering_pb2.ExportSpendRequest: validate_export,
}
