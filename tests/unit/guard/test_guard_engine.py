"""The pattern-only engine's recognizers, overlap resolution, request validation and settings."""

from __future__ import annotations

import base64

import grpc
import pytest
from google.rpc import error_details_pb2

from sluicegate.common.v1 import chat_pb2
from sluicegate.guard.v1 import guard_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate_guard.engine import EntityHit, ScanEngine, resolve_overlaps
from sluicegate_guard.policy import EntityAction, GuardPolicy
from sluicegate_guard.settings import GuardSettings
from sluicegate_guard.validation import input_validator, output_validator

SAMPLES = {
    "EMAIL_ADDRESS": "jane.roe@example.com",
    "PHONE_NUMBER": "+1 415 555 0132",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "US_SSN": "536-22-4412",
    "IP_ADDRESS": "192.168.10.20",
    "IBAN_CODE": "GB82 WEST 1234 5698 7654 32",
    "AWS_ACCESS_KEY": "AKIAIOSFODNN7EXAMPLE",
    "OPENAI_API_KEY": "sk-proj-Zx8a7b6c5d4e3f2g1h0iJKLMNOP",
    "GITHUB_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123456789AB",
    "JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "PRIVATE_KEY": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBk\n-----END EC PRIVATE KEY-----",
}


@pytest.mark.parametrize(("entity_type", "value"), SAMPLES.items())
def test_pattern_engine_finds_each_entity_type(pattern_engine: ScanEngine, entity_type: str, value: str) -> None:
    text = f"For the record: {value} (see above)."
    (scan,) = pattern_engine.scan([text])
    assert [(hit.entity_type, text[hit.start : hit.end]) for hit in scan.entities] == [(entity_type, value)]


def test_allow_list_and_lookalike_keys_are_not_flagged(pattern_engine: ScanEngine) -> None:
    (scan,) = pattern_engine.scan(["We run on S3 and EKS; the task-queue sk-short and akiaiosfodnn7example are fine."])
    assert scan.entities == []


def test_overlaps_keep_credentials_then_the_stronger_longer_span() -> None:
    email = EntityHit("EMAIL_ADDRESS", 6, 26, 1.0)
    person = EntityHit("PERSON", 0, 14, 0.85)
    jwt = EntityHit("JWT", 30, 90, 0.5)
    url = EntityHit("IP_ADDRESS", 40, 50, 0.95)
    assert resolve_overlaps([person, url, email, jwt]) == [email, jwt]


def test_too_much_text_is_rejected_as_scan_too_large() -> None:
    validate = input_validator(max_scan_chars=100)
    message = chat_pb2.Message(
        role=chat_pb2.ROLE_USER,
        content=[
            chat_pb2.ContentPart(text="a" * 60),
            chat_pb2.ContentPart(document=chat_pb2.Document(text="b" * 41)),
        ],
    )
    with pytest.raises(ServiceError) as caught:
        validate(guard_pb2.InspectInputRequest(principal=chat_pb2.Principal(tenant_id="acme"), messages=[message]))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.reason == "SCAN_TOO_LARGE"
    with pytest.raises(ServiceError) as caught:
        output_validator(100)(
            guard_pb2.InspectOutputRequest(principal=chat_pb2.Principal(tenant_id="acme"), text="c" * 101)
        )
    assert caught.value.reason == "SCAN_TOO_LARGE"


def test_requests_need_a_tenant_and_known_roles() -> None:
    with pytest.raises(ServiceError) as caught:
        input_validator(100)(guard_pb2.InspectInputRequest(messages=[chat_pb2.Message()]))
    bad = next(d for d in caught.value.details if isinstance(d, error_details_pb2.BadRequest))
    assert {v.field for v in bad.field_violations} == {"principal.tenant_id", "messages[0].role"}


def test_vault_key_must_be_32_bytes_of_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_NER", "false")
    monkeypatch.setenv("GUARD_VAULT_KEY", base64.b64encode(b"x" * 16).decode())
    with pytest.raises(ValueError, match="32 bytes"):
        GuardSettings()
    key = base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("GUARD_VAULT_KEY", key)
    assert GuardSettings().vault_key_bytes() == b"k" * 32
    assert key not in repr(GuardSettings())


def test_entity_actions_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_NER", "false")
    monkeypatch.setenv("GUARD_ENTITY_ACTIONS", '{"US_SSN": "block", "IP_ADDRESS": "allow"}')
    settings = GuardSettings()
    assert settings.entity_actions == {"US_SSN": "block", "IP_ADDRESS": "allow"}


def test_policy_overrides_sit_over_the_built_in_private_key_block() -> None:
    policy = GuardPolicy(entity_actions={"US_SSN": EntityAction.BLOCK})
    assert policy.action_for("US_SSN") is EntityAction.BLOCK
    assert policy.action_for("PRIVATE_KEY") is EntityAction.BLOCK
    assert policy.action_for("EMAIL_ADDRESS") is EntityAction.PSEUDONYMISE
    relaxed = GuardPolicy(entity_actions={"PRIVATE_KEY": EntityAction.PSEUDONYMISE})
    assert relaxed.action_for("PRIVATE_KEY") is EntityAction.PSEUDONYMISE
