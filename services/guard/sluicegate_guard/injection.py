"""The rules layer of prompt-injection detection: weighted patterns by category over normalised text.

Each rule that matches gives one finding (its best match) with the rule's weight as the score. A
message's findings are fused with a noisy-OR, so one strong signal blocks on its own and several weak
ones add up, while repeating one weak phrase adds nothing. Hidden payloads are decoded and scanned too:
base64, hex and URL-encoded runs, rot13 of the whole text, letters spelled out one by one, quoted
fragments joined together (payload splitting), reversed quotes and the first words of a run of lines.
A text that talks *about* an attack (classify, analyse, "is this a prompt injection") and quotes it has
the quoted matches turned down.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import itertools
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sluicegate_guard.injection_rules import DELIMITER, RULES, InjectionRule
from sluicegate_guard.normalise import fold_literal, normalise

if TYPE_CHECKING:
    from sluicegate_guard.semantic import SemanticLayer


# "Never reveal your system prompt" is a defence, not an attack: a negation just before an
# imperative rule turns it down.
_NEGATION = re.compile(
    r"\b(?:not|never|don't|dont|won't|cannot|can't|refuse\sto)"
    r"(?:[\s,]+(?:ever|under|any|circumstances|at|all|you|should|must|to|try|attempt|be|tricked|into))*[\s,]*$"
)
_NEGATED_WEIGHT_FACTOR = 0.2
_NEGATION_WINDOW = 60

# Talking about an attack is not making one: a text framed as analysis of quoted material has the
# matches inside its quotes turned down (set on the train half; an attacker who adds "classify this"
# still meets the semantic layer and the other, unquoted matches).
_META_FRAMING = re.compile(
    r"\b(?:classify|categori[sz]e|label\seach|annotate|is\s(?:this|the\sfollowing|it)\s(?:an?\s)?(?:prompt\sinjection|injection|jailbreak|attack|malicious|safe|benign)"
    r"|analy[sz]e|explain\s(?:why|what|to|how)|rate\sthe\sseverity|paraphrases\sof|unit\stest|flagged|blocked|incident|log\sline"
    r"|the\s(?:paper|study|article|report|blog)|dataset|benchmark|example|sample|red\sflag|moderators|detect\sthe|security\straining"
    r"|what\s(?:kind\sof\s|type\sof\s)?attack|the\sphrase|(?:attacker|hacker|user)\s(?:wrote|typed|sent|used)|known\s(?:jailbreak|attack)"
    r"|what\sdoes\s.{0,40}\s(?:mean|do)\b|how\sshould\s(?:the|our|a)\s(?:bot|assistant|model)\srespond)"
)
_QUOTED = re.compile(r"(?<!\w)'[^'\n]{3,400}'(?!\w)|\"[^\"\n]{3,400}\"|“[^”\n]{3,400}”|`[^`\n]{3,400}`")
_QUOTED_FACTOR = 0.3

# Encoded runs long enough to hide an instruction; the decoded bytes must read as text.
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:(?:\\x|0x)?[0-9A-Fa-f]{2}[\s:,]?){12,}")
# A whole whitespace-free word holding an escape; `_decode_url` wants three. Anchored at the word's start, so
# each word is tried once (`\S*(?:%XX\S*){3,}` retried every position of a long word: quadratic).
_URL_ENCODED_RUN = re.compile(r"(?<!\S)(?=\S*?%[0-9A-Fa-f]{2})\S+")
_URL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_MIN_URL_ESCAPES = 3
_SPELLED_RUN = re.compile(r"(?<!\S)\S(?:(?: |\s{2,}|-)\S){5,}(?!\S)|\b(?:\w-){3,}\w\b")
_BRACKETED_WORD = re.compile(r"\[([^\[\]\n]{1,30})\]")
# Spaces within the line only: `^\s*` ran from every line start over all the blank lines below it.
_LINE_START_WORD = re.compile(r"(?m)^[^\S\n]*([^\W\d_]+)\b")
_MAX_PAYLOADS = 64
_MIN_PRINTABLE_RATIO = 0.9
_MIN_SPLIT_LINES = 4


@dataclass(frozen=True)
class InjectionHit:
    """One finding's category and score, where it is in the original text and which layers saw it."""

    rule: str
    category: str
    score: float
    start: int
    end: int
    detector: str = "rules"


class InjectionScanner:
    """Runs the rule library over the normalised text and over every payload decoded from it."""

    def __init__(self, rules: Iterable[InjectionRule] = RULES) -> None:
        self._rules = [(rule, re.compile(fold_literal(rule.pattern))) for rule in rules]

    def scan(self, text: str) -> list[InjectionHit]:
        hits = {hit.rule: hit for hit in self._scan_plain(text, discount_quotes=True)}

        def keep(hit: InjectionHit, start: int, end: int) -> None:
            if hit.rule not in hits or hits[hit.rule].score < hit.score:
                hits[hit.rule] = replace(hit, start=start, end=end)

        rot13 = codecs.encode(text, "rot13")  # same length: spans carry over unchanged
        for hit in self._scan_plain(rot13):
            if hit.category != DELIMITER:  # rot13 keeps a template token's shape: "<|raqbsgrkg|>"
                keep(hit, hit.start, hit.end)
        for start, end, decoded in decoded_payloads(text):
            for hit in self._scan_plain(decoded):
                keep(hit, start, end)
        return sorted(hits.values(), key=lambda hit: hit.start)

    def _scan_plain(self, text: str, discount_quotes: bool = False) -> list[InjectionHit]:
        normalised = normalise(text)
        quoted: list[tuple[int, int]] = []
        framed = discount_quotes and _META_FRAMING.search(normalised.text) is not None
        if framed:
            quoted = [match.span() for match in _QUOTED.finditer(normalised.text)]
        hits = []
        for rule, compiled in self._rules:
            best: tuple[float, re.Match[str]] | None = None
            for match in compiled.finditer(normalised.text):
                score = rule.weight
                if rule.negatable and _is_negated(normalised.text, match.start()):
                    score *= _NEGATED_WEIGHT_FACTOR
                # A chat-template token in a question about it is being mentioned, not used.
                mentioned = framed and rule.category == DELIMITER
                if mentioned or any(start <= match.start() and match.end() <= end for start, end in quoted):
                    score *= _QUOTED_FACTOR
                if best is None or score > best[0]:
                    best = (score, match)
                if score == rule.weight:
                    break
            if best is not None:
                start, end = normalised.original_span(best[1].start(), best[1].end())
                hits.append(InjectionHit(rule.name, rule.category, best[0], start, end))
        return hits


