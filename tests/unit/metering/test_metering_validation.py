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
