-- authorize: reserves one amount on every bucket at once, or nothing at all.
-- Options are tried in order (the requested model, then a cheaper one): the first amount that fits every
-- bucket is reserved. A later option is tried only when the request, or the budget of the bucket that
-- refused, allows a downgrade.
-- KEYS[1] reservation record, KEYS[2] reservation expiry sorted set, KEYS[3] reservation holds hash,
-- KEYS[4..] bucket counters
-- ARGV[1] reservation id, ARGV[2] expiry score (epoch ms), ARGV[3] record TTL (ms),
-- ARGV[4] request allows a downgrade (1/0), ARGV[5] option count, ARGV[6] bucket ids as JSON,
-- ARGV[7] requested model, then per bucket: limit, expire-at (epoch s, 0 = never), budget allows a downgrade (1/0),
-- then per option: amount, model, then the record's remaining field/value pairs.
-- Returns {1, chosen option, room left in each bucket...} or {0, index of the refusing bucket, its room}.
local bucket_count = #KEYS - 3
local request_downgrade = ARGV[4] == '1'
local option_count = tonumber(ARGV[5])
local bucket_args = 7
local option_args = bucket_args + 3 * bucket_count
local record_args = option_args + 2 * option_count

local room = {}
for i = 1, bucket_count do
  local counters = redis.call('HMGET', KEYS[3 + i], 'spent', 'reserved')
  room[i] = tonumber(ARGV[bucket_args + 3 * i - 2]) - tonumber(counters[1] or '0') - tonumber(counters[2] or '0')
end

local function refusing_bucket(amount)
  for i = 1, bucket_count do
    if amount > room[i] then
      return i
    end
  end
  return 0
end

local chosen, refused = 0, 0
for option = 1, option_count do
  local refusing = refusing_bucket(tonumber(ARGV[option_args + 2 * option - 1]))
  if refusing == 0 then
    chosen = option
    break
  end
  if refused == 0 then
    refused = refusing
  end
  if not (request_downgrade or ARGV[bucket_args + 3 * refusing] == '1') then
    break
  end
end
if chosen == 0 then
  return {0, refused, room[refused]}
end

local amount = ARGV[option_args + 2 * chosen - 1]
local model = ARGV[option_args + 2 * chosen]
local result = {1, chosen}
for i = 1, bucket_count do
  local counters = KEYS[3 + i]
  redis.call('HINCRBY', counters, 'reserved', amount)
  redis.call('HSET', counters, 'limit', ARGV[bucket_args + 3 * i - 2])
  local expire_at = tonumber(ARGV[bucket_args + 3 * i - 1])
  if expire_at > 0 then
    redis.call('EXPIREAT', counters, expire_at)
  end
  result[#result + 1] = room[i] - tonumber(amount)
end

local downgraded_from = ''
if chosen > 1 then
  downgraded_from = ARGV[7]
end
redis.call('HSET', KEYS[1], 'amount', amount, 'model', model, 'downgraded_from', downgraded_from,
  'buckets', ARGV[6], unpack(ARGV, record_args + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], amount .. '|' .. ARGV[6])
return result
