-- return_hold: gives a whole reservation back to its buckets (Release, and reclaiming expired reservations).
-- KEYS[1] reservation record, KEYS[2] reservation expiry sorted set, KEYS[3] reservation holds hash,
-- KEYS[4..] bucket counters
-- ARGV[1] reservation id
-- Returns the amount returned, or -1 when the reservation was already settled, released or reclaimed.
local hold = redis.call('HGET', KEYS[3], ARGV[1])
if not hold then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return -1
end
local amount = string.sub(hold, 1, string.find(hold, '|', 1, true) - 1)
-- HINCRBY rejects "-0", and Lua would print a large negated number in exponent form.
local returned = amount == '0' and '0' or '-' .. amount
for i = 4, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved', returned)
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return tonumber(amount)
