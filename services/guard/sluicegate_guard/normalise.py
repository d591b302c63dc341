"""Text normalisation before rule matching, keeping a map from normalised offsets back to the original text.

Attackers hide trigger phrases with look-alike letters, invisible characters, odd spacing and case; the
rules match a canonical form instead: NFKC, format characters (zero-width, bidi controls) removed,
diacritics dropped, common Cyrillic/Greek homoglyphs folded to Latin, whitespace runs collapsed (to a
newline when the run holds one, so line-anchored rules still work) and everything casefolded.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from dataclasses import dataclass

# Lower-case homoglyphs (text is casefolded first) that NFKC leaves alone.
HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "ɡ": "g", "ı": "i", "ɩ": "i", "α": "a", "β": "b", "ε": "e", "η": "n",
        "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
        "‘": "'", "’": "'", "ʼ": "'",
    }
)  # fmt: skip

# Printable ASCII words joined by single spaces (the common case, lower-cased in one piece), a
# whitespace run, or a run of other characters joined by single spaces (folded one by one).
_SEGMENT = re.compile(r"(?P<ascii>[!-~]+(?: [!-~]+)*)|(?P<space>\s+)|(?P<other>[^!-~\s]+(?: [^!-~\s]+)*)")


@dataclass(frozen=True)
class NormalisedText:
    """The normalised text and, per segment, where it starts in both texts.

    A linear segment maps character for character; any other segment came from one original character.
    """

    text: str
    normalised_starts: list[int]
    original_starts: list[int]
    linear: list[bool]

    def original_offset(self, position: int) -> int:
        """The original offset of the normalised character at `position`."""
        segment = bisect.bisect_right(self.normalised_starts, position) - 1
        start = self.original_starts[segment]
        return start + (position - self.normalised_starts[segment]) if self.linear[segment] else start

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that produced normalised characters [start, end)."""
        return self.original_offset(start), self.original_offset(end - 1) + 1


@functools.lru_cache(maxsize=8192)
def _fold_character(character: str) -> str:
    if unicodedata.category(character) == "Cf":
        return ""
    folded = unicodedata.normalize("NFKC", character).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(HOMOGLYPHS)


def fold_literal(text: str) -> str:
    """Folds the non-ASCII characters of a rule pattern the way `normalise` folds text (ASCII is kept as is)."""
    return "".join(character if character.isascii() else _fold_character(character) for character in text)


def normalise(text: str) -> NormalisedText:
    pieces: list[str] = []
    normalised_starts: list[int] = []
    original_starts: list[int] = []
    linear: list[bool] = []
    length = 0
    last_is_space = True  # also drops leading whitespace

    def emit(piece: str, original_start: int, is_linear: bool) -> None:
        nonlocal length, last_is_space
        pieces.append(piece)
        normalised_starts.append(length)
        original_starts.append(original_start)
        linear.append(is_linear)
        length += len(piece)
        last_is_space = piece[-1].isspace()

    for match in _SEGMENT.finditer(text):
        segment, kind = match.group(), match.lastgroup
        if kind == "ascii":
            emit(segment.lower(), match.start(), True)
            continue
        if kind == "space":
            if not last_is_space:
                emit("\n" if "\n" in segment else " ", match.start(), False)
            continue
        folded = [_fold_character(character) for character in segment]
        if all(
            len(piece) == 1 and (character == " " or not piece.isspace())
            for character, piece in zip(segment, folded, strict=True)
        ):
            emit("".join(folded), match.start(), True)
            continue
        for offset, piece in enumerate(folded):
            if not piece:
                continue
            if not piece.isspace():
                emit(piece, match.start() + offset, False)
            elif not last_is_space:
                emit(" ", match.start() + offset, False)
    return NormalisedText("".join(pieces), normalised_starts, original_starts, linear)
