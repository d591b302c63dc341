"""The rules layer of prompt-injection detection: weighted patterns by category over normalised text.

Each rule that matches gives one finding (its first match) with the rule's weight as the score. A
message's findings are fused with a noisy-OR, so one strong signal blocks on its own and several weak
ones add up, while repeating one weak phrase adds nothing. Base64 payloads are decoded and scanned too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sluicegate_guard.normalise import normalise


@dataclass(frozen=True)
class InjectionRule:
    """A pattern over normalised text (lower case, single spaces) and how strongly a match signals injection."""

    name: str
    category: str
    weight: float
    pattern: str
    negatable: bool = False


_IGNORE = r"(?:ignore|disregard|forget|skip|override|bypass|drop|abandon)"
_PRIOR = r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|existing)"
_RULES = r"(?:instructions?|rules|directions|directives|prompts?|guidelines|guardrails|constraints|context|commands)"
_REVEAL = r"(?:print|reveal|show|display|output|repeat|tell|give|share|leak|dump|write out|spell out)"

RULES = (
    InjectionRule(
        "ignore_prior_instructions",
        "instruction_override",
        0.9,
        rf"\b{_IGNORE}\s(?:(?:all|any|every|each|of|the|your|my|these|those)\s){{0,3}}{_PRIOR}\s{_RULES}\b",
        negatable=True,
    ),
    InjectionRule(
        "ignore_your_instructions",
        "instruction_override",
        0.75,
        rf"\b{_IGNORE}\s(?:all\s|any\s)?(?:your|the\ssystem(?:'s)?)\s(?:system\s)?{_RULES}\b",
        negatable=True,
    ),
    InjectionRule("new_instructions", "instruction_override", 0.5, r"\bnew\s(?:system\s)?instructions?\s?:"),
    InjectionRule(
        "instructions_replaced",
        "instruction_override",
        0.5,
        r"\b(?:your|the)\s(?:new|real|actual|updated)\s(?:instructions|task|rules|objective)\s(?:are|is)\b",
    ),
    InjectionRule("you_are_now", "persona_jailbreak", 0.35, r"\byou\sare\snow\b"),
    InjectionRule(
        "act_as_dan",
        "persona_jailbreak",
        0.9,
        r"\b(?:you\sare|act\sas|pretend\sto\sbe|roleplay\sas|become)\s(?:now\s)?(?:a\s|an\s)?dan\b|\bdan\smode\b",
    ),
    InjectionRule("do_anything_now", "persona_jailbreak", 0.75, r"\bdo\sanything\snow\b"),
    InjectionRule("developer_mode", "persona_jailbreak", 0.45, r"\bdev(?:eloper)?\smode\b"),
    InjectionRule(
        "no_restrictions",
        "persona_jailbreak",
        0.45,
        r"\b(?:no|without\s(?:any\s)?)\s?(?:restrictions|limitations|filters|filtering|censorship|guardrails|content\spolic(?:y|ies)|ethical\sguidelines)\b",
    ),
    InjectionRule("jailbreak", "persona_jailbreak", 0.45, r"\bjail\s?br(?:eak|oken)"),
    InjectionRule(
        "repeat_words_above",
        "prompt_extraction",
        0.8,
        r"\brepeat\s(?:all\s|back\s)?(?:the\s)?(?:words|text|everything|sentences|lines|content)\s(?:above|before\sthis|preceding)",
        negatable=True,
    ),
    InjectionRule(
        "reveal_your_prompt",
        "prompt_extraction",
        0.8,
        rf"\b{_REVEAL}\s(?:me\s|us\s)?(?:out\s)?(?:all\s)?(?:of\s)?(?:your|the\ssystem(?:'s)?)\s(?:full\s|entire\s|exact\s|original\s|initial\s|hidden\s|secret\s)?(?:system\s)?(?:prompt|instructions|message)\b",
        negatable=True,
    ),
    InjectionRule(
        "reveal_system_prompt",
        "prompt_extraction",
        0.85,
        rf"\b{_REVEAL}\s(?:me\s|us\s)?(?:the\s|your\s)?(?:full\s|entire\s|hidden\s|secret\s)?system\sprompt\b",
        negatable=True,
    ),
    InjectionRule(
        "what_is_your_prompt",
        "prompt_extraction",
        0.55,
        r"\bwhat\s(?:is|are|was|were)\syour\s(?:system\s|initial\s|original\s)?(?:prompt|instructions)\b",
    ),
    InjectionRule("chatml_token", "delimiter_injection", 0.85, r"<\|(?:im_start|im_end|system|endoftext|eot_id)\|>"),
    InjectionRule("llama_inst", "delimiter_injection", 0.75, r"\[/?inst\]|<</?sys>>"),
    InjectionRule("system_tag_close", "delimiter_injection", 0.75, r"</\s?system\s?>"),
    InjectionRule("system_tag_open", "delimiter_injection", 0.6, r"<\s?system\s?>"),
    InjectionRule(
        "system_heading",
        "delimiter_injection",
        0.6,
        r"(?m)^#{2,}\s?(?:system|assistant)(?:\s(?:prompt|message|override))?\s?(?::|$)",
    ),
    InjectionRule(
        "markdown_image_with_query",
        "exfiltration",
        0.75,
        r"!\[[^\]\n]{0,200}\]\(\s?https?://[^\s)]+\?[^\s)]*=[^\s)]*\)",
    ),
    InjectionRule(
        "markdown_link_with_query",
        "exfiltration",
        0.4,
        r"(?<!!)\[[^\]\n]{0,200}\]\(\s?https?://[^\s)]+\?[^\s)]*=[^\s)]*\)",
    ),
    InjectionRule(
        "send_data_to_url",
        "exfiltration",
        0.5,
        r"\b(?:append|add|include|encode|embed|put|send)\s(?:[\w']+\s){0,6}(?:to|in|into)\s(?:the\s|this\s|a\s)?(?:url|link|query\s(?:string|parameter)|image\s(?:url|link))\b",
    ),
)

# "Never reveal your system prompt" is a defence, not an attack: a negation just before an
# imperative rule turns it down.
_NEGATION = re.compile(
    r"\b(?:not|never|don't|dont|won't|cannot|can't|refuse\sto)"
    r"(?:[\s,]+(?:ever|under|any|circumstances|at|all|you|should|must|to|try|attempt|be|tricked|into))*[\s,]*$"
)
_NEGATED_WEIGHT_FACTOR = 0.2
_NEGATION_WINDOW = 60

# Base64 runs long enough to hide an instruction; the decoded bytes must read as text.
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{24,}={0,2}")
_MAX_BASE64_PAYLOADS = 64
_MIN_PRINTABLE_RATIO = 0.9


@dataclass(frozen=True)
class InjectionHit:
    """One rule's match: its category and score and where it is in the original text."""

    rule: str
    category: str
    score: float
    start: int
    end: int


