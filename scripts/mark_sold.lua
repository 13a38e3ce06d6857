-- mark_sold.lua: record seats the ledger sold and drop any hold on them (rebuilding a
-- Redis that lost its data, or agreeing with a sale made through another path).
-- The caller sends at most a few hundred seats per call.
--
-- KEYS[1]   -> P:{cN}:sold:<scheduleID>
-- KEYS[2]   -> P:{cN}:holds:<scheduleID>
-- KEYS[3]   -> P:{cN}:paying:<scheduleID>
-- KEYS[4]   -> P:{cN}:holders:<scheduleID>
-- KEYS[5]   -> P:{cN}:tags:<scheduleID>
-- KEYS[6]   -> P:{cN}:rows:<scheduleID>   (free seats per row and section, see rows.lua)
-- KEYS[6+i] -> P:{cN}:hold:<scheduleID>:<ARGV[i]>
--
-- ARGV[i] seat number
--
-- Returns the number of seats given.

--#include recount

for i, seat in ipairs(ARGV) do
  local wasSold = redis.call('SETBIT', KEYS[1], seat, 1) == 1
  local wasHeld = redis.call('HDEL', KEYS[4], seat) == 1
  if not wasSold and not wasHeld then
    recount(KEYS[6], seat, -1)
  end
  redis.call('SETRANGE', KEYS[5], seat, '\0')
  redis.call('DEL', KEYS[6 + i])
end
if #ARGV > 0 then
  redis.call('ZREM', KEYS[2], unpack(ARGV))
  redis.call('ZREM', KEYS[3], unpack(ARGV))
end
return #ARGV
