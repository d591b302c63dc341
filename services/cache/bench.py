"""Benchmark: exact and semantic Lookup latency through gRPC at 1k, 10k and 100k entries in one tenant, and
memory per 10k entries (in Redis, and in each replica's in-process index).

Starts its own Redis and a cache server process (port 0). Entries are written straight into Redis with the
cache's own store script (embedding 100k questions would take minutes): every entry sits in ONE semantic
partition (the worst case for a search), a few hundred carry real embeddings of real questions, the rest random
unit vectors. The server follows the writes as a replica does. Lookups are sequential (one in flight, as one
request sees it) and include everything a caller waits for: gRPC, the exact lookup, and for semantic lookups
the embedding of the question, the search and the gate. Every timed semantic lookup asks a text never asked
before (hits: a paraphrase with one space widened, which changes neither its words nor its embedding), so none
is served from the server's memory of recent embeddings. The recall of the server's approximate search (see
vectors.py) against brute force is measured in process on the same kind of data. Run:

    .venv/bin/python services/cache/bench.py [--lookups N] [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.devstack.processes import ManagedProcess, RedisServer, python_module
from sluicegate.embedding import EMBEDDING_DIMENSIONS, SentenceEmbedder
from sluicegate.runtime.channels import create_channel
from sluicegate_cache.canonical import entry_id_for
from sluicegate_cache.exact import ExactCache
from sluicegate_cache.servicer import SERVICE_NAME
from sluicegate_cache.settings import CacheSettings
from sluicegate_cache.subject import subject_of
from sluicegate_cache.vectors import PartitionIndex, SemanticRecord, TenantIndex

TENANT = "bench"
NAMESPACE = "default"
PAIRS = Path(__file__).with_name("eval") / "pairs.jsonl"
FILLER = "Summarise the maintenance schedule for sluice gate {n} in three bullet points."
ANSWER = cache_pb2.CachedAnswer(
    text="- Inspect seals monthly.\n- Grease the hoist quarterly.\n- Replace the gate skin every decade. " * 6,
    model="balanced",
    finish_reason=chat_pb2.FINISH_REASON_STOP,
    usage=chat_pb2.Usage(prompt_tokens=120, completion_tokens=150, total_tokens=270),
    cost_micros_usd=1800,
)
TTL_SECONDS = 3600
WRITE_CONCURRENCY = 32
MAX_ENTRIES = 200_000
THRESHOLD = CacheSettings.model_fields["semantic_threshold"].default


def key(text: str) -> cache_pb2.CacheKey:
    return cache_pb2.CacheKey(
        tenant_id=TENANT,
        model="balanced",
        policy_version="v1",
        messages=[
            chat_pb2.Message(role=chat_pb2.ROLE_SYSTEM, content=[chat_pb2.ContentPart(text="You are concise.")]),
            chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=text)]),
        ],
        params=chat_pb2.GenerationParams(temperature=0.0, max_tokens=300),
    )


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def paraphrase_pairs() -> list[tuple[str, str]]:
    """(stored question, paraphrase) from the evaluation set, first paraphrase of each group."""
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    seen: dict[int, tuple[str, str]] = {}
    for row in rows:
        if row["kind"] == "paraphrase" and row["group"] not in seen:
            seen[row["group"]] = (row["a"], row["b"])
    return list(seen.values())


class Writer:
    """Writes entries with the cache's own store script, as a replica's Store would."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._entries = ExactCache(client, MAX_ENTRIES)
        self._payload = ANSWER.SerializeToString()
        self._partition = subject_of(key("x"), NAMESPACE).partition
        self._rng = np.random.default_rng(3)

    async def write(self, items: list[tuple[str, np.ndarray | None]]) -> None:
        queue = iter(items)

        async def worker() -> None:
            for text, vector in queue:
                now = time.time()
                if vector is None:
                    vector = self._rng.standard_normal(EMBEDDING_DIMENSIONS).astype(np.float32)
                    vector /= np.linalg.norm(vector)
                record = SemanticRecord(self._partition, int((now + TTL_SECONDS) * 1000), vector, text)
                entry_id = entry_id_for(key(text), NAMESPACE)
                await self._entries.put(TENANT, NAMESPACE, entry_id, self._payload, TTL_SECONDS, now, record.encode())

        await asyncio.gather(*(worker() for _ in range(WRITE_CONCURRENCY)))


async def time_lookups(stub: cache_pb2_grpc.CacheServiceStub, texts: list[str], expected: int) -> str:
    """Sequential lookups; returns "p50 / p99" in ms (and checks every outcome)."""
    samples = []
    for text in texts:
        began = time.perf_counter()
        response = await stub.Lookup(cache_pb2.LookupRequest(key=key(text)))
        samples.append((time.perf_counter() - began) * 1000)
        if response.decision.outcome != expected:
            raise RuntimeError(f"unexpected outcome {response.decision.outcome} for {text!r}")
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49]:6.2f} ms  p99 {cuts[98]:6.2f} ms"


def fresh_variants(texts: list[str], asked: set[str]) -> Iterator[str]:
    """Variants of the texts never in `asked` (then added to it), each with one space widened: same words, same
    embedding, but a text the server has not embedded yet."""
    for variant in itertools.count():
        for text in texts:
            words = text.split(" ")
            gap, width = variant % (len(words) - 1), 2 + variant // (len(words) - 1)
            widened = " ".join(words[: gap + 1]) + " " * width + " ".join(words[gap + 1 :])
            if widened not in asked:
                asked.add(widened)
                yield widened


