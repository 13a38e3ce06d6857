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

local idle = tonumber(ARGV[1])

-- The arrival counter and the line's length are read once per call, at the first
-- new token, and kept here: each redis.call costs about as much in Lua as the
-- command itself, and a rush's batch is mostly first entries. seq is written back
-- at the end, exactly as if each new token had taken an INCR.
local seq, card
local function nextGen()
  if not seq then
    seq = tonumber(redis.call('GET', KEYS[5]) or '0')
  end
  seq = seq + 1
  return seq
end
local function lineAdd(score, uid)
  if not card then
    card = redis.call('ZCARD', KEYS[3])
  end
  card = card + redis.call('ZADD', KEYS[3], score, uid)
end

local function enter(uid, now, score)
  local cutoff = now - idle
  local rec = redis.call('HGET', KEYS[2], uid)
  if rec then
    local gen, issued, polled, done = string.match(rec, '^(%d+):(%d+):(%d+)(.*)$')
    if gen and done ~= ':d' then
      issued = tonumber(issued)
      local lease = redis.call('ZSCORE', KEYS[4], uid)
      if lease and tonumber(lease) > now then
        return 1, gen, issued * 1000, 'ACTIVE', lease
      end
      local rank = redis.call('ZRANK', KEYS[3], uid)
      local last = issued * 1000 + tonumber(polled)
      if rank and last > cutoff then
        -- Only forward: an instance whose clock lags must not shorten the heartbeat
        -- (nor write a poll before the token was issued).
        if now > last then
          redis.call('HSET', KEYS[2], uid, string.format('%s:%d:%d', gen, issued, now - issued * 1000))
        end
        return 1, gen, issued * 1000, 'WAITING', rank
      end
    end
  end

  -- A new generation: whatever the old token left behind (an idle place in line, a
  -- lapsed or finished lease) must not carry over to it.
  local gen = nextGen()
  local issued = math.floor(now / 1000)
  redis.call('HSET', KEYS[2], uid, string.format('%d:%d:%d', gen, issued, now - issued * 1000))
  -- A lease never outlives its record: admission writes both, and a lapsed lease
  -- goes with its record (admit.lua). So with no record there is no lease to drop.
  if rec then
    redis.call('ZREM', KEYS[4], uid)
  end

  if tonumber(score) >= 0 then
    lineAdd(score, uid)
    return 0, gen, issued * 1000, 'WAITING', redis.call('ZRANK', KEYS[3], uid)
  end
  -- 2^52 + gen stays an exact double (below 2^53) and sorts behind every pre-queue
  -- score; redis.call passes numbers on with 17 significant digits, so none is lost.
  lineAdd(4503599627370496 + gen, uid)
  -- gen was just drawn from the arrival counter, so no score in line is higher:
  -- the newcomer is last, and its rank is the count less one. Counting is O(1)
  -- where ZRANK walks the skiplist, a cache miss per level in a queue of a million.
  return 0, gen, issued * 1000, 'WAITING', card - 1
end

local out = {}
for i = 0, (#ARGV - 1) / 3 - 1 do
  local a = 1 + 3 * i
  local reused, gen, issued, state, detail = enter(ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3])
  out[#out + 1] = reused
  out[#out + 1] = gen
  out[#out + 1] = issued
  out[#out + 1] = state
  out[#out + 1] = detail
end
if seq then
  redis.call('SET', KEYS[5], seq)
end
return out
