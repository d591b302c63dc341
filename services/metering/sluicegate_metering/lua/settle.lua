-- settle: charges the actual cost, returns the reservation, appends to the ledger and the day's spend, and
-- corrects the tokens counted on rate limits to the actual usage, at once.
-- A reservation settles once: a second settle (or one after release, reclaim or expiry) changes nothing. Past
-- its expiry a reservation is the reclaimer's, whichever replica asks and whether or not its record is still
-- there. Every read and check comes before the first write, so a script that fails has changed nothing.
-- KEYS[1] reservation record, KEYS[2] reservation expiry sorted set, KEYS[3] reservation holds hash,
-- KEYS[4] ledger stream, KEYS[5] the tenant's spend of the day, KEYS[6 .. 5+B] bucket counters, then the
-- rate-limit windows the reservation counted on.
-- ARGV[1] reservation id, ARGV[2] cost (an integer string), ARGV[3] spend TTL (s), ARGV[4] bucket count B,
-- ARGV[5] token correction (actual minus counted), ARGV[6] the ledger entry's field/value pairs (a JSON list of
-- strings; the reserved amount, read here, is added as `reserved_micros_usd`), ARGV[7] the day's spend
-- field/increment pairs (a JSON list of strings), ARGV[8] now (epoch ms).
-- Returns {reserved amount, room left in each bucket...} or {-1} when the reservation is gone or expired.
-- Amounts past 2^53 are not exact in Lua, and past 2^63 HINCRBY fails after earlier writes: such a call is
-- refused before anything is written (the service bounds token counts far below this).
local function exact(value)
  return value ~= nil and value == math.floor(value) and math.abs(value) <= 9007199254740991
end
local hold = redis.call('HGET', KEYS[3], ARGV[1])
if not hold then
  return {-1}
end
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if expiry and tonumber(expiry) <= tonumber(ARGV[8]) then
  return {-1}
end
local amount = string.sub(hold, 1, string.find(hold, '|', 1, true) - 1)
local ledger = cjson.decode(ARGV[6])
local increments = cjson.decode(ARGV[7])
local cost = tonumber(ARGV[2])
if not (exact(cost) and exact(tonumber(ARGV[5]))) then
  return redis.error_reply('ERR cost or token correction out of range')
end
local last_bucket = 5 + tonumber(ARGV[4])
local result = {tonumber(amount)}
for i = 6, last_bucket do
  local counters = redis.call('HMGET', KEYS[i], 'limit', 'spent', 'reserved')
  local spent = tonumber(counters[2] or '0') + cost
  local reserved = tonumber(counters[3] or '0') - tonumber(amount)
  if not (exact(spent) and exact(reserved)) then
    return redis.error_reply('ERR bucket counters out of range')
  end
  result[#result + 1] = tonumber(counters[1] or '0') - spent - reserved
end
-- A window already dropped has passed: correcting it would only recreate it without an expiry.
local windows = {}
for i = last_bucket + 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    windows[#windows + 1] = KEYS[i]
  end
end

-- HINCRBY rejects "-0", and Lua would print a large negated number in exponent form.
local returned = amount == '0' and '0' or '-' .. amount
for i = 6, last_bucket do
  redis.call('HINCRBY', KEYS[i], 'reserved', returned)
  redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2])
end
for _, counter in ipairs(windows) do
  redis.call('HINCRBY', counter, 'tokens', ARGV[5])
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])

redis.call('XADD', KEYS[4], '*', 'reserved_micros_usd', amount, unpack(ledger))
for j = 1, #increments, 2 do
  redis.call('HINCRBY', KEYS[5], increments[j], increments[j + 1])
end
redis.call('EXPIRE', KEYS[5], ARGV[3])
return result
