-- cancel.lua: give a PENDING hold back to the pool at once, on its owner's request.
--
-- KEYS[1] -> P:{cN}:res:<reservationID>
-- KEYS[2] -> P:{cN}:holds:<scheduleID>
-- KEYS[3] -> P:{cN}:holders:<scheduleID>
-- KEYS[4] -> P:{cN}:hold:<scheduleID>:<seat>
-- KEYS[5] -> P:{cN}:uh:<userID>
-- KEYS[6] -> P:{cN}:tags:<scheduleID>
-- KEYS[7] -> P:{cN}:rows:<scheduleID>   (free seats per row and section, see rows.lua)
--
-- ARGV[1] userID (the caller; must own the reservation)
-- ARGV[2] reservationID
-- ARGV[3] now (ms)
--
-- Returns the reservation record (see hold.lua), state CANCELLED (also when it
--         already was: cancelling twice is not an error).
-- Errors:  RESERVATION_NOT_FOUND (unknown or another user's), ALREADY_PAID (PAID or
--          PAYING), RESERVATION_EXPIRED.

local uid, rid = ARGV[1], ARGV[2]
local res = redis.call('GET', KEYS[1])
local _, seat, user, _, deadline, state = string.match(res or '', '^(%d+):(%d+):(%d+):(%d+):(%d+):(%u+)$')
if user ~= uid then
  return redis.error_reply('RESERVATION_NOT_FOUND no such reservation')
end
if state == 'PAID' or state == 'PAYING' then
  return redis.error_reply('ALREADY_PAID reservation ' .. rid .. ' is paid or being paid')
end
if state == 'CANCELLED' then
  return res
end

--#include recount
--#include freeseat
--#include lapsed

local lapsed = endLapsed({res = KEYS[1], holds = KEYS[2], holders = KEYS[3], tags = KEYS[6],
  trigger = KEYS[4], rows = KEYS[7], userHolds = KEYS[5]}, res, seat, state, deadline, tonumber(ARGV[3]), rid, uid)
if lapsed then
  return lapsed
end

freeSeat(KEYS[2], KEYS[3], KEYS[6], KEYS[4], KEYS[7], seat)
redis.call('ZREM', KEYS[5], rid)
return restate(KEYS[1], res, 'CANCELLED')
