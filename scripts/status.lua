-- status.lua: the live state of one or more tokens of a concert; a poll of a
-- waiting token is its heartbeat. Concurrent polls of one concert share one call
-- (store/redisstore/status.go batches them), so a rush costs Redis one script run
-- per batch rather than per poll.
--
-- KEYS[1]   -> P:{cN}:active
-- KEYS[2]   -> P:{cN}:wait
-- KEYS[3]   -> P:{cN}:seen
-- KEYS[3+i] -> P:{cN}:tok:<userID_i>      for i = 1..n
--
-- ARGV[1]     now (ms, the engine's clock)
-- ARGV[2]     idle timeout (ms): a waiter whose last poll is at or before now-idle is gone
-- ARGV[1+2i]  userID_i
-- ARGV[2+2i]  gen_i, the token's generation
--
-- Returns a flat list, two entries per token in KEYS order: state, detail
--   'EXPIRED', ''        not the user's current gen, idle, or its lease ran out
--   'DONE',    ''        the user paid and holds nothing more
--   'ACTIVE',  leaseEnd  lease end in ms, as a string (a Lua number would be truncated)
--   'WAITING', rank      0-based place in line

local now = tonumber(ARGV[1])
local cutoff = now - tonumber(ARGV[2])
local out = {}

local function status(tokKey, uid, gen)
  local tok = redis.call('HMGET', tokKey, 'gen', 'done')
  if tok[1] ~= gen then
    return 'EXPIRED', ''
  end
  if tok[2] == '1' then
    return 'DONE', ''
  end
  local lease = redis.call('ZSCORE', KEYS[1], uid)
  if lease and tonumber(lease) > now then
    return 'ACTIVE', lease
  end
  local rank = redis.call('ZRANK', KEYS[2], uid)
  if not rank then
    return 'EXPIRED', ''
  end
  local seen = redis.call('ZSCORE', KEYS[3], uid)
  if seen and tonumber(seen) <= cutoff then
    -- Dropped here rather than left for admit.lua, so the waiters behind move up now.
    redis.call('ZREM', KEYS[2], uid)
    redis.call('ZREM', KEYS[3], uid)
    return 'EXPIRED', ''
  end
  -- GT: an instance whose clock lags must not shorten another's heartbeat.
  redis.call('ZADD', KEYS[3], 'GT', ARGV[1], uid)
  return 'WAITING', rank
end

for i = 1, #KEYS - 3 do
  local state, detail = status(KEYS[3 + i], ARGV[1 + 2 * i], ARGV[2 + 2 * i])
  out[#out + 1] = state
  out[#out + 1] = detail
end
return out
