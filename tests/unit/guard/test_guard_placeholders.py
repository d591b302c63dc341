"""Placeholders: consistent within a request, restored whole or from any chunking of a stream; canary and keys stop a stream."""

from __future__ import annotations

import pytest

from sluicegate_guard.credentials import CredentialDetector
from sluicegate_guard.output import OutputScreen, OutputStream
from sluicegate_guard.placeholders import MAX_PLACEHOLDER_CHARS, PlaceholderStream, Pseudonymiser, Span, restore
from sluicegate_guard.verdicts import Kind

MAPPING = {"<EMAIL_ADDRESS_1>": "jane@example.com", "<PERSON_12>": "Jane Roe"}
ANSWER = "Dear <PERSON_12>, we wrote to <EMAIL_ADDRESS_1> about <UNKNOWN_3> and a <b>bold</b> 1 < 2 claim."
RESTORED = "Dear Jane Roe, we wrote to jane@example.com about <UNKNOWN_3> and a <b>bold</b> 1 < 2 claim."
OPENAI_KEY = "sk-proj-Zx8a7b6c5d4e3f2g1h0iJKLMNOP"


def _spans(text: str, *values: str) -> list[Span]:
    return [Span(text.index(value), text.index(value) + len(value), "EMAIL_ADDRESS") for value in values]


def test_same_value_gets_the_same_placeholder_across_texts() -> None:
    pseudonymiser = Pseudonymiser()
    first = "mail jane@x.io and bob@x.io"
    second = "again: jane@x.io"
    assert pseudonymiser.replace(first, _spans(first, "jane@x.io", "bob@x.io")) == (
        "mail <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    )
    assert pseudonymiser.replace(second, _spans(second, "jane@x.io")) == "again: <EMAIL_ADDRESS_1>"
    assert pseudonymiser.mapping == {"<EMAIL_ADDRESS_1>": "jane@x.io", "<EMAIL_ADDRESS_2>": "bob@x.io"}


def test_restore_leaves_unknown_placeholders_and_markup_alone() -> None:
    assert restore(ANSWER, MAPPING) == RESTORED


def _stream_restore(chunks: list[str]) -> tuple[str, list[str]]:
    stream = PlaceholderStream(MAPPING)
    released = [stream.push(chunk) for chunk in chunks]
    released.append(stream.finish())
    return "".join(released), released


def test_stream_restores_placeholders_split_at_every_position() -> None:
    for cut in range(1, len(ANSWER)):
        restored, _ = _stream_restore([ANSWER[:cut], ANSWER[cut:]])
        assert restored == RESTORED, cut
    for first in range(1, 40):
        for second in range(first + 1, 44):
            restored, _ = _stream_restore([ANSWER[:first], ANSWER[first:second], ANSWER[second:]])
            assert restored == RESTORED, (first, second)


def test_stream_restores_from_single_character_chunks() -> None:
    assert _stream_restore(list(ANSWER))[0] == RESTORED


def test_stream_holds_back_only_a_possible_placeholder_start() -> None:
    stream = PlaceholderStream(MAPPING)
    assert stream.push("Hello <PERS") == "Hello "
    assert stream.push("ON_12> and 1 <") == "Jane Roe and 1 "
    assert stream.push(" 2") == "< 2"
    long_tag = "<" + "A" * MAX_PLACEHOLDER_CHARS
    assert stream.push(long_tag) == long_tag


def _screened_stream(canary: str = "", restored_values: tuple[str, ...] = ()) -> OutputStream:
    return OutputStream(MAPPING, OutputScreen(CredentialDetector(), canary, restored_values))


def test_canary_split_across_chunks_is_caught_before_any_of_it_is_released() -> None:
    canary = "CANARY-7f3a9c"
    before = "My instructions say "
    answer = f"{before}{canary} at the top."
    for cut in range(1, len(answer)):
        stream = _screened_stream(canary)
        released = ""
        findings = []
        for chunk in (answer[:cut], answer[cut:]):
            release = stream.push(chunk)
            released += release.text
            findings = release.findings
            if findings:
                break
        assert [finding.kind for finding in findings] == [Kind.CANARY_LEAK], cut
        assert before.startswith(released), cut


def test_text_that_only_starts_like_the_canary_is_released_at_the_end() -> None:
    stream = _screened_stream("CANARY-7f3a9c")
    assert stream.push("the word CANARY-7").text == "the word "
    assert stream.push("x is fine").text == "CANARY-7x is fine"  # no credential begins like "fine": not held
    assert stream.finish().text == ""


def test_only_a_last_word_that_could_begin_a_credential_is_held() -> None:
    stream = _screened_stream()
    assert stream.push("the key is e").text == "the key is "  # "e" may become "eyJ"
    assert stream.push("asy to find, sk").text == "easy to find, "  # "sk" may become "sk-"
    assert stream.push("ip it; token=gh").text == "skip it; token="  # after "=", "gh" may become "ghp_"
    assert stream.push("ost").text == "ghost"


def test_credential_split_across_chunks_stops_the_stream() -> None:
    stream = _screened_stream()
    assert stream.push(f"here: {OPENAI_KEY[:10]}").text == "here: "  # the key's start is held until it ends
    release = stream.push(OPENAI_KEY[10:])
    assert [finding.category for finding in release.findings] == ["OPENAI_API_KEY"]
    assert release.text == ""


def test_the_callers_own_restored_credential_is_not_a_leak() -> None:
    stream = OutputStream({"<OPENAI_API_KEY_1>": OPENAI_KEY}, OutputScreen(CredentialDetector(), "", [OPENAI_KEY]))
    assert stream.push("Your key <OPENAI_API_KEY_1> looks ").findings == []
    assert stream.finish().findings == []


@pytest.mark.parametrize(
    "secret",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789AB",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",
    ],
)
def test_output_screen_finds_each_credential_kind(secret: str) -> None:
    findings = OutputScreen(CredentialDetector(), "", []).findings(f"output: {secret} end")
    assert [finding.kind for finding in findings] == [Kind.SECRET]
    assert findings[0].start == len("output: ")
