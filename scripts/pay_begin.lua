-- pay_begin.lua: move the owner's PENDING hold to PAYING until the payment window
-- ends, so the hold cannot expire while the ledger takes the money. Only one of many
-- concurrent calls for a reservation can win: the others see PAYING.
--
-- KEYS[1] -> P:{cN}:tokens   (token records, see enter.lua)
-- KEYS[2] -> P:{cN}:active
-- KEYS[3] -> P:{cN}:wait
-- KEYS[4] -> P:{cN}:res:<reservationID>
-- KEYS[5] -> P:{cN}:holds:<scheduleID>
-- KEYS[6] -> P:{cN}:paying:<scheduleID>
-- KEYS[7] -> P:{cN}:holders:<scheduleID>
-- KEYS[8] -> P:{cN}:hold:<scheduleID>:<seat>
-- KEYS[9] -> P:{cN}:uh:<userID>
-- KEYS[10] -> P:{cN}:tags:<scheduleID>
-- KEYS[11] -> P:{cN}:rows:<scheduleID>   (free seats per row and section, see rows.lua)
--
-- ARGV[1] userID
-- ARGV[2] token gen
-- ARGV[3] reservationID
-- ARGV[4] now (ms)
-- ARGV[5] payment window end (ms)
--
-- Returns the reservation record (see hold.lua), state PAYING; its deadline stays
--         the hold's, so an aborted payment can put it back as it was.
-- Errors:  ALREADY_PAID (the user's own reservation is PAID or PAYING; checked before
--          the token, so it is the answer whatever the token's state), TOKEN_EXPIRED,
--          NOT_ADMITTED, RESERVATION_NOT_FOUND (unknown or another user's),
--          RESERVATION_EXPIRED.

--#include recount
--#include freeseat
--#include lapsed

local uid, rid = ARGV[1], ARGV[3]
local now = tonumber(ARGV[4])

local res = redis.call('GET', KEYS[4])
local _, seat, user, _, deadline, state = string.match(res or '', '^(%d+):(%d+):(%d+):(%d+):(%d+):(%u+)$')
-- The owner paying a reservation paid (or being paid) by an earlier attempt hears
-- so whatever its token's state: paying made the token DONE.
if user == uid and (state == 'PAID' or state == 'PAYING') then
  return redis.error_reply('ALREADY_PAID reservation ' .. rid .. ' is paid or being paid')
end

local rec = redis.call('HGET', KEYS[1], uid)
if not rec or string.match(rec, '^%d+') ~= ARGV[2] or string.sub(rec, -2) == ':d' then
  return redis.error_reply('TOKEN_EXPIRED token is no longer current')
end
local lease = redis.call('ZSCORE', KEYS[2], uid)
if not lease or tonumber(lease) <= now then
  if redis.call('ZSCORE', KEYS[3], uid) then
    return redis.error_reply('NOT_ADMITTED token is still waiting in the queue')
  end
  return redis.error_reply('TOKEN_EXPIRED active time ran out')
end

if user ~= uid then
  return redis.error_reply('RESERVATION_NOT_FOUND no such reservation')
end
local lapsed = endLapsed({res = KEYS[4], holds = KEYS[5], holders = KEYS[7], tags = KEYS[10],
  trigger = KEYS[8], rows = KEYS[11], userHolds = KEYS[9]}, res, seat, state, deadline, now, rid, uid)
if lapsed then
  return lapsed
end

redis.call('ZREM', KEYS[5], seat)
redis.call('ZADD', KEYS[6], ARGV[5], seat)
res = restate(KEYS[4], res, 'PAYING')
redis.call('ZADD', KEYS[9], ARGV[5], rid)
local ttl = tonumber(ARGV[5]) - now
if ttl > 0 then
  redis.call('SET', KEYS[8], rid, 'PX', ttl)
end
redis.call('ZADD', KEYS[2], 'GT', ARGV[5], uid)
return res
