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
local res = redis.call('GET', KEYS[1])
local _, seat, user, _, deadline, state = string.match(res or '', '^(%d+):(%d+):(%d+):(%d+):(%d+):(%u+)$')
if state ~= 'PAYING' then
  return 0
end
if redis.call('HGET', KEYS[4], seat) ~= rid .. ':' .. user then
  return 0
end

redis.call('ZREM', KEYS[3], seat)
redis.call('ZADD', KEYS[2], deadline, seat)
redis.call('ZADD', KEYS[6], deadline, rid)
redis.call('SET', KEYS[1], (string.gsub(res, '%u+$', 'PENDING')), 'KEEPTTL')
local ttl = tonumber(deadline) - tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[5], rid, 'PX', ttl)
else
  -- Already past its deadline: the sweeper frees it on its next pass.
  redis.call('DEL', KEYS[5])
end
return 1
