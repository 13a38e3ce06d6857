-- hold.lua: hold one seat for an ACTIVE token, or find the hold its user already has.
-- One round trip decides everything, so two users can never both win a seat.
--
-- KEYS[1]  -> P:{cN}:tokens   (token records, see enter.lua)
-- KEYS[2]  -> P:{cN}:active
-- KEYS[3]  -> P:{cN}:wait
-- KEYS[4]  -> P:{cN}:sold:<scheduleID>
-- KEYS[5]  -> P:{cN}:holds:<scheduleID>
-- KEYS[6]  -> P:{cN}:paying:<scheduleID>
-- KEYS[7]  -> P:{cN}:holders:<scheduleID>
-- KEYS[8]  -> P:{cN}:uh:<userID>
-- KEYS[9]  -> P:{cN}:hold:<scheduleID>:<seat>
-- KEYS[10] -> P:{cN}:res:<reservationID>   (the fresh id; written only if a hold is made)
-- KEYS[11] -> P:{cN}:rebuilt:<scheduleID>
--
-- ARGV[1]  userID
-- ARGV[2]  token gen
-- ARGV[3]  seat
-- ARGV[4]  fresh reservationID
-- ARGV[5]  now (ms, the engine's clock)
-- ARGV[6]  hold deadline (ms)
-- ARGV[7]  max live holds per user on the concert
-- ARGV[8]  concertID
-- ARGV[9]  scheduleID
-- ARGV[10] price
-- ARGV[11] reservation record TTL (ms)
--
-- Returns {1, reservationID}: a new PENDING hold (ARGV[4]).
--         {0, reservationID}: the user already holds (or is paying for) this seat.
-- Errors:  NOT_REBUILT (the schedule's sold seats are not loaded from the ledger;
--          not a contract code: the engine rebuilds and retries), TOKEN_EXPIRED,
--          NOT_ADMITTED, SEAT_TAKEN, HOLD_LIMIT_REACHED.

local uid, seat, rid = ARGV[1], ARGV[3], ARGV[4]
local now = tonumber(ARGV[5])

-- Without the marker the sold bitmap may be empty only because Redis lost it: an
-- engine's memory of having rebuilt cannot be trusted, so the script decides.
if redis.call('EXISTS', KEYS[11]) == 0 then
  return redis.error_reply('NOT_REBUILT schedule ' .. ARGV[9] .. ' has no sold seats loaded')
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

if redis.call('GETBIT', KEYS[4], seat) == 1 then
  return redis.error_reply('SEAT_TAKEN seat ' .. seat .. ' is sold')
end

local holder = redis.call('HGET', KEYS[7], seat)
local holderRid, holderUid
if holder then
  holderRid, holderUid = string.match(holder, '^(%d+):(%d+)$')
end

-- A seat being paid never expires under the payment, whatever its window says:
-- only the sweeper (release.lua), after asking the ledger, frees it.
if redis.call('ZSCORE', KEYS[6], seat) then
  if holderUid == uid then
    return {0, holderRid}
  end
  return redis.error_reply('SEAT_TAKEN seat ' .. seat .. ' is being paid for')
end

local deadline = redis.call('ZSCORE', KEYS[5], seat)
if deadline and tonumber(deadline) > now then
  if holderUid == uid then
    return {0, holderRid}
  end
  return redis.error_reply('SEAT_TAKEN seat ' .. seat .. ' is held')
end
-- A hold past its deadline is free even before the sweeper gets to it; the old
-- owner's reservation reads EXPIRED from its own deadline.

redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', ARGV[5])
if redis.call('ZCARD', KEYS[8]) >= tonumber(ARGV[7]) then
  return redis.error_reply('HOLD_LIMIT_REACHED at most ' .. ARGV[7] .. ' seats may be held at once')
end

redis.call('ZADD', KEYS[5], ARGV[6], seat)
redis.call('HSET', KEYS[7], seat, rid .. ':' .. uid)
redis.call('ZADD', KEYS[8], ARGV[6], rid)
local ttl = tonumber(ARGV[6]) - now
if ttl > 0 then
  redis.call('SET', KEYS[9], rid, 'PX', ttl)
end
redis.call('HSET', KEYS[10], 'concert', ARGV[8], 'schedule', ARGV[9], 'seat', seat,
  'user', uid, 'price', ARGV[10], 'deadline', ARGV[6], 'state', 'PENDING')
redis.call('PEXPIRE', KEYS[10], ARGV[11])
-- The token must outlive its holds, or its owner could not pay for them.
redis.call('ZADD', KEYS[2], 'GT', ARGV[6], uid)
return {1, rid}
