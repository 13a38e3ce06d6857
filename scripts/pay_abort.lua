-- pay_abort.lua: put a PAYING hold back to PENDING with its original deadline,
-- after a payment that certainly did not happen. A no-op for anything else.
--
-- KEYS[1] -> P:{cN}:res:<reservationID>
-- KEYS[2] -> P:{cN}:holds:<scheduleID>
-- KEYS[3] -> P:{cN}:paying:<scheduleID>
-- KEYS[4] -> P:{cN}:holders:<scheduleID>
-- KEYS[5] -> P:{cN}:hold:<scheduleID>:<seat>
-- KEYS[6] -> P:{cN}:uh:<userID>
--
-- ARGV[1] reservationID
-- ARGV[2] now (ms)
--
-- Returns 1 if the hold went back to PENDING, 0 if it was not PAYING (or no longer
--         held by this reservation).

local rid = ARGV[1]
local r = redis.call('HMGET', KEYS[1], 'state', 'deadline', 'seat', 'user')
if r[1] ~= 'PAYING' then
  return 0
end
local deadline, seat = r[2], r[3]
if redis.call('HGET', KEYS[4], seat) ~= rid .. ':' .. r[4] then
  return 0
end

redis.call('ZREM', KEYS[3], seat)
redis.call('ZADD', KEYS[2], deadline, seat)
redis.call('ZADD', KEYS[6], deadline, rid)
redis.call('HSET', KEYS[1], 'state', 'PENDING')
local ttl = tonumber(deadline) - tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[5], rid, 'PX', ttl)
else
  -- Already past its deadline: the sweeper frees it on its next pass.
  redis.call('DEL', KEYS[5])
end
return 1
