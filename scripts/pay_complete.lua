-- pay_complete.lua: the ledger sold the seat to this reservation; make the shared
-- state agree. Idempotent: a retry (or the sweeper settling a lost reply) changes
-- nothing more.
--
-- KEYS[1] -> P:{cN}:sold:<scheduleID>
-- KEYS[2] -> P:{cN}:holds:<scheduleID>
-- KEYS[3] -> P:{cN}:paying:<scheduleID>
-- KEYS[4] -> P:{cN}:holders:<scheduleID>
-- KEYS[5] -> P:{cN}:hold:<scheduleID>:<seat>
-- KEYS[6] -> P:{cN}:res:<reservationID>
-- KEYS[7] -> P:{cN}:uh:<userID>
-- KEYS[8] -> P:{cN}:tokens   (token records, see enter.lua)
-- KEYS[9] -> P:{cN}:active
-- KEYS[10] -> P:{cN}:tags:<scheduleID>
-- KEYS[11] -> P:{cN}:rows:<scheduleID>   (free seats per row and section, see rows.lua)
-- KEYS[12] -> P:{cN}:bought             (userID -> seats bought on the concert)
--
-- ARGV[1] seat
-- ARGV[2] reservationID
-- ARGV[3] userID
-- ARGV[4] now (ms)
-- ARGV[5] scheduleID     } used only to rebuild a reservation record Redis lost,
-- ARGV[6] price          } so the reservation still reads PAID
-- ARGV[7] hold deadline  }
-- ARGV[8] reservation record TTL (ms)
--
-- Returns 1 if the user holds nothing else live on the concert (the token is now
--         DONE), else 0.

--#include recount

local seat, rid, uid = ARGV[1], ARGV[2], ARGV[3]

local wasSold = redis.call('SETBIT', KEYS[1], seat, 1) == 1
redis.call('ZREM', KEYS[2], seat)
redis.call('ZREM', KEYS[3], seat)
-- Whoever holds the seat loses it: the ledger is the judge of who owns it.
local wasHeld = redis.call('HDEL', KEYS[4], seat) == 1
if not wasSold and not wasHeld then
  recount(KEYS[11], seat, -1)
end
redis.call('SETRANGE', KEYS[10], seat, '\0')
redis.call('DEL', KEYS[5])

-- The record (see hold.lua) keeps its TTL; a lost one is written whole. A record
-- that was not PAID yet is this sale's first settling: it counts once as bought.
-- (After a loss of Redis the counts come back from the ledger, see bought.lua.)
local res = redis.call('GET', KEYS[6])
if res then
  if string.sub(res, -5) ~= ':PAID' then
    redis.call('HINCRBY', KEYS[12], uid, 1)
  end
  redis.call('SET', KEYS[6], (string.gsub(res, '%u+$', 'PAID')), 'KEEPTTL')
else
  redis.call('HINCRBY', KEYS[12], uid, 1)
  redis.call('SET', KEYS[6], ARGV[5] .. ':' .. seat .. ':' .. uid .. ':' .. ARGV[6] .. ':' .. ARGV[7] .. ':PAID',
    'PX', ARGV[8])
end

redis.call('ZREM', KEYS[7], rid)
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', ARGV[4])
if redis.call('ZCARD', KEYS[7]) > 0 then
  return 0
end
-- A missing token record is left missing: there is no gen to mark DONE.
local rec = redis.call('HGET', KEYS[8], uid)
if rec and string.sub(rec, -2) ~= ':d' then
  redis.call('HSET', KEYS[8], uid, rec .. ':d')
end
redis.call('ZREM', KEYS[9], uid)
return 1
