"""The served guard with a policy file and the full recognizer set: per-tenant treatment, names and streets."""

from __future__ import annotations

from pathlib import Path

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.guard.v1 import guard_pb2


def user(text: str) -> chat_pb2.Message:
    return chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=text)])


def inspect(tenant: str, text: str) -> guard_pb2.InspectInputRequest:
    return guard_pb2.InspectInputRequest(principal=chat_pb2.Principal(tenant_id=tenant), messages=[user(text)])


async def test_policy_file_sets_each_tenants_treatment(guard_service, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "tenants:\n  globex:\n    entities:\n      PERSON: {action: redact}\n      PHONE_NUMBER: {action: mask}\n"
    )
    text = "Dr Okonkwo lives at 12 Baker Street, call +44 20 7946 0958."
    async with guard_service(policy_path=str(policy)) as (stub, _):
        default = await stub.InspectInput(inspect("acme", text))
        globex = await stub.InspectInput(inspect("globex", text))
    assert default.sanitized_messages[0].content[0].text == (
        "<PERSON_1> lives at <STREET_ADDRESS_1>, call <PHONE_NUMBER_1>."
    )
    assert (
        globex.sanitized_messages[0].content[0].text == "[PERSON] lives at <STREET_ADDRESS_1>, call +** ** **** 0958."
    )
    assert globex.verdict.action == decision_pb2.GUARD_ACTION_SANITIZE
    assert {finding.category for finding in globex.verdict.findings} == {"PERSON", "STREET_ADDRESS", "PHONE_NUMBER"}
