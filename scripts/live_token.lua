-- live_token.lua: does a user hold a live token of a concert, one that enter.lua
-- would hand back as it is? Read-only. The gates in front of a waiting room ask
-- this first, so such a user gets their token back without a proof or a code.
--
-- KEYS[1] -> P:{cN}:tokens
-- KEYS[2] -> P:{cN}:active
-- KEYS[3] -> P:{cN}:wait
--
-- ARGV[1] userID
-- ARGV[2] now (ms, the engine's clock)
-- ARGV[3] idle timeout (ms): a waiter whose last poll is at or before now-idle is gone
--
-- Returns 1: live (ACTIVE with a lease past now, or WAITING in line and polled
-- within the idle timeout); 0: none, DONE, or lapsed. The test is enter.lua's.

local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then
  return 0
end
local _, issued, polled, done = string.match(rec, '^(%d+):(%d+):(%d+)(.*)$')
if not issued or done == ':d' then
  return 0
end
local now = tonumber(ARGV[2])
local lease = redis.call('ZSCORE', KEYS[2], ARGV[1])
if lease and tonumber(lease) > now then
  return 1
end
local last = tonumber(issued) * 1000 + tonumber(polled)
if redis.call('ZRANK', KEYS[3], ARGV[1]) and last > now - tonumber(ARGV[3]) then
  return 1
end
return 0
