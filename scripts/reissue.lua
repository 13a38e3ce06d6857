-- reissue.lua: give a user's live token a new generation and issue time, keeping
-- the user's place in line (or lease), so a token record older than the token
-- lifetime is not handed back already dead (engine/reissue.go).
--
-- KEYS[1] -> P:{cN}:tokens   (records as enter.lua describes them)
-- KEYS[2] -> P:{cN}:seq      arrival counter; the new gen is drawn from it, as
--                            enter.lua draws every gen, so a gen is never reused
--
-- ARGV[1] userID
-- ARGV[2] the gen the caller was given (its record must still have it)
-- ARGV[3] now (ms, the engine's clock)
--
-- The place in line and the lease are keyed by user id (wait and active sorted
-- sets), so only the record changes. Re-entering counts as a heartbeat, as in
-- enter.lua. A DONE record is left alone: that token is over.
--
-- Returns {gen, issuedAt ms (whole seconds)} of the record as it now stands, or
-- {0, 0} when the user's record is gone, DONE, or has another gen (the caller
-- enters again instead).

local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then
  return {0, 0}
end
local gen, issued, polled, done = string.match(rec, '^(%d+):(%d+):(%d+)(.*)$')
if gen ~= ARGV[2] or done == ':d' then
  return {0, 0}
end
local now = tonumber(ARGV[3])
local fresh = redis.call('INCR', KEYS[2])
local at = math.floor(now / 1000)
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d:%d:%d', fresh, at, now - at * 1000))
return {fresh, at * 1000}
