-- patch.lua: change some of a concert's live queue settings at once. admit.lua
-- reads them on its next step, on every instance.
--
-- KEYS[1] -> P:{cN}:cfg
--
-- ARGV[1] admitPerSecond, or '' to keep it
-- ARGV[2] maxActive, or '' to keep it
-- ARGV[3] paused '0' or '1', or '' to keep it
-- ARGV[4] powBits (proofOfWorkBits), or '' to keep it
-- ARGV[5] maxTickets (per user, held plus bought; 0 = no limit), or '' to keep it
--
-- Returns {admitPerSecond, maxActive, paused, powBits, maxTickets} after the
-- change, as strings (powBits and maxTickets false when never set).
-- Errors: CONCERT_NOT_FOUND.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('CONCERT_NOT_FOUND no such concert')
end
local fields = {'admitPerSecond', 'maxActive', 'paused', 'powBits', 'maxTickets'}
for i, f in ipairs(fields) do
  if ARGV[i] ~= '' then
    redis.call('HSET', KEYS[1], f, ARGV[i])
  end
end
return redis.call('HMGET', KEYS[1], 'admitPerSecond', 'maxActive', 'paused', 'powBits', 'maxTickets')
