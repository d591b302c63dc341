-- authorize: reserves one amount on every bucket and counts the call on every rate limit at once, or nothing.
-- Options are tried in order (the requested model, then a cheaper one): the first amount that fits every
-- bucket is chosen. A later option is tried only when the request, or the budget of the bucket that
-- refused, allows a downgrade. The chosen option must then fit every rate limit that applies to it.
-- The caller's budgets come from a cached view: the budget fields it was read from are compared with the
-- tenant's budget hash first, and a stale view reserves nothing (the caller reads the budgets again).
-- Every read and check comes before the first write, so a script that fails has changed nothing.
-- KEYS[1] reservation record, KEYS[2] reservation expiry sorted set, KEYS[3] reservation holds hash,
-- KEYS[4] the tenant's budget hash, KEYS[5] the reservation's void marker, KEYS[6 .. 5+B] bucket counters,
-- then per rate subject: previous window, current window, configuration hash.
-- ARGV[1] reservation id, ARGV[2] expiry score (epoch ms), ARGV[3] record TTL (ms),
-- ARGV[4] request allows a downgrade (1/0), ARGV[5] option count, ARGV[6] bucket ids as JSON,
-- ARGV[7] requested model, ARGV[8] bucket count B, ARGV[9] rate subject count, ARGV[10] now (epoch ms),
-- ARGV[11] window length (ms), ARGV[12] the budget fields the view was read from (JSON list), ARGV[13] the
-- values it read for them (JSON list, '' = not set),
-- then per bucket: limit, expire-at (epoch s, 0 = never), budget allows a downgrade (1/0),
-- then per option: amount, model, tokens (amounts and tokens as integer strings, written as given),
-- then per rate subject: configuration field prefix, default requests, default tokens, option (0 = every one),
-- then the record's remaining field/value pairs (one JSON list of strings).
-- Returns {1, chosen option, room left in each bucket..., the rate windows counted on...},
-- {0, index of the refusing bucket, its room},
-- {2, index of the refusing rate subject, 1 for requests / 2 for tokens, wait in ms (-1 = never fits), limit},
-- {3} when the budget view is stale, or {4} when the reservation id was voided: its caller gave up on this
-- call (a reply that did not come in time) and had it made void, so a late run reserves nothing.
-- Amounts past 2^53 are not exact in Lua, and past 2^63 HINCRBY fails after earlier writes: such a call is
-- refused before anything is written (the service bounds token counts far below this).
local function exact(value)
  return value ~= nil and value == math.floor(value) and math.abs(value) <= 9007199254740991
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  return {4}
end
local fields = cjson.decode(ARGV[12])
if #fields > 0 then
  local expected = cjson.decode(ARGV[13])
  local stored = redis.call('HMGET', KEYS[4], unpack(fields))
  for i = 1, #fields do
    if (stored[i] or '') ~= expected[i] then
      return {3}
    end
  end
end

local request_downgrade = ARGV[4] == '1'
local option_count = tonumber(ARGV[5])
local bucket_count = tonumber(ARGV[8])
local subject_count = tonumber(ARGV[9])
local now = tonumber(ARGV[10])
local window = tonumber(ARGV[11])
local bucket_args = 13
local option_args = bucket_args + 3 * bucket_count
local subject_args = option_args + 3 * option_count
local record_args = subject_args + 4 * subject_count
local bucket_keys = 5
local subject_keys = bucket_keys + bucket_count
local record = cjson.decode(ARGV[record_args + 1])

local room = {}
for i = 1, bucket_count do
  local counters = redis.call('HMGET', KEYS[bucket_keys + i], 'spent', 'reserved')
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
  local refusing = refusing_bucket(tonumber(ARGV[option_args + 3 * option - 2]))
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

