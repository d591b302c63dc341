-- report_usage: charges a stream's progress against its reservation and extends the reservation's life.
-- When the cost so far exceeds the reservation, the reservation grows by the excess on every bucket, if every
-- bucket has room for it; otherwise nothing grows and the stream is over budget.
-- KEYS[1] reservation record, KEYS[2] reservation expiry sorted set, KEYS[3] reservation holds hash,
-- KEYS[4..] bucket counters
-- ARGV[1] reservation id, ARGV[2] cost so far (an integer string), ARGV[3] new expiry score (epoch ms),
-- ARGV[4] record TTL (ms)
-- Returns {1, reserved amount} within budget, {0, reserved amount} over budget, or {-1} when the reservation
-- is gone.
-- Amounts past 2^53 are not exact in Lua, and past 2^63 HINCRBY fails after earlier writes: such a call is
-- refused before anything is written (the service bounds token counts far below this).
local function exact(value)
  return value ~= nil and value == math.floor(value) and math.abs(value) <= 9007199254740991
end
local hold = redis.call('HGET', KEYS[3], ARGV[1])
if not hold or redis.call('EXISTS', KEYS[1]) == 0 then
  return {-1}
end
local separator = string.find(hold, '|', 1, true)
local amount = tonumber(string.sub(hold, 1, separator - 1))
local cost = tonumber(ARGV[2])
if not exact(cost) then
  return redis.error_reply('ERR cost out of range')
end
local within = 1
if cost > amount then
  local extra = cost - amount
  for i = 4, #KEYS do
    local counters = redis.call('HMGET', KEYS[i], 'limit', 'spent', 'reserved')
    if extra > tonumber(counters[1] or '0') - tonumber(counters[2] or '0') - tonumber(counters[3] or '0') then
      within = 0
    end
  end
  if within == 1 then
    -- As an integer string: Lua would print a large number in exponent form.
    local grown = string.format('%d', extra)
    for i = 4, #KEYS do
      redis.call('HINCRBY', KEYS[i], 'reserved', grown)
    end
    amount = cost
    redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. string.sub(hold, separator))
    redis.call('HSET', KEYS[1], 'amount', ARGV[2])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {within, amount}
