"""Scanning answers: the canary, credentials and PII the prompt did not bring, whole or over a streaming window."""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sluicegate_guard.credentials import CredentialDetector
from sluicegate_guard.engine import EntityHit
from sluicegate_guard.placeholders import PlaceholderStream, Pseudonymiser, Span, placeholder_type
from sluicegate_guard.policy import EntityAction, GuardPolicy, is_secret
from sluicegate_guard.verdicts import ANSWER, Action, Finding, Kind

# Released text kept for the credential check, so a key split across chunks is still seen whole.
STREAM_WINDOW_CHARS = 256
# The longest credential a stream holds back whole while it is being written: a run of credential characters
# still open at the end of the text is not released until it ends (then the check sees it whole), up to this
# length. A longer open run that starts like a credential blocks the stream; one that does not is released
# but for its last few characters, where a credential could still begin.
STREAM_CANDIDATE_CHARS = 4096
# Characters every credential pattern is made of (a private key's header aside).
_CREDENTIAL_CHARS = frozenset(string.ascii_letters + string.digits + "_.+/=-")
# How every credential pattern but a private key's begins, at a word boundary (credentials.py), and its type.
_CREDENTIAL_MARKERS = {
    "eyJ": "JWT",
    "sk-": "OPENAI_API_KEY",
    **{f"gh{kind}_": "GITHUB_TOKEN" for kind in "pousr"},
    "github_pat_": "GITHUB_TOKEN",
    "AKIA": "AWS_ACCESS_KEY",
    "ASIA": "AWS_ACCESS_KEY",
}
_CREDENTIAL_START = re.compile(r"\b(?:" + "|".join(map(re.escape, _CREDENTIAL_MARKERS)) + ")")
_CREDENTIAL_START_CHARS = max(map(len, _CREDENTIAL_MARKERS))
_MARKER_FIRST_CHARS = frozenset(marker[0] for marker in _CREDENTIAL_MARKERS)
_WORD_CHAR = re.compile(r"\w")


def _open_run_start(text: str) -> int | None:
    """Where the run of credential characters ending `text` starts (read backwards: as long as the run, not the
    text), or None when it is longer than STREAM_CANDIDATE_CHARS."""
    limit = max(0, len(text) - STREAM_CANDIDATE_CHARS)
    position = len(text)
    while position > limit and text[position - 1] in _CREDENTIAL_CHARS:
        position -= 1
    if position == limit and limit and text[limit - 1] in _CREDENTIAL_CHARS:
        return None
    return position


def _possible_start(text: str, run_start: int, floor: int) -> int:
    """The first position (from `floor` on) where a credential could begin in the open run that starts at
    `run_start` and ends `text`: at a word boundary, with one of the markers or the beginning of one ("e", "sk",
    "gh"). `len(text)` when there is none: the run cannot hold a credential's start, and need not wait for its end."""
    for position in range(max(run_start, floor), len(text)):
        at_boundary = position == run_start or (
            not _WORD_CHAR.match(text, position - 1) and _WORD_CHAR.match(text, position)
        )
        if not at_boundary or text[position] not in _MARKER_FIRST_CHARS:
            continue
        tail = text[position : position + _CREDENTIAL_START_CHARS]
        if any(tail.startswith(marker) or marker.startswith(tail) for marker in _CREDENTIAL_MARKERS):
            return position
    return len(text)


# A private key's header not finished yet at the end of the text: `-----BEGIN RSA PRIVATE KEY--`.
_OPEN_KEY_HEADER = re.compile(r"-(?:-(?:-(?:-(?:-(?:B(?:E(?:G(?:I(?:N(?: [A-Z0-9 ]*-{0,4})?)?)?)?)?)?)?)?)?)?\Z")
_KEY_HEADER_CHARS = 96