local amount = ARGV[option_args + 3 * chosen - 2]
local model = ARGV[option_args + 3 * chosen - 1]
-- Written as the caller's integer string: Lua would print a large number in exponent form.
local tokens_written = ARGV[option_args + 3 * chosen]
local tokens = tonumber(tokens_written)
if not (exact(tonumber(amount)) and exact(tokens)) then
  return redis.error_reply('ERR amount or tokens out of range')
end

-- The sliding-window counter: the previous window counts for the share of it still inside the last minute.
local elapsed = now % window
local previous_weight = (window - elapsed) / window

-- How long until `cost` more fits: later in this window as the previous one fades, or in the next window.
local function wait_ms(previous, current, cost, limit)
  if cost > limit then
    return -1
  end
  if current + cost <= limit then
    return math.max(math.ceil(window * (1 - (limit - current - cost) / previous) - elapsed), 1)
  end
  return math.ceil(window - elapsed + math.max(window * (1 - (limit - cost) / current), 0))
end

local counted = {}
local refusal = nil
for s = 1, subject_count do
  local base = subject_args + 4 * (s - 1)
  local applies = ARGV[base + 4] == '0' or tonumber(ARGV[base + 4]) == chosen
  if applies then
    local prefix = ARGV[base + 1]
    local config = redis.call('HMGET', KEYS[subject_keys + 3 * s], prefix .. 'requests_per_minute',
      prefix .. 'tokens_per_minute')
    local limits = {tonumber(config[1] or ARGV[base + 2]) or 0, tonumber(config[2] or ARGV[base + 3]) or 0}
    if limits[1] > 0 or limits[2] > 0 then
      local previous = redis.call('HMGET', KEYS[subject_keys + 3 * s - 2], 'requests', 'tokens')
      local current = redis.call('HMGET', KEYS[subject_keys + 3 * s - 1], 'requests', 'tokens')
      local costs = {1, tokens}
      for unit = 1, 2 do
        local limit = limits[unit]
        local before = tonumber(previous[unit] or '0')
        local now_count = tonumber(current[unit] or '0')
        if limit > 0 and before * previous_weight + now_count + costs[unit] > limit then
          local wait = wait_ms(before, now_count, costs[unit], limit)
          -- Report the limit that makes the caller wait longest (never fitting is longest of all).
          if refusal == nil or wait == -1 or (refusal[4] ~= -1 and wait > refusal[4]) then
            refusal = {2, s, unit, wait, limit}
          end
        end
      end
      counted[#counted + 1] = KEYS[subject_keys + 3 * s - 1]
    end
  end
end
if refusal ~= nil then
  return refusal
end

local result = {1, chosen}
for i = 1, bucket_count do
  local counters = KEYS[bucket_keys + i]
  redis.call('HINCRBY', counters, 'reserved', amount)
  redis.call('HSET', counters, 'limit', ARGV[bucket_args + 3 * i - 2])
  local expire_at = tonumber(ARGV[bucket_args + 3 * i - 1])
  if expire_at > 0 then
    redis.call('EXPIREAT', counters, expire_at)
  end
  result[#result + 1] = room[i] - tonumber(amount)
end

-- A window is read again as the next window's previous one, so it lives until two windows from its start
-- (relative to now: replicas pass their clock, Redis keeps its own).
local lifetime = 2 * window - elapsed
for _, counter in ipairs(counted) do
  redis.call('HINCRBY', counter, 'requests', 1)
  redis.call('HINCRBY', counter, 'tokens', tokens_written)
  redis.call('PEXPIRE', counter, lifetime)
end

local downgraded_from = ''
if chosen > 1 then
  downgraded_from = ARGV[7]
end
redis.call('HSET', KEYS[1], 'amount', amount, 'model', model, 'downgraded_from', downgraded_from,
  'buckets', ARGV[6], 'rate_windows', cjson.encode(counted), 'rate_tokens', tokens_written, unpack(record))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], amount .. '|' .. ARGV[6])
for _, counter in ipairs(counted) do
  result[#result + 1] = counter
end
return result
