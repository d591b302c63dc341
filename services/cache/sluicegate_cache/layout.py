"""Where a tenant's cache lives in Redis. Every key carries the tenant as a cluster hash tag (`{tenant}`), so
a Redis Cluster keeps one tenant's keys in one slot and a Lua script may touch all of them.

    sg:cache:{t}:{namespace}:e:{entry_id}   string: CachedAnswer bytes (created_at inside), with the entry's TTL
    sg:cache:{t}:lru                        sorted set: entry_id -> last access (ms), for LRU eviction
    sg:cache:{t}:exp                        sorted set: entry_id -> expiry (ms), to forget expired entries
    sg:cache:{t}:idx                        hash: entry_id -> "<bytes> <namespace>"
    sg:cache:{t}:bytes                      integer: sum of the entries' bytes
    sg:cache:{t}:counts                     hash: exact_hits, semantic_hits, misses, semantic_similarity_sum
    sg:cache:{t}:vec                        hash: entry_id -> semantic record (partition, expiry, vector, question)
    sg:cache:{t}:seq                        integer: number of the tenant's last semantic index change
"""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate_cache.names import require_name

ENTRY_MARK = ":e:"  # scripts.py builds entry key names the same way


@dataclass(frozen=True)
class TenantKeys:
    """The Redis key names of one tenant's partition."""

    tenant_id: str

    def __post_init__(self) -> None:
        # Checked again here, not only by the request validators: a bad name must never reach a key.
        require_name(self.tenant_id, "tenant_id")

    @property
    def prefix(self) -> str:
        return f"sg:cache:{{{self.tenant_id}}}:"

    @property
    def lru(self) -> str:
        return self.prefix + "lru"

    @property
    def expiry(self) -> str:
        return self.prefix + "exp"

    @property
    def index(self) -> str:
        return self.prefix + "idx"

    @property
    def total_bytes(self) -> str:
        return self.prefix + "bytes"

    @property
    def counts(self) -> str:
        return self.prefix + "counts"

    @property
    def counted(self) -> str:
        """The last batch of counts applied, by replica (see counters.py)."""
        return self.prefix + "counted"

    @property
    def vectors(self) -> str:
        return self.prefix + "vec"

    @property
    def sequence(self) -> str:
        return self.prefix + "seq"

    @property
    def bookkeeping(self) -> list[str]:
        """The keys every entry-changing script receives, in the order the scripts expect them."""
        return [self.lru, self.expiry, self.index, self.total_bytes, self.vectors, self.sequence]

    def entry(self, namespace: str, entry_id: str) -> str:
        return f"{self.prefix}{namespace}{ENTRY_MARK}{entry_id}"


def namespace_of(index_value: bytes) -> str:
    """The namespace recorded in an index value ("<bytes> <namespace>", written by the store script)."""
    return index_value.decode().partition(" ")[2]
