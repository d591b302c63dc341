-- settle: charges the actual cost, returns the reservation, appends to the ledger and the day's spend, and
-- corrects the tokens counted on rate limits to the actual usage, at once.
-- A reservation settles once: a second settle (or one after release or reclaim) changes nothing.
-- KEYS[1] reservation record, KEYS[2] reservation expiry sorted set, KEYS[3] reservation holds hash,
-- KEYS[4] ledger stream, KEYS[5] the tenant's spend of the day, KEYS[6 .. 5+B] bucket counters, then the
-- rate-limit windows the reservation counted on.
-- ARGV[1] reservation id, ARGV[2] cost, ARGV[3] spend TTL (s), ARGV[4] bucket count B, ARGV[5] token
-- correction (actual minus counted), ARGV[6] the ledger entry's field/value pairs (a JSON list of strings; the
-- reserved amount, read here, is added as `reserved_micros_usd`), ARGV[7] the day's spend field/increment
-- pairs (a JSON list of strings).
-- Returns {reserved amount, room left in each bucket...} or {-1} when the reservation is gone.
local hold = redis.call('HGET', KEYS[3], ARGV[1])
if not hold then
  return {-1}
end
local amount = string.sub(hold, 1, string.find(hold, '|', 1, true) - 1)
-- HINCRBY rejects "-0", and Lua would print a large negated number in exponent form.
local returned = amount == '0' and '0' or '-' .. amount
local last_bucket = 5 + tonumber(ARGV[4])
local result = {tonumber(amount)}
for i = 6, last_bucket do
  local reserved = redis.call('HINCRBY', KEYS[i], 'reserved', returned)
  local spent = redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2])
  local limit = tonumber(redis.call('HGET', KEYS[i], 'limit') or '0')
  result[#result + 1] = limit - spent - reserved
end
-- A window already dropped has passed: correcting it would only recreate it without an expiry.
for i = last_bucket + 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HINCRBY', KEYS[i], 'tokens', ARGV[5])
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])

redis.call('XADD', KEYS[4], '*', 'reserved_micros_usd', amount, unpack(cjson.decode(ARGV[6])))
local increments = cjson.decode(ARGV[7])
for j = 1, #increments, 2 do
  redis.call('HINCRBY', KEYS[5], increments[j], increments[j + 1])
end
redis.call('EXPIRE', KEYS[5], ARGV[3])
return result
