"""Retry-After is read in every form providers send it; failures sort into retry, refuse and reject."""

from __future__ import annotations

import email.utils

import pytest

from sluicegate.common.v1 import decision_pb2
from sluicegate_router.failures import Failure, outcome_for_status, retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"Retry-After": email.utils.formatdate(1_000_030, usegmt=True)}, 30.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds(headers, seconds) -> None:
    assert retry_after_seconds(headers, now=1_000_000) == seconds


@pytest.mark.parametrize(
    ("status", "outcome", "retryable", "rejected"),
    [
        (429, decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED, True, False),
        (502, decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR, True, False),
        (504, decision_pb2.ATTEMPT_OUTCOME_TIMEOUT, True, False),
        (401, decision_pb2.ATTEMPT_OUTCOME_AUTH_ERROR, False, True),
        (422, decision_pb2.ATTEMPT_OUTCOME_BAD_REQUEST, False, True),
    ],
)
def test_statuses_map_to_outcomes_that_decide_retries(status, outcome, retryable, rejected) -> None:
    failure = Failure(outcome_for_status(status), status)

    assert failure.outcome == outcome
    assert (failure.retryable, failure.rejected) == (retryable, rejected)


def test_refusals_are_neither_retried_nor_final() -> None:
    for outcome in (decision_pb2.ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED, decision_pb2.ATTEMPT_OUTCOME_CONTENT_POLICY):
        assert not Failure(outcome).retryable and not Failure(outcome).rejected
