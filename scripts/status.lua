-- status.lua: a token's live state; a poll of a waiting token is its heartbeat.
--
-- KEYS[1] -> P:{cN}:tok:<userID>
-- KEYS[2] -> P:{cN}:active
-- KEYS[3] -> P:{cN}:wait
-- KEYS[4] -> P:{cN}:seen
--
-- ARGV[1] userID
-- ARGV[2] the token's gen
-- ARGV[3] now (ms, the engine's clock)
-- ARGV[4] idle timeout (ms): a waiter whose last poll is at or before now-idle is gone
--
-- Returns {state} or {state, detail}
--   {'EXPIRED'}          not the user's current gen, idle, or its lease ran out
--   {'DONE'}             the user paid and holds nothing more
--   {'ACTIVE', leaseEnd} lease end in ms, as a string (a Lua number would be truncated)
--   {'WAITING', rank}    0-based place in line

local uid = ARGV[1]
local now = tonumber(ARGV[3])

local tok = redis.call('HMGET', KEYS[1], 'gen', 'done')
if tok[1] ~= ARGV[2] then
  return {'EXPIRED'}
end
if tok[2] == '1' then
  return {'DONE'}
end
local lease = redis.call('ZSCORE', KEYS[2], uid)
if lease and tonumber(lease) > now then
  return {'ACTIVE', lease}
end
local rank = redis.call('ZRANK', KEYS[3], uid)
if not rank then
  return {'EXPIRED'}
end
local seen = redis.call('ZSCORE', KEYS[4], uid)
if seen and tonumber(seen) <= now - tonumber(ARGV[4]) then
  -- Dropped here rather than left for admit.lua, so the waiters behind move up now.
  redis.call('ZREM', KEYS[3], uid)
  redis.call('ZREM', KEYS[4], uid)
  return {'EXPIRED'}
end
-- GT: an instance whose clock lags must not shorten another's heartbeat.
redis.call('ZADD', KEYS[4], 'GT', ARGV[3], uid)
return {'WAITING', rank}
