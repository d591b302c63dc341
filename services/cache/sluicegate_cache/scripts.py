"""The Lua scripts that change a tenant's entries. Each runs atomically in Redis, so concurrent stores, lookups and
invalidations from any number of cache replicas never leave the index, the byte total and the entries disagree,
and never let a tenant exceed its entry limit.

Every entry-changing script gets KEYS[1..6] = lru, exp, idx, bytes, vec, seq (see layout.py) and ARGV[1] = the
tenant's key prefix; entry keys are built from the prefix inside the script.

Semantic records (vec) change only inside these scripts, and every change is published on INDEX_CHANNEL as
"<tenant> <seq> <a|r> <entry_id> <record>" with a per-tenant sequence number (seq), in the same atomic step: a
replica that sees every number in order holds exactly what Redis holds, and one that sees a gap reloads. They share the tenant's hash tag, so they live in
the same cluster slot as the declared keys.
"""

from __future__ import annotations

INDEX_CHANNEL = "sg:cache:index-changes"

_COMMON = f"""
local lru, exp, idx, total, vec, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix = ARGV[1]
local tenant = string.match(prefix, '{{(.*)}}')

-- announce tells every replica that a semantic record was added ('a') or removed ('r').
local function announce(op, id, record)
  local number = redis.call('INCR', seq)
  redis.call('PUBLISH', '{INDEX_CHANNEL}', tenant .. ' ' .. number .. ' ' .. op .. ' ' .. id .. ' ' .. record)
end

local function indexed(id)
  local meta = redis.call('HGET', idx, id)
  if not meta then return nil, nil end
  local size, namespace = string.match(meta, '^(%d+) (.*)$')
  return tonumber(size), namespace
end

-- forget removes an entry's bookkeeping (not the entry itself).
local function forget(id)
  local size = indexed(id)
  if size then
    redis.call('DECRBY', total, size)
    redis.call('HDEL', idx, id)
  end
  if redis.call('HDEL', vec, id) == 1 then announce('r', id, '') end
  redis.call('ZREM', lru, id)
  redis.call('ZREM', exp, id)
end

-- remove deletes an entry and its bookkeeping; namespace '' means "wherever the index says it is".
-- Returns 1 when a live entry was deleted.
local function remove(id, namespace)
  local _, indexed_namespace = indexed(id)
  if namespace == '' then namespace = indexed_namespace end
  if not namespace then
    forget(id)
    return 0
  end
  local removed = redis.call('DEL', prefix .. namespace .. ':e:' .. id)
  if indexed_namespace == nil or indexed_namespace == namespace then forget(id) end
  return removed
end

-- purge forgets every entry whose expiry has passed (Redis has already dropped, or now drops, the entry).
local function purge(now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now)) do remove(id, '') end
end
"""

# ARGV: prefix, now_ms, entry_id, namespace, payload, ttl_ms, max_entries, semantic record ('' for none).
# Returns the number of entries evicted.
STORE = (
    _COMMON
    + """
local now, id, namespace, payload = tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local ttl, max_entries, record = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
purge(now)
remove(id, '')
redis.call('SET', prefix .. namespace .. ':e:' .. id, payload, 'PX', ttl)
if record ~= '' then
  redis.call('HSET', vec, id, record)
  announce('a', id, record)
end
redis.call('HSET', idx, id, string.len(payload) .. ' ' .. namespace)
redis.call('INCRBY', total, string.len(payload))
redis.call('ZADD', lru, now, id)
redis.call('ZADD', exp, now + ttl, id)
local evicted = 0
while redis.call('ZCARD', lru) > max_entries do
  local oldest = redis.call('ZRANGE', lru, 0, 0)[1]
  remove(oldest, '')
  evicted = evicted + 1
end
return evicted
"""
)

# KEYS: entry, lru[, sequence]. ARGV: entry_id, now_ms. Returns the entry's bytes (nil on a miss) and marks it used
# now; given the tenant's sequence key, returns {bytes or nil, the sequence number} (the semantic layer's index must
# be at least that current, and needs no read of its own).
LOOKUP = """
local payload = redis.call('GET', KEYS[1])
if payload then redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[1]) end
if KEYS[3] then return {payload, redis.call('GET', KEYS[3]) or '0'} end
return payload
"""

# ARGV: prefix, now_ms, then (namespace, entry_id) pairs. Returns the number of live entries deleted.
REMOVE = (
    _COMMON
    + """
purge(tonumber(ARGV[2]))
local removed = 0
for i = 3, #ARGV, 2 do removed = removed + remove(ARGV[i + 1], ARGV[i]) end
return removed
"""
)

# ARGV: prefix, now_ms. Returns {entries, bytes} after forgetting expired entries.
SIZE = (
    _COMMON
    + """
purge(tonumber(ARGV[2]))
return {redis.call('ZCARD', lru), tonumber(redis.call('GET', total) or '0')}
"""
)
