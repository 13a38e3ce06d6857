-- enter.lua: give a user a place in a concert's waiting room, or hand back the live
-- token they already hold, so each user has one place in line per concert.
--
-- KEYS[1] -> P:{cN}:cfg
-- KEYS[2] -> P:{cN}:tokens
-- KEYS[3] -> P:{cN}:wait
-- KEYS[4] -> P:{cN}:active
-- KEYS[5] -> P:{cN}:seq
--
-- ARGV[1] idle timeout (ms): a waiter whose last poll is at or before now-idle is gone
-- then three per entry i = 1..n, at 1+3(i-1)+1 ..:
--   userID
--   now (ms, the engine's clock)
--   pre-queue score: an integer in [0, 2^52) puts the token at that place in the
--   pre-queue; -1 queues it behind everyone in arrival order
--
-- Concurrent entries to one concert share one call (store/redisstore/queue.go
-- batches them); within a call they are decided one after another, exactly as
-- separate calls would be, so arrival order and one-token-per-user hold.
--
-- A token record is one field of the concert's tokens hash, not a key of its own:
-- a waiting token then costs one hash field and one wait entry (about 180 bytes at
-- a million waiters) instead of a key with a TTL and a second sorted set.
--   field userID -> "gen:issuedAt(s):lastPoll(ms after issuedAt)", ":d" appended when DONE
-- gen comes from the concert's arrival counter, so it is never reused and a record
-- can be deleted as soon as its token is over without an old token coming back.
--
-- Returns a flat list, five entries per entry in ARGV order:
--   reused, gen, issuedAt, state, detail
--   reused   1: the user's live token, unchanged; 0: a new token
--   gen      the token's generation
--   issuedAt ms (whole seconds)
--   state    'ACTIVE' (detail = lease end in ms, as a string) or
--            'WAITING' (detail = 0-based rank)
-- Error: CONCERT_NOT_FOUND for the whole call.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('CONCERT_NOT_FOUND no such concert')
end

-- Globals are table lookups in Lua: the hot ones are kept in locals (see hold.lua).
local call, match, format, floor = redis.call, string.match, string.format, math.floor

local idle = tonumber(ARGV[1])
local out = {}

-- The arrival counter is read once per call, at the first new token, and kept
-- here: each redis.call costs about as much in Lua as the command itself, and a
-- rush's batch is mostly first entries. seq is written back at the end, exactly
-- as if each new token had taken an INCR.
local seq, drawn
local function peekGen()
  if not seq then
    seq = tonumber(call('GET', KEYS[5]) or '0')
  end
  return seq + 1
end

-- New tokens that queue in arrival order join the line together, in one ZADD
-- (lineFlush). That gives the same line as one ZADD each: their scores are 2^52 +
-- gen, above every score already there, so they take the last places in gen
-- order, and no other entry's rank counts them. Their ranks are filled in at the
-- flush, from the line's count, which is exact when every member but the first
-- is new to the line. A user with no record has no place in line (every script
-- that ends a place deletes the record with it), so the pending ones are new,
-- except a user with a record: the line is flushed before that user's entry is
-- decided, which also lets a user entering twice in one call find their place.
local pending, pendingOut = {}, {}
local function lineFlush()
  if #pendingOut == 0 then
    return
  end
  call('ZADD', KEYS[3], unpack(pending))
  local card = call('ZCARD', KEYS[3])
  local m = #pendingOut
  for j, slot in ipairs(pendingOut) do
    out[slot] = card - m + j - 1
  end
  pending, pendingOut = {}, {}
end

-- record formats a token record; see the header.
-- (string.format takes half the time of Lua's concatenation of numbers here.)
local function record(gen, issued, now)
  return format('%d:%d:%d', gen, issued, now - issued * 1000)
end

-- reply appends one entry's five reply values to out.
local function reply(reused, gen, issuedMs, state, detail)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5] = reused, gen, issuedMs, state, detail
end

-- enter decides one entry and appends its reply.
local function enter(uid, now, score)
  local issued = floor(now / 1000)
  local gen = peekGen()
  local fresh = record(gen, issued, now)
  -- Most entries of a rush are a user's first: HSETNX writes their record and
  -- tells them apart from a user with a record in one call.
  if call('HSETNX', KEYS[2], uid, fresh) == 0 then
    lineFlush()
    local rec = call('HGET', KEYS[2], uid)
    local old, oldIssued, polled, done = match(rec, '^(%d+):(%d+):(%d+)(.*)$')
    if old and done ~= ':d' then
      oldIssued = tonumber(oldIssued)
      local lease = call('ZSCORE', KEYS[4], uid)
      if lease and tonumber(lease) > now then
        return reply(1, old, oldIssued * 1000, 'ACTIVE', lease)
      end
      local rank = call('ZRANK', KEYS[3], uid)
      local last = oldIssued * 1000 + tonumber(polled)
      if rank and last > now - idle then
        -- Only forward: an instance whose clock lags must not shorten the heartbeat
        -- (nor write a poll before the token was issued).
        if now > last then
          call('HSET', KEYS[2], uid, record(old, oldIssued, now))
        end
        return reply(1, old, oldIssued * 1000, 'WAITING', rank)
      end
    end
    -- A new generation: whatever the old token left behind (an idle place in line,
    -- a lapsed or finished lease) must not carry over to it. (A user with no
    -- record has no lease either: a lease never outlives its record, admit.lua.)
    call('HSET', KEYS[2], uid, fresh)
    call('ZREM', KEYS[4], uid)
  end
  seq, drawn = gen, true

  if tonumber(score) >= 0 then
    lineFlush()
    call('ZADD', KEYS[3], score, uid)
    return reply(0, gen, issued * 1000, 'WAITING', call('ZRANK', KEYS[3], uid))
  end
  -- 2^52 + gen stays an exact double (below 2^53) and sorts behind every pre-queue
  -- score; redis.call passes numbers on with 17 significant digits, so none is lost.
  reply(0, gen, issued * 1000, 'WAITING', false) -- the rank comes at the flush
  pending[#pending + 1] = 4503599627370496 + gen
  pending[#pending + 1] = uid
  pendingOut[#pendingOut + 1] = #out
  -- unpack is bounded by Lua's C stack: a long call joins the line in slices.
  if #pendingOut >= 400 then
    lineFlush()
  end
end

for i = 0, (#ARGV - 1) / 3 - 1 do
  local a = 1 + 3 * i
  enter(ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3])
end
lineFlush()
if drawn then
  call('SET', KEYS[5], seq)
end
return out