def random_units(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, EMBEDDING_DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def index_bytes_per_10k(rows: int) -> int:
    """What 10k records take in a replica's in-process index of `rows` records (numpy reports its buffers to
    tracemalloc)."""
    partition = subject_of(key("x"), NAMESPACE).partition
    records = [
        SemanticRecord(partition, 0, vector, FILLER.format(n=n))
        for n, vector in enumerate(random_units(np.random.default_rng(4), rows))
    ]
    tracemalloc.start()
    index = TenantIndex()
    for n, record in enumerate(records):
        index.put(f"{n:064x}", record)
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return used * 10_000 // rows


def search_recall(real: list[tuple[str, np.ndarray]], asked: list[np.ndarray], rows: int, threshold: float) -> str:
    """How many of the entries brute force finds at or above the threshold the index finds, over a partition of
    the real questions and random filler (`rows` in all), asked the paraphrases."""
    stored = np.concatenate([np.stack([vector for _, vector in real]), random_units(np.random.default_rng(5), rows)])
    stored = stored[:rows]
    index = PartitionIndex()
    for n, vector in enumerate(stored):
        index.put(f"{n:064x}", SemanticRecord(b"", 1, vector, ""))
    truth = found = 0
    for vector in asked:
        expected = {f"{n:064x}" for n in np.flatnonzero(stored @ vector >= threshold)}
        got = {candidate.entry_id for candidate in index.search(vector, threshold, 0, len(expected) + 1)}
        truth, found = truth + len(expected), found + len(expected & got)
    return f"{found}/{truth} = {found / max(truth, 1):.3f}"


async def used_memory(client: aioredis.Redis) -> int:
    return int((await client.info("memory"))["used_memory"])


async def run(redis_url: str, address: str, sizes: list[int], lookups: int) -> None:
    client = aioredis.Redis.from_url(redis_url)
    channel = create_channel(address, [SERVICE_NAME], default_timeout_seconds=30)
    stub = cache_pb2_grpc.CacheServiceStub(channel)
    rng = random.Random(7)
    pairs = paraphrase_pairs()
    writer = Writer(client)
    embedder = SentenceEmbedder()
    asked: set[str] = set()
    try:
        real = [(stored, embedder.embed_one(stored)) for stored, _ in pairs]
        await writer.write(real)
        await stub.Lookup(cache_pb2.LookupRequest(key=key(pairs[0][1])))  # the server loads the tenant
        baseline_redis = await used_memory(client)
        filled = len(real)
        for size in sizes:
            await writer.write([(FILLER.format(n=n), None) for n in range(filled, size)])
            filled = max(size, filled)
            if size == 10_000:
                redis_10k = (await used_memory(client) - baseline_redis) * 10_000 / (size - len(real))
            # Paraphrases the gate passes hit; others miss after the search: time only the hits' outcome checks.
            served = [
                paraphrase
                for _, paraphrase in pairs
                if (await stub.Lookup(cache_pb2.LookupRequest(key=key(paraphrase)))).decision.outcome
                == decision_pb2.CACHE_OUTCOME_HIT_SEMANTIC
            ]
            exact = await time_lookups(
                stub,
                [FILLER.format(n=rng.randrange(len(real), size)) for _ in range(lookups)],
                decision_pb2.CACHE_OUTCOME_HIT_EXACT,
            )
            semantic_hit = await time_lookups(
                stub,
                list(itertools.islice(fresh_variants(rng.sample(served, len(served)), asked), lookups)),
                decision_pb2.CACHE_OUTCOME_HIT_SEMANTIC,
            )
            semantic_miss = await time_lookups(
                stub,
                [f"Which tide tables apply to lock {rng.randrange(10**6)} in winter?" for _ in range(lookups)],
                decision_pb2.CACHE_OUTCOME_MISS,
            )
            report(
                f"{size:>7} entries: exact hit {exact} | semantic hit {semantic_hit} | semantic miss {semantic_miss}"
            )
        if 10_000 in sizes:
            report(
                f"memory per 10k entries: Redis {redis_10k / 2**20:.1f} MiB (answers, vectors, bookkeeping); "
                f"each replica's in-process index {index_bytes_per_10k(10_000) / 2**20:.1f} MiB at 10k entries, "
                f"{index_bytes_per_10k(max(sizes)) / 2**20:.1f} MiB at {max(sizes)}"
            )
        paraphrase_vectors = list(embedder.embed([paraphrase for _, paraphrase in pairs]))
        for size in sizes:
            report(
                f"search recall vs brute force at {size} entries, cosine >= {THRESHOLD}: "
                f"{search_recall(real, paraphrase_vectors, size, THRESHOLD)}"
            )
        report(f"machine load (1/5/15 min): {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    finally:
        await channel.close()
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=500, help="timed lookups per figure")
    parser.add_argument("--sizes", default="1000,10000,100000", help="entries in the tenant, comma-separated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="sg-cache-bench-") as tmp:
        root = Path(tmp)
        redis_server = RedisServer(data_dir=root / "redis", log_dir=root)
        redis_server.start()
        cache = ManagedProcess(
            "cache",
            python_module("sluicegate_cache"),
            log_dir=root,
            env={
                "CACHE_PORT": "0",
                "CACHE_REDIS_URL": redis_server.url,
                "CACHE_MAX_ENTRIES_PER_TENANT": str(MAX_ENTRIES),
                "CACHE_LOG_REQUESTS": "false",
                "OPENBLAS_NUM_THREADS": "1",  # as the Dockerfile sets it
            },
        )
        try:
            address = cache.start()
            asyncio.run(run(redis_server.url, address, sizes, args.lookups))
        finally:
            cache.stop()
            redis_server.stop()


if __name__ == "__main__":
    main()
