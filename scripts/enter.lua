-- enter.lua: give a user a place in a concert's waiting room, or hand back the live
-- token they already hold, so each user has one place in line per concert.
--
-- KEYS[1] -> P:{cN}:cfg
-- KEYS[2] -> P:{cN}:tok:<userID>
-- KEYS[3] -> P:{cN}:wait
-- KEYS[4] -> P:{cN}:seen
-- KEYS[5] -> P:{cN}:active
-- KEYS[6] -> P:{cN}:seq
--
-- ARGV[1] userID
-- ARGV[2] now (ms, the engine's clock)
-- ARGV[3] idle timeout (ms): a waiter whose last poll is at or before now-idle is gone
-- ARGV[4] pre-queue score: an integer in [0, 2^52) puts the token at that place in
--         the pre-queue; -1 queues it behind everyone in arrival order
-- ARGV[5] token record TTL (ms)
--
-- Returns {reused, gen, issuedAt, state, detail}
--   reused   1: the user's live token, unchanged; 0: a new token
--   gen      the token's generation
--   issuedAt ms
--   state    'ACTIVE' (detail = lease end in ms, as a string) or
--            'WAITING' (detail = 0-based rank)
-- Errors: CONCERT_NOT_FOUND.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('CONCERT_NOT_FOUND no such concert')
end

local uid = ARGV[1]
local now = tonumber(ARGV[2])
local cutoff = now - tonumber(ARGV[3])

local tok = redis.call('HMGET', KEYS[2], 'gen', 'issuedAt', 'done')
if tok[1] and tok[3] ~= '1' then
  local lease = redis.call('ZSCORE', KEYS[5], uid)
  if lease and tonumber(lease) > now then
    return {1, tok[1], tok[2], 'ACTIVE', lease}
  end
  local rank = redis.call('ZRANK', KEYS[3], uid)
  if rank then
    local seen = redis.call('ZSCORE', KEYS[4], uid)
    if not seen or tonumber(seen) > cutoff then
      -- GT: an instance whose clock lags must not shorten another's heartbeat.
      redis.call('ZADD', KEYS[4], 'GT', ARGV[2], uid)
      return {1, tok[1], tok[2], 'WAITING', rank}
    end
  end
end

-- A new generation: whatever the old token left behind (an idle place in line, a
-- lapsed or finished lease) must not carry over to it.
local gen = redis.call('HINCRBY', KEYS[2], 'gen', 1)
redis.call('HSET', KEYS[2], 'issuedAt', ARGV[2], 'done', 0)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('ZREM', KEYS[5], uid)

local score = ARGV[4]
if tonumber(score) < 0 then
  -- 2^52 + seq stays an exact double (below 2^53) and sorts behind every pre-queue
  -- score; redis.call passes numbers on with 17 significant digits, so none is lost.
  score = 4503599627370496 + redis.call('INCR', KEYS[6])
end
redis.call('ZADD', KEYS[3], score, uid)
redis.call('ZADD', KEYS[4], ARGV[2], uid)
return {0, gen, ARGV[2], 'WAITING', redis.call('ZRANK', KEYS[3], uid)}
