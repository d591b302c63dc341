"""The semantic layer: a paraphrase of a stored question is served that question's answer, when it is safe to.

A lookup embeds the sanitised last user turn (off the event loop), searches the tenant's partition in this
replica's index (see replica.py), and serves the most similar entry that clears the threshold and the
correctness gate (gate.py). Partitions with no entries are known without embedding, so most misses cost no model
call; so are partitions where no question has the asked one's numbers and negations (its match key) or mentions
an identifier it names ("INC-7f3a2"), which the gate requires: "summarize ticket 48213" among stored tickets of
other numbers misses at once, and the store after it embeds the question off the client's path. A caller that wants the embedding back
(`embedding_wanted`: the router classifies with it) still gets it. When this replica's index does not hold the
request's exact entry (the exact layer will most likely miss), the embedding starts before the exact layer is
asked (`begin`), so the two run side by side.

Only questions the model sees whole and the gate can read are compared (questions.py): at most `max_words` (40)
words and `max_chars` (320) characters, fewer tokens than the model reads, no [UNK] token, ASCII after typographic
forms. Any other is left to the exact layer, neither embedded at lookup nor at store, and never written into a
semantic record (a caller that wants an embedding gets its opening's, see `_embedding_only`). The model's time
grows with the text (alone on this 2-core machine: 7.7 ms for 27 tokens, 13.2 for 52, 21.9 for 102, 47.3 for
202), and a lookup's embedding is on the request's path; the correctness gate is checked on labelled questions of
up to 13 words (eval/pairs.jsonl), and long prompts (documents, retrieved context) seldom recur as paraphrases.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor

import numpy as np

from sluicegate.cache.v1 import cache_pb2
from sluicegate.embedding import SentenceEmbedder
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.gate import QuestionGate
from sluicegate_cache.questions import QuestionLimits
from sluicegate_cache.replica import ReplicaIndex
from sluicegate_cache.results import CacheQuery, LookupResult, Outcome
from sluicegate_cache.subject import Subject, subject_of
from sluicegate_cache.thresholds import TenantThresholds
from sluicegate_cache.vectors import SemanticRecord, TenantIndex

Embed = Callable[[str], "asyncio.Future[np.ndarray]"]


def embed_off_loop(embedder: SentenceEmbedder, executor: Executor | None = None, remember: int = 1024) -> Embed:
    """An embedding function that runs the model in `executor` (onnxruntime releases the GIL) and returns the
    future vector. The model is handed the text when the function is called, not when its result is first
    awaited (a task would start it only once the event loop came round to it, about half a millisecond later
    when the loop is busy).

    The last `remember` questions' vectors are kept (and a question being embedded is shared), so the Store that
    follows a missed Lookup of the same question does not run the model a second time.
    """
    recent: OrderedDict[str, asyncio.Future[np.ndarray]] = OrderedDict()

    def embed(text: str) -> asyncio.Future[np.ndarray]:
        future = recent.get(text)
        if future is None or (future.done() and (future.cancelled() or future.exception() is not None)):
            future = asyncio.get_running_loop().run_in_executor(executor, embedder.embed_one, text)
            recent[text] = future
            while len(recent) > remember:
                recent.popitem(last=False)
        else:
            recent.move_to_end(text)
        # Shielded: a caller that gives up (a lookup that no longer needs it) must not cancel a shared result.
        return asyncio.shield(future)

    return embed


class SemanticCache:
    """Finds and records near-duplicate questions within a tenant's partition."""

    def __init__(
        self,
        entries: ExactCache,
        replica: ReplicaIndex,
        embed: Embed,
        thresholds: TenantThresholds,
        limits: QuestionLimits,
        gate: QuestionGate | None = None,
        candidates: int = 5,
    ) -> None:
        self._entries = entries
        self._replica = replica
        self._embed = embed
        self._thresholds = thresholds
        self._limits = limits
        self._gate = gate or QuestionGate()
        self._candidates = candidates

    def _comparable(self, subject: Subject | None) -> bool:
        """Whether the layer may compare this question: it has one, short enough and readable by the gate (see the
        module's notes). The model's own limits are checked only before embedding (`_embed_comparable`)."""
        return subject is not None and self._limits.comparable(subject.question)

    def _embed_comparable(self, question: str) -> asyncio.Future[np.ndarray] | None:
        """The question's embedding under way, or None when the model would not see all of it (exact-only)."""
        return self._embed(question) if self._limits.fits_model(question) else None

    def _embedding_only(self, query: CacheQuery) -> str | None:
        """For a caller that wants the embedding of a question the layer does not compare: the question's opening
        (`QuestionLimits.opening`), whose embedding it gets instead (the router's classifier reads a prompt's
        opening, its first 64 tokens). Embedded here once the exact layer has missed, while the guard still scans
        the long prompt, rather than by the router after the lookup, on the request's path (about 13 ms for 50
        tokens here). None otherwise."""
        subject = query.subject
        if not query.embedding_wanted or subject is None or query.control.semantic_disabled:
            return None
        question = subject.question
        if self._limits.comparable(question) and self._limits.fits_model(question):
            return None
        return self._limits.opening(question)

    def begin(self, query: CacheQuery) -> None:
        """Starts embedding the question while the exact layer is still asked, when that layer will most likely
        miss: this replica's index (maybe a little behind Redis) holds the tenant but not the request's own entry,
        and a stored question may match. The lookup that follows finds the embedding under way. A wrong guess (an
        entry another replica stored moments ago, or one stored without a question) costs one embedding, never an
        answer; an entry the index holds is most likely an exact hit, and its question is not embedded early."""
        subject = query.subject
        if query.control.semantic_disabled or not self._comparable(subject):
            return
        held = self._replica.held(query.tenant_id)
        if held is None or held.holds(query.entry_id) or not _worth_embedding(held, query):
            return
        started = self._embed_comparable(subject.question)
        if started is None:
            return
        # Nobody awaits this future (the lookup shares the model's run, not it): its outcome is retrieved here.
        started.add_done_callback(lambda future: future.cancelled() or future.exception())

    async def lookup(self, query: CacheQuery, now: float) -> LookupResult | None:
        subject = query.subject
        opening = self._embedding_only(query)
        if opening is not None:
            vector = await self._embed(opening)
            return LookupResult(outcome=Outcome.MISS, question_embedding=vector.astype("<f4").tobytes())
        if query.control.semantic_disabled or not self._comparable(subject):
            return None
        # Embedding (the slow part) starts at once when this replica already holds a question that may match,
        # and runs while the index catches up with Redis.
        held = self._replica.held(query.tenant_id)
        embedding = None
        if held is not None and _worth_embedding(held, query):
            if not self._limits.fits_model(subject.question):
                return None
            embedding = self._embed(subject.question)
        index = None
        try:
            index = await self._replica.tenant(query.tenant_id, query.tenant_sequence)
        finally:
            searchable = index is not None and index.has_partition(subject.partition)
            worth_it = searchable and _worth_embedding(index, query)
            if embedding is not None and not worth_it:
                embedding.cancel()
        if not searchable:
            return None
        if not worth_it:
            return LookupResult(outcome=Outcome.MISS)
        if embedding is None:
            embedding = self._embed_comparable(subject.question)
            if embedding is None:
                return None
        vector = await embedding
        threshold = self._thresholds.effective(query.tenant_id, query.control.min_similarity)
        now_ms = int(now * 1000)
        for candidate in index.search(subject.partition, vector, threshold, now_ms, self._candidates):
            if not self._gate.same_question(subject.question, candidate.question, candidate.similarity):
                continue
            hit = await self._entries.fetch(
                query.tenant_id, query.namespace, candidate.entry_id, now, Outcome.HIT_SEMANTIC, candidate.similarity
            )
            if hit is not None:
                return hit
        # A miss still hands back what it computed: the router's classifier can use the embedding.
        return LookupResult(outcome=Outcome.MISS, question_embedding=vector.astype("<f4").tobytes())

    async def record_for(self, key: cache_pb2.CacheKey, namespace: str, expires_at_ms: int) -> bytes:
        """The semantic record to store beside an entry (b"" when the request has no comparable question)."""
        subject = subject_of(key, namespace)
        if not self._comparable(subject):
            return b""
        embedding = self._embed_comparable(subject.question)
        if embedding is None:
            return b""
        vector = await embedding
        return SemanticRecord(subject.partition, expires_at_ms, vector, subject.question).encode()


def _worth_embedding(index: TenantIndex, query: CacheQuery) -> bool:
    """Whether to embed the question: its partition holds a question that may match it (its match key and
    identifiers are worked out only then, once a query: most partitions a lookup meets are empty), or the caller
    wants the embedding."""
    partition = query.subject.partition
    return index.has_partition(partition) and (
        query.embedding_wanted or index.may_match(partition, query.match_key, query.identifiers)
    )
