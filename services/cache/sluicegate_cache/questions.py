"""Which questions the semantic layer compares: short enough that the model sees all of one, and written in what
the correctness gate can read. Any other question is left to the exact layer.

The embedding model reads at most `EMBEDDING_MAX_TOKENS` tokens: two prompts that differ only after that cut get
the same vector (similarity 1.0), so a question the model would cut is never compared. Long text is refused by
its length in characters before anything else reads it (a 3.6 MB question must not be split, tokenised, embedded,
stored in a record and indexed by every replica). The gate's words are ASCII letters and digits: a question in
another script (or with accented letters) holds too little it can read, and the model's tokenizer turns many CJK
characters into [UNK] ("如何启用…" / "如何禁用…" embed alike), so such questions are exact-only too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib import resources

from sluicegate_cache.gate import comparable_text

# SentenceEmbedder's default `max_tokens` (the service embeds with it), special tokens included.
EMBEDDING_MAX_TOKENS = 256

TokenIds = Callable[[str], Sequence[int]]


def minilm_token_ids() -> tuple[TokenIds, int]:
    """The embedding model's tokenizer, without truncation (so a count can reach the limit), and its [UNK] id."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(resources.files("sluicegate.embedding").joinpath("minilm-tokenizer.json")))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return (lambda text: tokenizer.encode(text).ids), tokenizer.token_to_id("[UNK]")


class QuestionLimits:
    """Decides, per question, whether the semantic layer may compare it.

    The cheap checks (characters, words, script) run on every lookup with a question; the tokenizer (about 50 us
    for 300 characters) only for a question about to be embedded, once per question (`fits_model`).
    """

    def __init__(
        self,
        token_ids: TokenIds,
        unknown_id: int,
        max_words: int = 40,
        max_chars: int = 320,
        max_tokens: int = EMBEDDING_MAX_TOKENS,
        remember: int = 1024,
    ) -> None:
        self._token_ids = token_ids
        self._unknown_id = unknown_id
        self.max_words = max_words
        self.max_chars = max_chars
        self._max_tokens = max_tokens
        self._remember = remember
        self._fits: OrderedDict[str, bool] = OrderedDict()

    def too_long(self, question: str) -> bool:
        """More characters than `max_chars` or more words than `max_words` (characters first: a huge question is
        never split)."""
        return len(question) > self.max_chars or len(question.split()) > self.max_words

    def comparable(self, question: str) -> bool:
        """Not too long, and readable by the gate (ASCII after typographic forms; see gate.comparable_text)."""
        return not self.too_long(question) and comparable_text(question)

    def fits_model(self, question: str) -> bool:
        """Whether the model sees all of a comparable question, and knows every token of it: fewer tokens than its
        limit (a question that reaches it may have been cut) and no [UNK] (a word the vocabulary cannot spell:
        two questions differing there embed alike)."""
        fits = self._fits.get(question)
        if fits is None:
            ids = self._token_ids(question)
            fits = len(ids) < self._max_tokens and self._unknown_id not in ids
            self._fits[question] = fits
            while len(self._fits) > self._remember:
                self._fits.popitem(last=False)
        else:
            self._fits.move_to_end(question)
        return fits

    def opening(self, question: str) -> str:
        """A question's first `max_words` words, cut to `max_chars` characters: what a caller that wants the
        embedding of a question the layer does not compare gets the embedding of."""
        head = question[: self.max_chars * 2]
        return " ".join(head.split()[: self.max_words])[: self.max_chars]