class OutputScreen:
    """Finds the canary and credentials in answer text.

    A credential the caller put in the prompt comes back restored from its placeholder; that is the
    caller's own value, not a leak, so values restored from the vault are not reported.
    """

    def __init__(self, detector: CredentialDetector, canary: str, restored_values: Iterable[str]) -> None:
        self._detector = detector
        self._canary = canary
        self._canary_borders = _borders(canary)
        self._restored = [value for value in restored_values if value]

    def findings(self, text: str, offset: int = 0) -> list[Finding]:
        found = []
        if self._canary:
            position = text.find(self._canary)
            if position >= 0:
                found.append(_finding(Kind.CANARY_LEAK, "CANARY", 1.0, offset + position, len(self._canary), "canary"))
        for match in self._detector.find(text):
            value = text[match.start : match.end]
            if not any(value in restored for restored in self._restored):
                found.append(
                    _finding(Kind.SECRET, match.entity_type, match.score, offset + match.start, len(value), "patterns")
                )
        return found

    def canary_prefix_length(self, text: str) -> int:
        """The length of the longest suffix of `text` that could be the start of the canary.

        Knuth-Morris-Pratt over the last `len(canary) - 1` characters: linear in the canary's length.
        """
        canary, borders = self._canary, self._canary_borders
        first = text.find(canary[:1], max(0, len(text) - len(canary) + 1)) if len(canary) > 1 else -1
        if first < 0:  # the usual case: nothing near the end could start it
            return 0
        matched = 0
        for character in text[first:]:
            while matched and canary[matched] != character:
                matched = borders[matched - 1]
            if canary[matched] == character:
                matched += 1
            if matched == len(canary):  # the whole canary: `findings` reports it; hold what could start another
                matched = borders[matched - 1]
        return matched

    def open_candidate(self, text: str, floor: int, offset: int = 0) -> tuple[int, list[Finding]]:
        """Where a credential still being written at the end of `text` could begin (never before `floor`, where
        the unreleased text starts; `len(text)` when none can), or the findings that block an open run too long
        to hold that starts like a credential. `offset` is `text`'s position in the answer."""
        start = len(text)
        header = _OPEN_KEY_HEADER.search(text, max(floor, len(text) - _KEY_HEADER_CHARS))
        if header is not None:
            start = header.start()
        if not text or text[-1] not in _CREDENTIAL_CHARS:
            return start, []
        # An open run within the cap is held from where a credential could begin in it until it ends (an ordinary
        # word goes at once: no credential begins like it); the part before may already be released.
        run_start = _open_run_start(text)
        if run_start is not None:
            return min(start, _possible_start(text, run_start, floor)), []
        # Longer than the cap: block it from where it starts like a credential, else release it but for where
        # one could still begin.
        first = _CREDENTIAL_START.search(text, floor)
        if first is None:
            return min(start, max(floor, len(text) - _CREDENTIAL_START_CHARS)), []
        if len(text) - first.start() <= STREAM_CANDIDATE_CHARS:
            return min(start, first.start()), []
        category = _CREDENTIAL_MARKERS[first.group()]
        length = len(text) - first.start()
        return start, [_finding(Kind.SECRET, category, 1.0, offset + first.start(), length, "patterns")]


def _borders(pattern: str) -> list[int]:
    """Knuth-Morris-Pratt's table: for each prefix of `pattern`, its longest proper prefix that is also a suffix."""
    borders = [0] * len(pattern)
    length = 0
    for index in range(1, len(pattern)):
        while length and pattern[index] != pattern[length]:
            length = borders[length - 1]
        if pattern[index] == pattern[length]:
            length += 1
        borders[index] = length
    return borders


def _finding(kind: Kind, category: str, score: float, start: int, length: int, detector: str) -> Finding:
    return Finding(kind, category, score, ANSWER, start, start + length, Action.BLOCK, detector)


@dataclass(frozen=True)
class Release:
    """Text that is safe to send on, or the findings that stop the stream."""

    text: str
    findings: list[Finding] = field(default_factory=list)