class InjectionScanner:
    """Runs the rule library over the normalised text and over any base64 payload decoded from it."""

    def __init__(self, rules: Iterable[InjectionRule] = RULES) -> None:
        self._rules = [(rule, re.compile(rule.pattern)) for rule in rules]

    def scan(self, text: str) -> list[InjectionHit]:
        hits = {hit.rule: hit for hit in self._scan_plain(text)}
        for start, end, decoded in _base64_payloads(text):
            for hit in self._scan_plain(decoded):
                if hit.rule not in hits or hits[hit.rule].score < hit.score:
                    hits[hit.rule] = InjectionHit(hit.rule, hit.category, hit.score, start, end)
        return sorted(hits.values(), key=lambda hit: hit.start)

    def _scan_plain(self, text: str) -> list[InjectionHit]:
        normalised = normalise(text)
        hits = []
        for rule, compiled in self._rules:
            best: tuple[float, re.Match[str]] | None = None
            for match in compiled.finditer(normalised.text):
                score = rule.weight
                if rule.negatable and _is_negated(normalised.text, match.start()):
                    score *= _NEGATED_WEIGHT_FACTOR
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


def _base64_payloads(text: str) -> list[tuple[int, int, str]]:
    payloads = []
    for match in _BASE64_RUN.finditer(text):
        decoded = _decode_text(match.group())
        if decoded is not None:
            payloads.append((match.start(), match.end(), decoded))
            if len(payloads) == _MAX_BASE64_PAYLOADS:
                break
    return payloads


def _decode_text(candidate: str) -> str | None:
    """The candidate as UTF-8 text if it is base64 (standard or URL-safe) of mostly printable text."""
    padded = candidate + "=" * (-len(candidate) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(1 for character in decoded if character.isprintable() or character.isspace())
    return decoded if decoded and printable / len(decoded) >= _MIN_PRINTABLE_RATIO else None


def fuse(scores: Iterable[float]) -> float:
    """Noisy-OR: the probability that at least one signal is real, each taken as independent."""
    remaining = 1.0
    for score in scores:
        remaining *= 1.0 - score
    return 1.0 - remaining
