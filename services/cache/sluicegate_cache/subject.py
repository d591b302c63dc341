"""What the semantic layer compares: the last user turn's text, inside a partition that fixes everything else.

Two requests may share an answer only when they sit in the same partition: same tenant, logical model,
namespace, policy version, embedding model (vectors of two models are never compared), identical earlier context (system prompt and every earlier turn, canonicalised as for
the exact key), and the same parameter class. The parameter class keeps what changes an answer's kind and drops
what only nudges it: temperature and max_tokens fall into buckets, top_p is rounded, a seed counts as "set";
stop sequences, response format, JSON schema, tools and tool choice count in full.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2
from sluicegate.embedding.model import MODEL_ID
from sluicegate_cache.canonical import FORMAT_VERSION, canonical_message, canonical_params, normalise_text

PARTITION_BYTES = 16


@dataclass(frozen=True)
class Subject:
    """The question a semantic lookup compares, and the partition it may be compared in."""

    question: str
    partition: bytes


def subject_of(key: cache_pb2.CacheKey, namespace: str) -> Subject | None:
    """The request's subject, or None when it has none the semantic layer can compare: the conversation does not
    end with a user turn, or that turn holds something other than text (images and documents are not embedded)."""
    if not key.messages or key.messages[-1].role != chat_pb2.ROLE_USER:
        return None
    last = key.messages[-1]
    if any(part.WhichOneof("part") != "text" for part in last.content):
        return None
    question = "\n".join(normalise_text(part.text) for part in last.content).strip()
    if not question:
        return None
    partition_form = {
        "format": FORMAT_VERSION,
        "tenant": key.tenant_id,
        "model": key.model,
        "namespace": namespace,
        "policy_version": key.policy_version,
        "embedding_model": MODEL_ID,
        "params": parameter_class(key.params),
        "context": [canonical_message(message) for message in key.messages[:-1]],
        "speaker": last.name,
    }
    serialised = json.dumps(partition_form, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return Subject(question=question, partition=hashlib.sha256(serialised).digest()[:PARTITION_BYTES])


def parameter_class(params: chat_pb2.GenerationParams) -> dict[str, Any]:
    """The generation parameters reduced to the classes that decide whether one answer serves another request."""
    form = canonical_params(params)
    form["temperature"] = _temperature_bucket(params.temperature) if params.HasField("temperature") else None
    form["max_tokens"] = _max_tokens_bucket(params.max_tokens)
    form["top_p"] = round(params.top_p, 1) if params.HasField("top_p") else None
    form["seed"] = params.HasField("seed")
    return form


def _temperature_bucket(temperature: float) -> str:
    if temperature <= 0:
        return "greedy"
    if temperature <= 0.3:
        return "low"
    if temperature <= 0.7:
        return "medium"
    return "high"


def _max_tokens_bucket(max_tokens: int) -> int:
    """0 (the provider default) stays 0; otherwise the power of two at or above, so 300 and 500 share 512."""
    return 0 if max_tokens <= 0 else 2 ** math.ceil(math.log2(max_tokens))
