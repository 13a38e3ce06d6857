-- seat_ids_above.lua: raise the reservation id counter to at least ARGV[1], so a
-- fresh Redis never reissues an id a sale in the ledger already carries. Never
-- lowers it.
--
-- KEYS[1] -> P:ids:reservation
--
-- ARGV[1] min: every later id will be greater than this
--
-- Returns the counter after the call.

local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local min = tonumber(ARGV[1])
if cur < min then
  redis.call('SET', KEYS[1], ARGV[1])
  return min
end
return cur
