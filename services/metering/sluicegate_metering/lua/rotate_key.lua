-- rotate_key: replaces a key's secret hash so the old secret stops resolving at once.
-- KEYS[1] key record, KEYS[2] secret-hash index
-- ARGV[1] key id, ARGV[2] new secret hash, ARGV[3] new prefix
-- Returns 1 when rotated, 0 when the key is unknown, -1 when it is revoked.
local old = redis.call('HGET', KEYS[1], 'secret_hash')
if not old then
  return 0
end
if redis.call('HGET', KEYS[1], 'revoked') == '1' then
  return -1
end
redis.call('HDEL', KEYS[2], old)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], 'secret_hash', ARGV[2], 'prefix', ARGV[3])
return 1