class OutputStream:
    """Restores and screens a streamed answer, releasing text as soon as it is known to be safe.

    It holds back only a suffix that could be a split placeholder (see PlaceholderStream) or the start
    of the canary, and checks credentials over the last released characters plus the new text.
    """

    def __init__(self, mapping: Mapping[str, str], screen: OutputScreen) -> None:
        self._placeholders = PlaceholderStream(mapping)
        self._screen = screen
        self._pending = ""
        self._tail = ""
        self._released = 0

    def push(self, chunk: str) -> Release:
        self._pending += self._placeholders.push(chunk)
        return self._release(final=False)

    def finish(self) -> Release:
        self._pending += self._placeholders.finish()
        return self._release(final=True)

    def _release(self, final: bool) -> Release:
        findings = self._screen.findings(self._tail + self._pending, self._released - len(self._tail))
        if findings:
            return Release("", findings)
        cut = len(self._pending)
        if not final:
            text = self._tail + self._pending
            start, findings = self._screen.open_candidate(text, len(self._tail), self._released - len(self._tail))
            if findings:
                return Release("", findings)
            cut = min(start - len(self._tail), cut - self._screen.canary_prefix_length(self._pending))
        text, self._pending = self._pending[:cut], self._pending[cut:]
        self._tail = (self._tail + text)[-STREAM_WINDOW_CHARS:]
        self._released += len(text)
        return Release(text)


_TOKEN = re.compile(r"\w+")


def _tokens(value: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(value.casefold()))


