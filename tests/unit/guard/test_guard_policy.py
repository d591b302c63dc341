"""Per-tenant policy: the YAML file, mask/redact/block per entity type, score thresholds and fail-open."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.redis import create_redis
from sluicegate_guard.engine import EntityHit, TextScan
from sluicegate_guard.guard import Guard
from sluicegate_guard.placeholders import mask
from sluicegate_guard.policy import EntityAction, GuardPolicy, TenantPolicies
from sluicegate_guard.vault import Vault
from sluicegate_guard.verdicts import Action

POLICY_FILE = """
default:
  entities:
    US_SSN: {action: block}
    CREDIT_CARD: {action: mask}
tenants:
  acme:
    fail_open: true
    min_score: 0.5
    entities:
      EMAIL_ADDRESS: {action: redact}
  strict:
    injection_threshold: 0.3
"""
CARD = "4111 1111 1111 1234"


@pytest.fixture
def policies(tmp_path: Path) -> TenantPolicies:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_FILE)
    return TenantPolicies.load(path, GuardPolicy())


def test_tenants_inherit_the_default_and_override_it(policies: TenantPolicies) -> None:
    acme, other = policies.for_tenant("acme"), policies.for_tenant("someone-else")
    assert acme.action_for("EMAIL_ADDRESS") is EntityAction.REDACT
    assert acme.action_for("US_SSN") is EntityAction.BLOCK  # from the default
    assert other.action_for("EMAIL_ADDRESS") is EntityAction.PSEUDONYMISE
    assert (acme.fail_open, other.fail_open) == (True, False)
    assert policies.for_tenant("strict").injection_threshold == 0.3


def test_a_malformed_policy_fails_loudly() -> None:
    with pytest.raises(ValidationError):
        TenantPolicies.from_mapping({"default": {"entities": {"EMAIL_ADDRESS": {"action": "shred"}}}}, GuardPolicy())
    with pytest.raises(ValidationError):
        TenantPolicies.from_mapping({"tenants": {"acme": {"fail_closed": True}}}, GuardPolicy())


def test_mask_keeps_only_what_identifies_the_value_to_its_owner() -> None:
    assert mask(CARD, "CREDIT_CARD") == "**** **** **** 1234"
    assert mask("jane@example.com", "EMAIL_ADDRESS") == "j***@*******.***"


class FixedScanner:
    """Reports fixed entities for the first text (the real engine's findings are tested elsewhere)."""

    def __init__(self, *entities: EntityHit, stall: bool = False) -> None:
        self._entities = list(entities)
        self._stall = stall

    async def scan(self, texts: Sequence[str]) -> list[TextScan]:
        if self._stall:
            await asyncio.sleep(30)
        return [TextScan(entities=self._entities)] + [TextScan() for _ in texts[1:]]

    async def ready(self) -> bool:
        return True


@pytest.fixture
async def vault(redis_url: str):
    client = create_redis(redis_url)
    yield Vault(client, AESGCM.generate_key(bit_length=256), ttl_seconds=60)
    await client.aclose()


async def test_each_tenant_gets_its_own_treatment(policies: TenantPolicies, vault: Vault) -> None:
    text = f"card {CARD}, mail jane@example.com"
    card = EntityHit("CREDIT_CARD", 5, 5 + len(CARD), 1.0)
    email = EntityHit("EMAIL_ADDRESS", text.index("jane"), len(text), 0.9)
    guard = Guard(FixedScanner(card, email), vault, policies, scan_timeout_seconds=5)

    acme = await guard.inspect_input("acme", [[text]])
    assert acme.sanitized == [["card **** **** **** 1234, mail [EMAIL_ADDRESS]"]]
    assert acme.verdict.action is Action.SANITIZE
    assert acme.restore_handle == ""  # nothing reversible was stored
    assert [finding.action for finding in acme.verdict.findings] == [Action.SANITIZE, Action.SANITIZE]

    other = await guard.inspect_input("other", [[text]])
    assert other.sanitized == [["card **** **** **** 1234, mail <EMAIL_ADDRESS_1>"]]
    assert other.restore_handle


async def test_findings_under_the_tenant_threshold_are_ignored_and_block_blocks(
    policies: TenantPolicies, vault: Vault
) -> None:
    weak = EntityHit("PHONE_NUMBER", 0, 5, 0.45)
    guard = Guard(FixedScanner(weak), vault, policies, scan_timeout_seconds=5)
    assert (await guard.inspect_input("acme", [["12345 is weak"]])).verdict.action is Action.ALLOW
    assert (await guard.inspect_input("other", [["12345 is weak"]])).verdict.action is Action.SANITIZE

    ssn = EntityHit("US_SSN", 0, 11, 0.9)
    blocked = await Guard(FixedScanner(ssn), vault, policies, 5).inspect_input("acme", [["078-05-1120"]])
    assert blocked.verdict.action is Action.BLOCK
    assert blocked.sanitized == [] and blocked.verdict.findings[0].action is Action.BLOCK


async def test_fail_open_is_the_tenants_choice_and_says_not_scanned(policies: TenantPolicies, vault: Vault) -> None:
    guard = Guard(FixedScanner(stall=True), vault, policies, scan_timeout_seconds=0.05)
    passed = await guard.inspect_input("acme", [["mail jane@example.com"]])
    assert passed.verdict.action is Action.NOT_SCANNED
    assert passed.sanitized == [["mail jane@example.com"]]
    with pytest.raises(ServiceError) as caught:
        await guard.inspect_input("other", [["mail jane@example.com"]])
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