def _is_negated(text: str, start: int) -> bool:
    return _NEGATION.search(text, max(0, start - _NEGATION_WINDOW), start) is not None


def decoded_payloads(text: str) -> list[tuple[int, int, str]]:
    """Hidden text found in `text`: (start, end, decoded) for each encoded run or split payload."""
    payloads: list[tuple[int, int, str]] = []
    for pattern, decode in _DECODERS:
        for match in pattern.finditer(text):
            decoded = decode(match.group())
            if decoded is not None and decoded.strip() and decoded != match.group():
                payloads.append((match.start(), match.end(), decoded))
                if len(payloads) == _MAX_PAYLOADS:
                    return payloads
    payloads.extend(_split_payloads(text))
    return payloads[:_MAX_PAYLOADS]


def _readable(raw: bytes) -> str | None:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for character in decoded if character.isprintable() or character.isspace())
    return decoded if decoded and printable / len(decoded) >= _MIN_PRINTABLE_RATIO else None


def _decode_base64(candidate: str) -> str | None:
    """The candidate as UTF-8 text if it is base64 (standard or URL-safe) of mostly printable text."""
    padded = candidate + "=" * (-len(candidate) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(raw)


def _decode_hex(candidate: str) -> str | None:
    digits = re.sub(r"\\x|0x|[\s:,]", "", candidate)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return _readable(bytes.fromhex(digits))
    except ValueError:
        return None


def _decode_url(candidate: str) -> str | None:
    if len(list(itertools.islice(_URL_ESCAPE.finditer(candidate), _MIN_URL_ESCAPES))) < _MIN_URL_ESCAPES:
        return None
    return urllib.parse.unquote_plus(candidate)


def _decode_spelled(candidate: str) -> str | None:
    """'I G N O R E   A L L' or 'I-G-N-O-R-E' → 'IGNORE ALL' (a wide gap separates words)."""
    words = re.split(r"\s{2,}", candidate)
    return " ".join(re.sub(r"[ \-.]", "", word) for word in words)


_DECODERS: tuple[tuple[re.Pattern[str], Callable[[str], str | None]], ...] = (
    (_BASE64_RUN, _decode_base64),
    (_HEX_RUN, _decode_hex),
    (_URL_ENCODED_RUN, _decode_url),
    (_SPELLED_RUN, _decode_spelled),
)


def _split_payloads(text: str) -> list[tuple[int, int, str]]:
    """Payload splitting: quoted fragments joined (with and without spaces), reversed, and line-initial words."""
    payloads = []
    bracketed = list(_BRACKETED_WORD.finditer(text))
    if len(bracketed) >= 3:
        words = " ".join(match.group(1) for match in bracketed)
        payloads.append((bracketed[0].start(), bracketed[-1].end(), words))
    quotes = list(_QUOTED.finditer(text))
    if len(quotes) >= 2:
        fragments = [match.group()[1:-1] for match in quotes]
        start, end = quotes[0].start(), quotes[-1].end()
        payloads.append((start, end, "".join(fragments)))
        payloads.append((start, end, " ".join(fragment.strip() for fragment in fragments)))
    for match in quotes:
        payloads.append((match.start(), match.end(), match.group()[1:-1][::-1]))
    words = list(_LINE_START_WORD.finditer(text))
    if len(words) >= _MIN_SPLIT_LINES:
        payloads.append((words[0].start(1), words[-1].end(1), " ".join(word.group(1) for word in words)))
    return payloads


def fuse(scores: Iterable[float]) -> float:
    """Noisy-OR: the probability that at least one signal is real, each taken as independent."""
    remaining = 1.0
    for score in scores:
        remaining *= 1.0 - score
    return 1.0 - remaining


class InjectionDetector:
    """The injection layers one worker runs: rules (with decoding) and, when given, the semantic layer."""

    def __init__(self, scanner: InjectionScanner | None = None, semantic: SemanticLayer | None = None) -> None:
        self._scanner = scanner or InjectionScanner()
        self._semantic = semantic

    def scan(self, text: str) -> list[InjectionHit]:
        hits = self._scanner.scan(text)
        return self._semantic.fuse(text, hits) if self._semantic is not None else hits

    def score(self, text: str) -> float:
        """The text's fused injection score, as the guard compares it with its threshold."""
        return fuse(hit.score for hit in self.scan(text))


def build_detector(semantic: bool = True) -> InjectionDetector:
    """The detector as a worker builds it: the semantic layer loads the shared embedder and the packaged bank."""
    if not semantic:
        return InjectionDetector()
    from sluicegate_guard.semantic import SemanticLayer

    return InjectionDetector(semantic=SemanticLayer.load())
