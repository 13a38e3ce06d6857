-- release.lua: free a hold the sweeper found past its deadline, if it is still the
-- same hold and still past its deadline. Safe to run from every instance at once,
-- and again: anything else is a no-op.
--
-- KEYS[1] -> P:{cN}:holds:<scheduleID>
-- KEYS[2] -> P:{cN}:paying:<scheduleID>
-- KEYS[3] -> P:{cN}:holders:<scheduleID>
-- KEYS[4] -> P:{cN}:hold:<scheduleID>:<seat>
-- KEYS[5] -> P:{cN}:res:<reservationID>
-- KEYS[6] -> P:{cN}:uh:<userID>
-- KEYS[7] -> P:{cN}:tags:<scheduleID>
-- KEYS[8] -> P:{cN}:rows:<scheduleID>   (free seats per row and section, see rows.lua)
--
-- ARGV[1] seat
-- ARGV[2] reservationID (0: the seat had no holder; drop its orphaned entries)
-- ARGV[3] userID
-- ARGV[4] now (ms)
--
-- Returns 1 if the seat was freed, 0 if there was nothing to do.

--#include recount
--#include freeseat

local seat, rid, uid = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[4])

local hs = redis.call('ZSCORE', KEYS[1], seat)
local ps = redis.call('ZSCORE', KEYS[2], seat)
if (hs and tonumber(hs) > now) or (ps and tonumber(ps) > now) then
  return 0
end

local holder = redis.call('HGET', KEYS[3], seat)
if not holder then
  if rid ~= '0' or not (hs or ps) then
    return 0
  end
  redis.call('ZREM', KEYS[1], seat)
  redis.call('ZREM', KEYS[2], seat)
  return 1
end
if holder ~= rid .. ':' .. uid then
  return 0
end

redis.call('ZREM', KEYS[1], seat)
-- A seat with a holder is never sold (selling drops the holder): it is free now.
freeSeat(KEYS[2], KEYS[3], KEYS[7], KEYS[4], KEYS[8], seat)
-- The record (see hold.lua) ends in its state.
local res = redis.call('GET', KEYS[5])
if res and (string.sub(res, -8) == ':PENDING' or string.sub(res, -7) == ':PAYING') then
  redis.call('SET', KEYS[5], (string.gsub(res, '%u+$', 'EXPIRED')), 'KEEPTTL')
end
redis.call('ZREM', KEYS[6], rid)
return 1
