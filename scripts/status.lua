-- status.lua: the live state of one or more tokens of a concert; a poll of a
-- waiting token is its heartbeat. Concurrent polls of one concert share one call
-- (store/redisstore/status.go batches them), so a rush costs Redis one script run
-- per batch rather than per poll.
--
-- KEYS[1] -> P:{cN}:active
-- KEYS[2] -> P:{cN}:wait
-- KEYS[3] -> P:{cN}:tokens   (records as enter.lua describes them)
--
-- ARGV[1]     now (ms, the engine's clock)
-- ARGV[2]     idle timeout (ms): a waiter whose last poll is at or before now-idle is gone
-- ARGV[1+2i]  userID_i      for i = 1..n
-- ARGV[2+2i]  gen_i, the token's generation
--
-- Returns a flat list, two entries per token in ARGV order: state, detail
--   'EXPIRED', ''        not the user's current gen, idle, or its lease ran out
--   'DONE',    ''        the user paid and holds nothing more
--   'ACTIVE',  leaseEnd  lease end in ms, as a string (a Lua number would be truncated)
--   'WAITING', rank      0-based place in line

-- Globals are table lookups in Lua: the hot ones are kept in locals (see hold.lua).
local call, match, format = redis.call, string.match, string.format

local now = tonumber(ARGV[1])
local cutoff = now - tonumber(ARGV[2])
local out = {}

local function status(uid, gen)
  local rec = call('HGET', KEYS[3], uid)
  if not rec then
    return 'EXPIRED', ''
  end
  local rgen, issued, polled, done = match(rec, '^(%d+):(%d+):(%d+)(.*)$')
  if rgen ~= gen then
    return 'EXPIRED', ''
  end
  if done == ':d' then
    return 'DONE', ''
  end
  -- Waiters are most polls, so the queue is asked first; an ACTIVE token is never in it.
  local rank = call('ZRANK', KEYS[2], uid)
  if rank then
    issued = tonumber(issued) * 1000
    local last = issued + tonumber(polled)
    if last <= cutoff then
      -- Dropped here rather than left for admit.lua, so the waiters behind move up now.
      call('ZREM', KEYS[2], uid)
      call('HDEL', KEYS[3], uid)
      return 'EXPIRED', ''
    end
    -- Written at most once a second per waiter (a client hammering refresh costs
    -- no writes), and only forward: an instance whose clock lags must not shorten
    -- another's heartbeat. A waiter may so drop out up to 1 s early.
    if now - last >= 1000 then
      call('HSET', KEYS[3], uid, format('%s:%d:%d', gen, issued / 1000, now - issued))
    end
    return 'WAITING', rank
  end
  local lease = call('ZSCORE', KEYS[1], uid)
  if lease and tonumber(lease) > now then
    return 'ACTIVE', lease
  end
  return 'EXPIRED', ''
end

for i = 1, (#ARGV - 2) / 2 do
  local state, detail = status(ARGV[1 + 2 * i], ARGV[2 + 2 * i])
  out[#out + 1] = state
  out[#out + 1] = detail
end
return out