def _holds(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    """Whether `inner` is a run of whole tokens of `outer`."""
    return bool(inner) and any(
        outer[start : start + len(inner)] == inner for start in range(len(outer) - len(inner) + 1)
    )


def _digits(tokens: tuple[str, ...]) -> str:
    return "".join(character for token in tokens for character in token if character.isdigit())


class OutputPii:
    """Applies a tenant's output policy to the entities found in answer text.

    Values restored from the request's vault are the caller's own data coming back to them and pass: a found
    entity of the same type whose words are the restored value's, or a run of them ("Roe" of "Jane Roe"), or
    hold them with only words without digits around them (a title: "Dr. Jane Roe"). Never across types, and
    never part of a word: a restored IP address `10.0.0.1` excuses no card number that happens to contain
    "10001". Credentials are left to OutputScreen, which blocks them.
    """

    def __init__(self, policy: GuardPolicy, restored: Mapping[str, str]) -> None:
        """`restored` is the request's vault mapping: placeholder (which names the type) → value."""
        self._policy = policy
        self._restored: dict[str, list[tuple[str, ...]]] = {}
        for placeholder, value in restored.items():
            if tokens := _tokens(value):
                self._restored.setdefault(placeholder_type(placeholder), []).append(tokens)

    def _is_restored(self, entity_type: str, value: str) -> bool:
        found = _tokens(value)
        return any(
            _holds(restored, found) or (_holds(found, restored) and _digits(found) == _digits(restored))
            for restored in self._restored.get(entity_type, ())
        )

    def decide(self, text: str, hits: Iterable[EntityHit], offset: int = 0) -> tuple[list[Finding], list[Span]]:
        """Findings (answer positions shifted by `offset`) and the spans of `text` to mask or redact."""
        findings = []
        spans = []
        for hit in hits:
            if is_secret(hit.entity_type) or hit.score < self._policy.min_score_for(hit.entity_type):
                continue
            action = self._policy.output_action_for(hit.entity_type)
            if action is EntityAction.ALLOW or self._is_restored(hit.entity_type, text[hit.start : hit.end]):
                continue
            blocked = action is EntityAction.BLOCK
            findings.append(
                Finding(
                    Kind.PII,
                    hit.entity_type,
                    hit.score,
                    ANSWER,
                    offset + hit.start,
                    offset + hit.end,
                    Action.BLOCK if blocked else Action.SANITIZE,
                    "presidio",
                )
            )
            if not blocked:
                spans.append(Span(hit.start, hit.end, hit.entity_type, action.value))
        return findings, spans


def apply_spans(text: str, spans: Iterable[Span]) -> str:
    """The text with each span masked or redacted (answers have no placeholders to hand out)."""
    return Pseudonymiser().replace(text, spans)


@dataclass(frozen=True)
class OutputWindowSize:
    """How a streamed answer is scanned for entities.

    `hold_chars` is the longest entity kept whole: text within that distance of the end is not released
    until more follows. `step_chars` is how much new text is gathered before scanning again, trading
    release lag (at most hold + step + one chunk) against scans per 1k characters. The first scan comes
    after `first_step_chars` and the step doubles up to `step_chars`, so the first words of an answer
    (and short answers) are not held for a whole step.
    """

    hold_chars: int = 64
    step_chars: int = 160
    first_step_chars: int = 16


EntityScan = Callable[[str], Awaitable[list[EntityHit]]]


_WORD = re.compile(r"\S+")
# Words an entity still being written may already span: a street address puts its number a few words
# before the street's name; phones, cards, IBANs and SSNs are digit groups.
_ENTITY_WORDS = 6


def entity_tail_start(text: str, max_chars: int) -> int:
    """Where an entity still being written at the end of `text` could begin, at most `max_chars` back.

    E-mail and IP addresses are one word, so the last word; the pattern entities that span words
    (phones, cards, IBANs, SSNs, street addresses) carry a digit, so the earliest of the last few words
    holding one.
    """
    floor = max(0, len(text) - max_chars)
    words = list(_WORD.finditer(text, floor))[-_ENTITY_WORDS:]
    if not words:
        return len(text)
    with_digits = [word.start() for word in words if any(character.isdigit() for character in word.group())]
    return max(floor, min([words[-1].start(), *with_digits]))


class PiiWindow:
    """Scans a streamed answer for PII with a bounded hold-back, releasing text only after its scan.

    The window scanned is the last released characters (context for recognizers, never re-released)
    plus the held text. What stays held is the tail where an entity still being written could begin:
    with `word_hold` (pattern entities only) the words `entity_tail_start` names, else the last
    `hold_chars` characters (names and places need the full hold: any word may start one). An entity
    that reaches into the held tail is held whole; one that started in already released text has its
    unreleased part redacted.
    """

    def __init__(
        self,
        pii: OutputPii,
        scan: EntityScan,
        size: OutputWindowSize = OutputWindowSize(),
        word_hold: bool = True,
    ) -> None:
        self._pii = pii
        self._scan = scan
        self._size = size
        self._word_hold = word_hold
        self._pending = ""
        self._context = ""
        self._released = 0
        self._step = min(size.first_step_chars, size.step_chars)
        self.findings: list[Finding] = []

    async def push(self, text: str) -> Release:
        self._pending += text
        if len(self._pending) < (0 if self._word_hold else self._size.hold_chars) + self._step:
            return Release("")
        self._step = min(2 * self._step, self._size.step_chars)
        return await self._scan_release(final=False)

    async def finish(self) -> Release:
        return await self._scan_release(final=True) if self._pending else Release("")

    async def _scan_release(self, final: bool) -> Release:
        window = self._context + self._pending
        base = len(self._context)
        hits = [
            dataclasses.replace(hit, start=max(hit.start, base)) for hit in await self._scan(window) if hit.end > base
        ]
        if final:
            cut = len(window)
        elif self._word_hold:
            cut = base + entity_tail_start(self._pending, self._size.hold_chars)
        else:
            cut = len(window) - self._size.hold_chars
        cut = min([cut, *(hit.start for hit in hits if hit.start < cut < hit.end)])
        decided = [
            dataclasses.replace(hit, start=hit.start - base, end=hit.end - base) for hit in hits if hit.end <= cut
        ]
        text = window[base:cut]
        findings, spans = self._pii.decide(text, decided, self._released)
        self.findings.extend(findings)
        if any(finding.action is Action.BLOCK for finding in findings):
            return Release("", findings)
        self._context = (self._context + text)[-self._size.hold_chars :]
        self._pending = window[cut:]
        self._released += len(text)
        return Release(apply_spans(text, spans))
