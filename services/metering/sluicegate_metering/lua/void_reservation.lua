-- void_reservation: makes a reservation id void unless its Authorize has landed, so an Authorize whose reply
-- never came (a timeout, a lost connection) cannot reserve after its caller gave up on it. The caller returns
-- the reservation instead when it has landed (return_hold), and voids the id when it has not.
-- KEYS[1] reservation holds hash, KEYS[2] the reservation's void marker
-- ARGV[1] reservation id, ARGV[2] how long the marker lives (ms)
-- Returns 1 when voided, 0 when the reservation holds money (it landed: return it).
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 1
