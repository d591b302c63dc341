-- return_hold: gives a whole reservation back to its buckets and takes back the tokens it counted on rate
-- limits (Release, reclaiming expired reservations, and voiding an Authorize whose reply did not come).
-- Every read and check comes before the first write, so a script that fails has changed nothing.
-- KEYS[1] reservation record, KEYS[2] reservation expiry sorted set, KEYS[3] reservation holds hash,
-- KEYS[4 .. 3+B] bucket counters, then the rate-limit windows the reservation counted on.
-- ARGV[1] reservation id, ARGV[2] bucket count B, ARGV[3] token correction (minus the tokens counted),
-- ARGV[4] only if expired by (epoch ms; 0 = whatever its expiry: Release): the reclaimer passes its now, so a
-- reservation that ReportUsage extended after the reclaimer listed it is left alone.
-- Returns the amount returned, -1 when the reservation was already settled, released or reclaimed, or -2 when
-- it has not expired by ARGV[4].
local hold = redis.call('HGET', KEYS[3], ARGV[1])
if not hold then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return -1
end
if ARGV[4] ~= '0' then
  local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if expiry and tonumber(expiry) > tonumber(ARGV[4]) then
    return -2
  end
end
local amount = string.sub(hold, 1, string.find(hold, '|', 1, true) - 1)
local last_bucket = 3 + tonumber(ARGV[2])
-- A window already dropped has passed: correcting it would only recreate it without an expiry.
local windows = {}
for i = last_bucket + 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    windows[#windows + 1] = KEYS[i]
  end
end

-- HINCRBY rejects "-0", and Lua would print a large negated number in exponent form.
local returned = amount == '0' and '0' or '-' .. amount
for i = 4, last_bucket do
  redis.call('HINCRBY', KEYS[i], 'reserved', returned)
end
for _, counter in ipairs(windows) do
  redis.call('HINCRBY', counter, 'tokens', ARGV[3])
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return tonumber(amount)
