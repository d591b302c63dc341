"""The output PII scan: PII an answer brings that the prompt did not is redacted or blocked, whole or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sluicegate.common.v1 import decision_pb2
from sluicegate.guard.v1 import guard_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.redis import create_redis
from sluicegate_guard.engine import EntityHit
from sluicegate_guard.guard import Guard
from sluicegate_guard.output import OutputPii, OutputWindowSize, entity_tail_start
from sluicegate_guard.policy import EntityAction, GuardPolicy, TenantPolicies
from sluicegate_guard.servicer import GuardServicer
from sluicegate_guard.vault import Vault
from sluicegate_guard.verdicts import ANSWER, Action, Kind

OWN_EMAIL = "jane.roe@example.com"
NEW_EMAIL = "mallory.quinn@corp-mail.net"
NEW_PHONE = "+44 20 7946 0958"
NEW_CARD = "4111 1111 1111 1111"
WINDOW = OutputWindowSize(hold_chars=64, step_chars=32, first_step_chars=8)


@pytest.fixture
async def vault(redis_url: str):
    client = create_redis(redis_url)
    yield Vault(client, AESGCM.generate_key(bit_length=256), ttl_seconds=600)
    await client.aclose()


@pytest.fixture
def guard(thread_scanner, vault: Vault) -> Guard:
    policies = TenantPolicies.from_mapping(
        {"tenants": {"strict": {"output_entities": {"CREDIT_CARD": "block"}}}}, GuardPolicy()
    )
    return Guard(thread_scanner, vault, policies, scan_timeout_seconds=10, output_window=WINDOW)


async def _own_handle(guard: Guard, tenant: str = "acme") -> str:
    return (await guard.inspect_input(tenant, [[f"Reply to {OWN_EMAIL} please."]])).restore_handle


async def test_new_pii_in_an_answer_is_redacted_and_the_callers_own_value_is_restored(guard: Guard, capsys) -> None:
    handle = await _own_handle(guard)
    answer = f"I wrote to <EMAIL_ADDRESS_1>. Also try {NEW_EMAIL}, call {NEW_PHONE} or pay with {NEW_CARD}."
    inspection = await guard.inspect_output("acme", handle, answer, "")
    assert inspection.text == (
        f"I wrote to {OWN_EMAIL}. Also try [EMAIL_ADDRESS], call [PHONE_NUMBER] or pay with [CREDIT_CARD]."
    )
    assert inspection.verdict.action is Action.SANITIZE
    findings = inspection.verdict.findings
    assert {f.category for f in findings} == {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"}
    assert all(f.kind is Kind.PII and f.message_index == ANSWER and f.action is Action.SANITIZE for f in findings)
    restored = answer.replace("<EMAIL_ADDRESS_1>", OWN_EMAIL)
    assert sorted(restored[f.start : f.end] for f in findings) == sorted([NEW_EMAIL, NEW_PHONE, NEW_CARD])
    logged = capsys.readouterr().out
    assert "output inspected" in logged
    assert not any(value in logged for value in (NEW_EMAIL, NEW_PHONE, NEW_CARD, OWN_EMAIL))


async def test_an_answer_with_pii_the_tenant_blocks_is_withheld(guard: Guard) -> None:
    inspection = await guard.inspect_output("strict", "", f"Card: {NEW_CARD}. Mail {NEW_EMAIL}.", "")
    assert inspection.verdict.action is Action.BLOCK
    assert inspection.text == ""
    blocked = [f for f in inspection.verdict.findings if f.action is Action.BLOCK]
    assert [f.category for f in blocked] == ["CREDIT_CARD"]


async def test_names_places_and_allowed_types_pass_in_answers(thread_scanner, vault: Vault) -> None:
    policy = GuardPolicy(
        output_pii_action=EntityAction.ALLOW, output_entity_actions={"PHONE_NUMBER": EntityAction.REDACT}
    )
    guard = Guard(thread_scanner, vault, policy, scan_timeout_seconds=10)
    inspection = await guard.inspect_output("acme", "", f"Mail {NEW_EMAIL} or call {NEW_PHONE}; DNS 8.8.8.8.", "")
    assert inspection.text == f"Mail {NEW_EMAIL} or call [PHONE_NUMBER]; DNS 8.8.8.8."


async def _requests(*events: guard_pb2.InspectOutputStreamRequest) -> AsyncIterator:
    for event in events:
        yield event


async def _stream(guard: Guard, tenant: str, handle: str, chunks: list[str], released: list[str]):
    start = guard_pb2.InspectOutputStreamRequest(
        start=guard_pb2.OutputStreamStart(principal={"tenant_id": tenant}, restore_handle=handle)
    )
    requests = _requests(start, *(guard_pb2.InspectOutputStreamRequest(text=chunk) for chunk in chunks))
    last = None
    async for response in GuardServicer(guard).InspectOutputStream(requests, None):
        released.append(response.text)
        last = response
    return last


def _chunks(text: str, size: int) -> list[str]:
    return [text[index : index + size] for index in range(0, len(text), size)]


async def test_a_streamed_answer_has_new_pii_redacted_even_when_split_across_chunks(guard: Guard, capsys) -> None:
    handle = await _own_handle(guard)
    filler = "The weather report for the coming week looks calm and mostly dry. " * 3
    answer = f"{filler}Sent to <EMAIL_ADDRESS_1>. Contact {NEW_EMAIL} or {NEW_PHONE} today. {filler}"
    released: list[str] = []
    last = await _stream(guard, "acme", handle, _chunks(answer, 5), released)
    expected = answer.replace("<EMAIL_ADDRESS_1>", OWN_EMAIL).replace(NEW_EMAIL, "[EMAIL_ADDRESS]")
    assert "".join(released) == expected.replace(NEW_PHONE, "[PHONE_NUMBER]")
    assert not any("mallory" in piece or "7946" in piece for piece in released)
    assert len([piece for piece in released if piece]) > 3  # released as it goes, not all at the end
    assert last.verdict.action == decision_pb2.GUARD_ACTION_SANITIZE
    assert {f.category for f in last.verdict.findings} == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert all(f.message_index == -1 and f.kind == decision_pb2.FINDING_KIND_PII for f in last.verdict.findings)
    logged = capsys.readouterr().out
    assert not any(value in logged for value in (NEW_EMAIL, NEW_PHONE, OWN_EMAIL))


async def test_the_stream_hold_back_stays_bounded(guard: Guard) -> None:
    answer = "A long and harmless answer about gardening, soil, water and light. " * 30
    released: list[str] = []
    chunks = _chunks(answer, 7)
    start = guard_pb2.InspectOutputStreamRequest(start=guard_pb2.OutputStreamStart(principal={"tenant_id": "acme"}))
    received = 0
    sent = 0

    async def requests() -> AsyncIterator:
        nonlocal sent
        yield start
        for chunk in chunks:
            sent += len(chunk)
            yield guard_pb2.InspectOutputStreamRequest(text=chunk)

    async for response in GuardServicer(guard).InspectOutputStream(requests(), None):
        received += len(response.text)
        released.append(response.text)
        if not response.HasField("verdict"):
            assert sent - received <= WINDOW.hold_chars + WINDOW.step_chars + 7
    assert "".join(released) == answer


async def test_a_blocked_type_in_a_stream_ends_it_with_its_verdict_then_permission_denied(guard: Guard) -> None:
    chunks = _chunks(f"Your card is {NEW_CARD[:9]}", 4) + _chunks(f"{NEW_CARD[9:]} and that is all. " * 4, 6)
    responses: list[guard_pb2.InspectOutputStreamResponse] = []
    start = guard_pb2.InspectOutputStreamRequest(start=guard_pb2.OutputStreamStart(principal={"tenant_id": "strict"}))
    requests = _requests(start, *(guard_pb2.InspectOutputStreamRequest(text=chunk) for chunk in chunks))
    with pytest.raises(ServiceError) as caught:
        async for response in GuardServicer(guard).InspectOutputStream(requests, None):
            responses.append(response)
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.reason == "OUTPUT_BLOCKED"
    assert "1111" not in "".join(response.text for response in responses)
    assert NEW_CARD not in caught.value.message
    # The last reply says why before the status does (a client library may garble the status: grpc/grpc#36066).
    *released, last = responses
    assert not any(response.HasField("verdict") for response in released)
    assert (last.text, last.verdict.action) == ("", decision_pb2.GUARD_ACTION_BLOCK)
    assert [(f.category, f.action) for f in last.verdict.findings] == [("CREDIT_CARD", decision_pb2.GUARD_ACTION_BLOCK)]


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("Write to mallory.qu", "mallory.qu"),  # an e-mail is one word
        ("Call +44 20 7946", "+44 20 7946"),  # digit groups of a phone number
        ("Card 4111 1111 ", "4111 1111 "),
        ("They live at 12 Main", "12 Main"),  # a street number a few words before the street
        ("A calm and dry week ahead", "ahead"),
    ],
)
def test_the_stream_holds_back_only_where_an_entity_could_still_be_growing(text: str, held: str) -> None:
    assert text[entity_tail_start(text, 64) :] == held


async def test_a_stream_releases_its_first_words_before_the_hold_fills(guard: Guard) -> None:
    released: list[str] = []
    words = "The answer is simple and short. " * 3
    await _stream(guard, "acme", "", _chunks(words, 4), released)
    # After the first step (8 characters: "The answ"), all but the word still being written is released.
    assert released[0] == "The "
    assert "".join(released) == words


def _hit(text: str, value: str, entity_type: str) -> EntityHit:
    start = text.index(value)
    return EntityHit(entity_type, start, start + len(value), 0.9)


@pytest.mark.parametrize(
    ("restored", "found", "entity_type", "excused"),
    [
        ({"<IP_ADDRESS_1>": "10.0.0.1"}, "4111 1000 1234 5670", "CREDIT_CARD", False),  # "10001" inside a card
        ({"<PERSON_1>": "John"}, "john.miller@othercorp.com", "EMAIL_ADDRESS", False),  # another type
        ({"<EMAIL_ADDRESS_1>": "jo@example.com"}, "bojo@example.com", "EMAIL_ADDRESS", False),  # part of a word
        ({"<PHONE_NUMBER_1>": "555 0132"}, "+1 212 555 0132", "PHONE_NUMBER", False),  # more digits around it
        ({"<EMAIL_ADDRESS_1>": "Jane.Roe@Example.com"}, "jane.roe@example.com", "EMAIL_ADDRESS", True),
        ({"<PHONE_NUMBER_1>": "+1 415 555 0132"}, "555 0132", "PHONE_NUMBER", True),  # part of the caller's own
        ({"<PERSON_1>": "Jane Roe"}, "Dr. Jane Roe", "PERSON", True),  # the caller's own with a title
    ],
)
def test_only_the_callers_own_value_of_the_same_type_and_whole_words_is_excused(
    restored: dict[str, str], found: str, entity_type: str, excused: bool
) -> None:
    policy = GuardPolicy(output_entity_actions={entity_type: EntityAction.BLOCK})
    text = f"Noted: {found} today."
    findings, _ = OutputPii(policy, restored).decide(text, [_hit(text, found, entity_type)])
    assert (findings == []) is excused


async def test_a_restored_value_does_not_excuse_a_new_card_the_tenant_blocks(guard: Guard) -> None:
    handle = (await guard.inspect_input("strict", [["My server is 10.0.0.1."]])).restore_handle
    answer = "Card on file: 4111 1000 1234 5670. Your server <IP_ADDRESS_1> is up."
    inspection = await guard.inspect_output("strict", handle, answer, "")
    assert inspection.verdict.action is Action.BLOCK and inspection.text == ""
    assert [finding.category for finding in inspection.verdict.findings] == ["CREDIT_CARD"]
