-- create_key: stores a key record and indexes its secret hash, unless that hash is indexed already.
-- KEYS[1] secret-hash index, KEYS[2] key record, KEYS[3] tenant's key set, KEYS[4] set of every key
-- ARGV[1] secret hash, ARGV[2] key id, ARGV[3..] record field/value pairs
-- Returns 1 when created, 0 when the secret already belongs to a key (so a bootstrap key is created once).
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[2])
return 1
