"""Malformed requests are refused with INVALID_ARGUMENT naming every bad field, before any money moves."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from sluicegate.common.v1 import chat_pb2
from sluicegate.metering.v1 import metering_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.settings import load_settings
from sluicegate_metering.settings import MeteringSettings
from sluicegate_metering.validation import VALIDATORS

# The documented maxima (README): tokens of each kind per call, and a budget's limit.
MAX_TOKENS_PER_CALL = 100_000_000
MAX_LIMIT_MICROS_USD = 10**15


def _bad_fields(request) -> set[str]:
    with pytest.raises(ServiceError) as caught:
        VALIDATORS[type(request)](request)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    bad = next(d for d in caught.value.details if isinstance(d, error_details_pb2.BadRequest))
    return {violation.field for violation in bad.field_violations}


def test_authorize_needs_a_tenant_a_model_and_sane_token_counts():
    assert _bad_fields(metering_pb2.AuthorizeRequest(prompt_tokens=-1, max_tokens=-5)) == {
        "principal.tenant_id",
        "model",
        "prompt_tokens",
        "max_tokens",
    }
    VALIDATORS[metering_pb2.AuthorizeRequest](
        metering_pb2.AuthorizeRequest(principal=chat_pb2.Principal(tenant_id="acme"), model="fast")
    )


def test_settle_refuses_negative_usage_and_anonymous_charges():
    charges = [
        metering_pb2.UsageCharge(model="fast", usage=chat_pb2.Usage(completion_tokens=-3)),
        metering_pb2.UsageCharge(usage=chat_pb2.Usage(prompt_tokens=1)),
    ]
    assert _bad_fields(metering_pb2.SettleRequest(charges=charges)) == {
        "reservation_id",
        "charges[0].usage.completion_tokens",
        "charges[1]",
    }


def test_rate_limits_need_a_scope_its_subject_and_sane_rates():
    limit = metering_pb2.RateLimit(requests_per_minute=-1, tokens_per_minute=-1)
    assert _bad_fields(metering_pb2.SetRateLimitRequest(rate_limit=limit)) == {
        "rate_limit.scope",
        "rate_limit.requests_per_minute",
        "rate_limit.tokens_per_minute",
    }
    tenant = metering_pb2.RateLimit(scope=metering_pb2.RATE_LIMIT_SCOPE_TENANT, subject_id="globex")
    assert _bad_fields(metering_pb2.SetRateLimitRequest(rate_limit=tenant)) == {
        "rate_limit.tenant_id",
        "rate_limit.subject_id",
    }
    model = metering_pb2.RateLimit(scope=metering_pb2.RATE_LIMIT_SCOPE_MODEL)
    assert _bad_fields(metering_pb2.SetRateLimitRequest(rate_limit=model)) == {"rate_limit.subject_id"}
    every_tenant = metering_pb2.RateLimit(scope=metering_pb2.RATE_LIMIT_SCOPE_MODEL, subject_id="fast")
    VALIDATORS[metering_pb2.SetRateLimitRequest](metering_pb2.SetRateLimitRequest(rate_limit=every_tenant))


def test_exports_need_a_tenant_and_real_days():
    assert _bad_fields(metering_pb2.ExportSpendRequest(start_day="yesterday")) == {"tenant_id", "start_day"}


def test_budgets_need_a_scope_a_window_a_subject_and_a_sane_threshold():
    budget = metering_pb2.Budget(tenant_id="acme", limit_micros_usd=-1, soft_threshold_ratio=1.5, reset_hour_utc=24)
    assert _bad_fields(metering_pb2.SetBudgetRequest(budget=budget)) == {
        "budget.scope",
        "budget.window",
        "budget.limit_micros_usd",
        "budget.soft_threshold_ratio",
        "budget.reset_hour_utc",
    }
    team = metering_pb2.Budget(
        scope=metering_pb2.BUDGET_SCOPE_TEAM, tenant_id="acme", window=metering_pb2.BUDGET_WINDOW_DAILY
    )
    assert _bad_fields(metering_pb2.SetBudgetRequest(budget=team)) == {"budget.subject_id"}


def test_spend_days_must_be_dates():
    request = metering_pb2.GetSpendRequest(tenant_id="acme", start_day="yesterday", end_day="2026-11-31")
    assert _bad_fields(request) == {"start_day", "end_day"}


def test_a_bootstrap_key_without_a_tenant_stops_the_start_without_echoing_the_key(monkeypatch, capsys):
    monkeypatch.setenv("METERING_BOOTSTRAP_KEY", "sg-very-secret-bootstrap")
    with pytest.raises(SystemExit):
        load_settings(MeteringSettings)
    error = capsys.readouterr().err
    assert "METERING_BOOTSTRAP_TENANT" in error and "very-secret" not in error


def test_token_counts_past_the_per_call_maximum_are_refused_naming_the_field():
    principal = chat_pb2.Principal(tenant_id="acme")
    huge = metering_pb2.AuthorizeRequest(principal=principal, model="fast", prompt_tokens=10**17, max_tokens=2**63 - 1)
    assert _bad_fields(huge) == {"prompt_tokens", "max_tokens"}
    most = metering_pb2.AuthorizeRequest(
        principal=principal, model="fast", prompt_tokens=MAX_TOKENS_PER_CALL, max_tokens=MAX_TOKENS_PER_CALL
    )
    VALIDATORS[metering_pb2.AuthorizeRequest](most)

    usage = chat_pb2.Usage(completion_tokens=10**18, cached_prompt_tokens=2**62, total_tokens=MAX_TOKENS_PER_CALL + 1)
    charge = metering_pb2.UsageCharge(model="fast", usage=usage)
    for request_type in (metering_pb2.SettleRequest, metering_pb2.ReportUsageRequest):
        assert _bad_fields(request_type(reservation_id="rsv_1", charges=[charge])) == {
            "charges[0].usage.completion_tokens",
            "charges[0].usage.cached_prompt_tokens",
            "charges[0].usage.total_tokens",
        }
    # Each charge within the maximum, together beyond it: a call's tokens are bounded, not just each attempt's.
    half = metering_pb2.UsageCharge(model="fast", usage=chat_pb2.Usage(prompt_tokens=MAX_TOKENS_PER_CALL // 2 + 1))
    assert _bad_fields(metering_pb2.SettleRequest(reservation_id="rsv_1", charges=[half, half])) == {
        "charges.usage.prompt_tokens"
    }


def test_a_budget_limit_past_the_maximum_is_refused():
    budget = metering_pb2.Budget(
        scope=metering_pb2.BUDGET_SCOPE_TENANT,
        tenant_id="acme",
        window=metering_pb2.BUDGET_WINDOW_LIFETIME,
        limit_micros_usd=2**63 - 1,
    )
    assert _bad_fields(metering_pb2.SetBudgetRequest(budget=budget)) == {"budget.limit_micros_usd"}
    budget.limit_micros_usd = MAX_LIMIT_MICROS_USD
    VALIDATORS[metering_pb2.SetBudgetRequest](metering_pb2.SetBudgetRequest(budget=budget))


@pytest.mark.parametrize(
    "bad", ["acme/x", "x:y", "*", "{acme}", "a b", "tab\there", "nul\x00", "zw\u200bsp", "x" * 129]
)
def test_ids_that_would_collide_in_a_bucket_or_a_subject_are_refused_where_they_are_created(bad):
    key = metering_pb2.ApiKey(tenant_id=bad, team_id=bad, user_id=bad)
    assert _bad_fields(metering_pb2.CreateApiKeyRequest(key=key)) == {"key.tenant_id", "key.team_id", "key.user_id"}
    team = metering_pb2.Budget(
        scope=metering_pb2.BUDGET_SCOPE_TEAM, tenant_id=bad, subject_id=bad, window=metering_pb2.BUDGET_WINDOW_DAILY
    )
    assert _bad_fields(metering_pb2.SetBudgetRequest(budget=team)) == {"budget.tenant_id", "budget.subject_id"}
    tenant_limit = metering_pb2.RateLimit(
        scope=metering_pb2.RATE_LIMIT_SCOPE_TENANT, tenant_id=bad, requests_per_minute=1
    )
    assert _bad_fields(metering_pb2.SetRateLimitRequest(rate_limit=tenant_limit)) == {"rate_limit.tenant_id"}
    model_limit = metering_pb2.RateLimit(
        scope=metering_pb2.RATE_LIMIT_SCOPE_MODEL, tenant_id=bad, subject_id="fast", requests_per_minute=1
    )
    assert _bad_fields(metering_pb2.SetRateLimitRequest(rate_limit=model_limit)) == {"rate_limit.tenant_id"}


@pytest.mark.parametrize("good", ["acme", "demo", "other-tenant", "key_1", 'ré"\\🚀eng', "ユーザー", "x" * 128])
def test_ordinary_ids_pass(good):
    key = metering_pb2.ApiKey(tenant_id=good, team_id=good, user_id=good)
    VALIDATORS[metering_pb2.CreateApiKeyRequest](metering_pb2.CreateApiKeyRequest(key=key))
    user = metering_pb2.Budget(
        scope=metering_pb2.BUDGET_SCOPE_USER, tenant_id=good, subject_id=good, window=metering_pb2.BUDGET_WINDOW_DAILY
    )
    VALIDATORS[metering_pb2.SetBudgetRequest](metering_pb2.SetBudgetRequest(budget=user))


def test_a_bootstrap_tenant_that_is_not_a_valid_id_stops_the_start(monkeypatch, capsys):
    monkeypatch.setenv("METERING_BOOTSTRAP_KEY", "sg-bootstrap")
    monkeypatch.setenv("METERING_BOOTSTRAP_TENANT", "demo/x")
    with pytest.raises(SystemExit):
        load_settings(MeteringSettings)
    assert "METERING_BOOTSTRAP_TENANT" in capsys.readouterr().err
