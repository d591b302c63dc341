-- return_hold: gives a whole reservation back to its buckets and takes back the tokens it counted on rate
-- limits (Release, and reclaiming expired reservations).
-- KEYS[1] reservation record, KEYS[2] reservation expiry sorted set, KEYS[3] reservation holds hash,
-- KEYS[4 .. 3+B] bucket counters, then the rate-limit windows the reservation counted on.
-- ARGV[1] reservation id, ARGV[2] bucket count B, ARGV[3] token correction (minus the tokens counted)
-- Returns the amount returned, or -1 when the reservation was already settled, released or reclaimed.
local hold = redis.call('HGET', KEYS[3], ARGV[1])
if not hold then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return -1
end
local amount = string.sub(hold, 1, string.find(hold, '|', 1, true) - 1)
-- HINCRBY rejects "-0", and Lua would print a large negated number in exponent form.
local returned = amount == '0' and '0' or '-' .. amount
local last_bucket = 3 + tonumber(ARGV[2])
for i = 4, last_bucket do
  redis.call('HINCRBY', KEYS[i], 'reserved', returned)
end
-- A window already dropped has passed: correcting it would only recreate it without an expiry.
for i = last_bucket + 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HINCRBY', KEYS[i], 'tokens', ARGV[3])
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return tonumber(amount)
