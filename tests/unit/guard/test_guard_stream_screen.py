"""The streamed answer's credential and canary screen: a credential is never released, whatever the chunking or
the output PII policy; an open run too long to hold is blocked or released only where no key can begin; the
canary hold-back; the stream's size and canary limits."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import AsyncIterator, Mapping

import grpc
import pytest

from sluicegate.guard.v1 import guard_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate_guard.credentials import CredentialDetector
from sluicegate_guard.guard import Guard
from sluicegate_guard.output import STREAM_CANDIDATE_CHARS, OutputScreen
from sluicegate_guard.policy import EntityAction, GuardPolicy
from sluicegate_guard.servicer import GuardServicer
from sluicegate_guard.verdicts import Action, Kind


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# A JWT well over the 256 characters the credential check once kept of released text.
LONG_JWT = ".".join(
    [
        _b64({"alg": "RS256", "typ": "JWT", "kid": "abc123"}),
        _b64({"aud": "api://gateway", "iss": "https://sts.example.com/tenant/", "sub": "s" * 120, "tid": "t" * 80}),
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5cSflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ]
)
SECRETS = {
    "long_jwt": LONG_JWT,
    "github": "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "openai": "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4",
}
POLICIES = {"redact": GuardPolicy(), "allow": GuardPolicy(output_pii_action=EntityAction.ALLOW)}
CHUNK_SIZES = (1, 2, 3, 5, 8, 13, 40, 64, 300)


class EmptyVault:
    async def store(self, tenant_id: str, mapping: Mapping[str, str]) -> str:
        raise AssertionError("nothing is stored while answers are screened")

    async def load(self, tenant_id: str, handle: str) -> dict[str, str]:
        return {}


def _guard(thread_scanner, policy: GuardPolicy) -> Guard:
    return Guard(thread_scanner, EmptyVault(), policy, scan_timeout_seconds=10)  # type: ignore[arg-type]


async def _chunks(text: str, size: int) -> AsyncIterator[str]:
    for index in range(0, len(text), size):
        yield text[index : index + size]


async def _stream(guard: Guard, text: str, size: int, canary: str = "") -> tuple[str, list, Exception | None]:
    released = []
    verdicts = []
    try:
        async for piece in guard.inspect_output_stream("acme", "", canary, _chunks(text, size)):
            released.append(piece.text)
            if piece.verdict is not None:
                verdicts.append(piece.verdict)
    except ServiceError as exc:
        return "".join(released), verdicts, exc
    return "".join(released), verdicts, None


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
async def test_a_streamed_credential_is_never_released_at_any_chunk_size(thread_scanner, policy, secret) -> None:
    guard = _guard(thread_scanner, policy)
    before = "Use this bearer token: "
    answer = f"{before}{secret} and call the API, then report back with the results."
    assert (await guard.inspect_output("acme", "", answer, "")).verdict.action is Action.BLOCK
    for size in CHUNK_SIZES:
        released, verdicts, error = await _stream(guard, answer, size)
        assert error is not None and error.code == grpc.StatusCode.PERMISSION_DENIED, size
        assert verdicts[-1].action is Action.BLOCK and verdicts[-1].findings[0].kind is Kind.SECRET, size
        assert before.startswith(released), (size, released)


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
async def test_a_clean_answer_streams_whole_and_word_by_word(thread_scanner, policy) -> None:
    guard = _guard(thread_scanner, policy)
    answer = "See https://docs.example.com/a/b?x=1 and the file report-2026_v2.pdf; then eyJust kidding. " * 6
    for size in CHUNK_SIZES:
        released, verdicts, error = await _stream(guard, answer, size)
        assert error is None and released == answer, size
        assert verdicts[-1].action is Action.ALLOW, size


async def test_an_open_run_longer_than_the_hold_that_starts_like_a_credential_blocks(thread_scanner) -> None:
    guard = _guard(thread_scanner, POLICIES["allow"])
    # Nothing the credential patterns would match yet (no second dot), but it cannot be held any longer.
    answer = "token: eyJ" + "A" * (STREAM_CANDIDATE_CHARS + 500) + " end"
    released, verdicts, error = await _stream(guard, answer, 64)
    assert error is not None and error.code == grpc.StatusCode.PERMISSION_DENIED
    assert released == "token: "
    assert [(finding.kind, finding.category) for finding in verdicts[-1].findings] == [(Kind.SECRET, "JWT")]


async def test_an_open_run_longer_than_the_hold_is_released_but_where_a_key_could_begin(thread_scanner) -> None:
    guard = _guard(thread_scanner, POLICIES["allow"])
    blob = "ab01" * STREAM_CANDIDATE_CHARS
    released, _, error = await _stream(guard, f"hash {blob} done", 50)
    assert error is None and released == f"hash {blob} done"
    # ... and a key that begins deep inside such a run is still caught.
    released, verdicts, error = await _stream(guard, f"hash {blob}-{SECRETS['github']} done", 50)
    assert error is not None and verdicts[-1].findings[0].category == "GITHUB_TOKEN"
    assert "ghp_" not in released


def _naive_canary_prefix(canary: str, text: str) -> int:
    return next((n for n in range(min(len(canary) - 1, len(text)), 0, -1) if text.endswith(canary[:n])), 0)


def test_the_canary_hold_back_matches_the_longest_suffix_that_starts_it() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        canary = "".join(rng.choice("ab") for _ in range(rng.randint(1, 9)))
        text = "".join(rng.choice("ab") for _ in range(rng.randint(0, 14)))
        screen = OutputScreen(CredentialDetector(), canary, [])
        assert screen.canary_prefix_length(text) == _naive_canary_prefix(canary, text), (canary, text)


async def _servicer_stream(guard: Guard, chunks: list[str], canary: str = "", max_scan_chars: int = 1000) -> None:
    async def requests() -> AsyncIterator[guard_pb2.InspectOutputStreamRequest]:
        start = guard_pb2.OutputStreamStart(principal={"tenant_id": "acme"}, canary=canary)
        yield guard_pb2.InspectOutputStreamRequest(start=start)
        for chunk in chunks:
            yield guard_pb2.InspectOutputStreamRequest(text=chunk)

    async for _ in GuardServicer(guard, max_scan_chars).InspectOutputStream(requests(), None):
        pass


@pytest.mark.parametrize(
    "chunks",
    [["x" * 1001], ["lorem ipsum " * 50, "lorem ipsum " * 50]],
    ids=["one_chunk", "the_whole_stream"],
)
async def test_a_stream_over_the_scan_limit_is_refused(thread_scanner, chunks: list[str]) -> None:
    scanned: list[int] = []

    class Recording:
        async def scan(self, texts, options=None):
            scanned.extend(len(text) for text in texts)
            return await thread_scanner.scan(texts, options) if options else await thread_scanner.scan(texts)

        async def ready(self) -> bool:
            return True

    guard = _guard(Recording(), GuardPolicy())
    with pytest.raises(ServiceError) as caught:
        await _servicer_stream(guard, chunks)
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "SCAN_TOO_LARGE")
    assert all(size <= 1000 for size in scanned)


async def test_a_stream_with_an_overlong_canary_is_refused(thread_scanner) -> None:
    with pytest.raises(ServiceError) as caught:
        await _servicer_stream(_guard(thread_scanner, GuardPolicy()), ["hello"], canary="c" * 257)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
