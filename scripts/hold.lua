-- hold.lua: hold seats of one schedule for ACTIVE tokens, or find the hold a
-- user already has. Concurrent holds on one schedule share one call
-- (store/redisstore/holds.go batches them); within a call they are decided one
-- after another, exactly as separate calls would be, so two users can never both
-- win a seat and one user's holds in one batch count against their own limit.
--
-- KEYS[1]  -> P:{cN}:tokens   (token records, see enter.lua)
-- KEYS[2]  -> P:{cN}:active
-- KEYS[3]  -> P:{cN}:wait
-- KEYS[4]  -> P:{cN}:sold:<scheduleID>
-- KEYS[5]  -> P:{cN}:holds:<scheduleID>
-- KEYS[6]  -> P:{cN}:paying:<scheduleID>
-- KEYS[7]  -> P:{cN}:holders:<scheduleID>
-- KEYS[8]  -> P:{cN}:rebuilt:<scheduleID>
-- KEYS[9]  -> P:{cN}:tags:<scheduleID>     (byte per seat: its holder's tag, 0 = none)
-- KEYS[10] -> P:{cN}:rows:<scheduleID>     (free seats per row and section, see rows.lua)
-- KEYS[11] -> P:{cN}:bought                (userID -> seats bought on the concert)
-- KEYS[12] -> P:{cN}:cfg                   (maxTickets: held plus bought per user, 0 or
--                                           missing = no limit beyond ARGV[1])
-- then three keys per hold i = 1..n, at 12+3(i-1)+1 ..:
--   P:{cN}:uh:<userID_i>
--   P:{cN}:hold:<scheduleID>:<seat_i>
--   P:{cN}:res:<reservationID_i>   (the fresh id; written only if a hold is made:
--                                   "schedule:seat:user:price:deadline:STATE", a
--                                   string, as every script reads and writes it)
--
-- ARGV[1]  max live holds per user on the concert
-- ARGV[2]  scheduleID
-- ARGV[3]  reservation record TTL (ms)
-- then eight per hold i, at 3+8(i-1)+1 ..:
--   userID, token gen, seat, fresh reservationID, now (ms, the engine's clock),
--   hold deadline (ms), the user's holder tag (one byte: engine.HolderTag),
--   the seat's price (its section's)
--
-- Returns a flat list, two entries per hold in ARGV order:
--   1, reservationID       a new PENDING hold (the fresh id)
--   0, reservationID       the user already holds (or is paying for) this seat
--   'CODE', 'CODE message' refused: TOKEN_EXPIRED, NOT_ADMITTED, SEAT_TAKEN,
--                          HOLD_LIMIT_REACHED or TICKET_LIMIT_REACHED (the
--                          engine's error codes)
-- Error:   NOT_REBUILT for the whole call (the schedule's sold seats are not
--          loaded from the ledger; not a contract code: the engine rebuilds and
--          retries).

-- Without the marker the sold bitmap may be empty only because Redis lost it: an
-- engine's memory of having rebuilt cannot be trusted, so the script decides.
if redis.call('EXISTS', KEYS[8]) == 0 then
  return redis.error_reply('NOT_REBUILT schedule ' .. ARGV[2] .. ' has no sold seats loaded')
end

-- Globals are table lookups in Lua: the hot ones are kept in locals
-- (bench/instructions.sh: 2.3% of redis-server's instructions per hold,
-- 1.7% per poll, 0.8% per first entry).
local call, tonumber = redis.call, tonumber
local match, sub = string.match, string.sub

--#include recount

-- The ticket limit is the concert's live setting (PATCH .../queue), read once.
local maxTickets = tonumber(call('HGET', KEYS[12], 'maxTickets')) or 0

local function refuse(code, message)
  return code, code .. ' ' .. message
end

local function hold(uid, gen, seat, rid, nowArg, deadline, tag, price, userHolds, trigger, resKey)
  local now = tonumber(nowArg)
  local rec = call('HGET', KEYS[1], uid)
  if not rec or match(rec, '^%d+') ~= gen or sub(rec, -2) == ':d' then
    return refuse('TOKEN_EXPIRED', 'token is no longer current')
  end
  local lease = tonumber(call('ZSCORE', KEYS[2], uid))
  if not lease or lease <= now then
    if call('ZSCORE', KEYS[3], uid) then
      return refuse('NOT_ADMITTED', 'token is still waiting in the queue')
    end
    return refuse('TOKEN_EXPIRED', 'active time ran out')
  end

  if call('GETBIT', KEYS[4], seat) == 1 then
    return refuse('SEAT_TAKEN', 'seat ' .. seat .. ' is sold')
  end

  -- Every seat in the holds or the paying set has a holder, and none other has
  -- (seats_test.go's requireHolderInvariant checks each script keeps it so): a
  -- seat without one is free, and its two sets are not asked, two commands fewer
  -- on the winning path.
  local holder = call('HGET', KEYS[7], seat)
  if holder then
    local holderRid, holderUid = match(holder, '^(%d+):(%d+)$')
    -- A live hold is asked about first: it is the common refusal under a rush,
    -- and a seat is in the holds set or in the paying set, not both.
    local held = call('ZSCORE', KEYS[5], seat)
    if held and tonumber(held) > now then
      if holderUid == uid then
        return 0, holderRid
      end
      return refuse('SEAT_TAKEN', 'seat ' .. seat .. ' is held')
    end
    -- A seat being paid never expires under the payment, whatever its window
    -- says: only the sweeper (release.lua), after asking the ledger, frees it.
    if call('ZSCORE', KEYS[6], seat) then
      if holderUid == uid then
        return 0, holderRid
      end
      return refuse('SEAT_TAKEN', 'seat ' .. seat .. ' is being paid for')
    end
  end
  -- A hold past its deadline is free even before the sweeper gets to it; the old
  -- owner's reservation reads EXPIRED from its own deadline.

  -- Counting only live holds leaves lapsed ones to the sweeper (release.lua
  -- removes them), one command fewer on the hottest write path. The live holds
  -- are at most all of them, so they are counted only when all of them reach the
  -- limit: ZCARD is O(1), while ZCOUNT walks the set (3.4 us a call in the hold
  -- bench, where each user holds ~100 seats).
  local limit = tonumber(ARGV[1])
  if call('ZCARD', userHolds) >= limit and
      call('ZCOUNT', userHolds, '(' .. nowArg, '+inf') >= limit then
    return refuse('HOLD_LIMIT_REACHED', 'at most ' .. ARGV[1] .. ' seats may be held at once')
  end
  if maxTickets > 0 and call('ZCOUNT', userHolds, '(' .. nowArg, '+inf') + 1 +
      (tonumber(call('HGET', KEYS[11], uid)) or 0) > maxTickets then
    return refuse('TICKET_LIMIT_REACHED', 'at most ' .. maxTickets .. ' tickets per person')
  end

  -- A seat without a holder was counted free; one whose hold lapsed was not.
  if not holder then
    recount(KEYS[10], seat, -1)
  end

  call('ZADD', KEYS[5], deadline, seat)
  call('HSET', KEYS[7], seat, rid .. ':' .. uid)
  -- The engine's seat view reads these bytes to refuse holds from memory; the tag
  -- tells it when the asker may be the holder, who gets 200.
  call('SETRANGE', KEYS[9], seat, tag)
  call('ZADD', userHolds, deadline, rid)
  local due = tonumber(deadline)
  local ttl = due - now
  if ttl > 0 then
    call('SET', trigger, rid, 'PX', ttl)
  end
  -- One string, not a hash: one command instead of HSET and PEXPIRE, on the path
  -- that decides how fast the seats go (8% of Redis's instructions per hold).
  call('SET', resKey, ARGV[2] .. ':' .. seat .. ':' .. uid .. ':' .. price .. ':' ..
    deadline .. ':PENDING', 'PX', ARGV[3])
  -- The token must outlive its holds, or its owner could not pay for them. The
  -- lease read above usually outlasts the hold already (a fresh admission's
  -- activeTtl is longer than holdTtl), and then ZADD GT would change nothing.
  if lease < due then
    call('ZADD', KEYS[2], 'GT', deadline, uid)
  end
  return 1, rid
end

local out = {}
for i = 0, (#ARGV - 3) / 8 - 1 do
  local a, k = 3 + 8 * i, 12 + 3 * i
  local r1, r2 = hold(ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7],
    ARGV[a + 8], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3])
  out[#out + 1] = r1
  out[#out + 1] = r2
end
return out
