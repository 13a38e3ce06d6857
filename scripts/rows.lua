-- rows.lua: load a schedule's layout and count the free seats of each row and
-- section from the sold bitmap and the holder tags, once per empty state (a new
-- schedule, or a Redis that lost its data: run after the sold seats are loaded
-- from the ledger). A no-op when the layout is already there: from then on every
-- script that gives a seat a holder or sells it, or takes them away, keeps the
-- counts (hold, best, cancel, release, pay_begin, pay_complete, mark_sold).
-- A seat is free here when it is not sold and has no holder (tag 0); best.lua
-- adds the holds past their deadline itself.
--
-- KEYS[1] -> P:{cN}:rows:<scheduleID>   hash: L = layout, <row> = free seats of
--                                        that row (1-based across sections),
--                                        s<k> = free seats of section k;
--                                        best.lua adds m<row> (longest free run
--                                        when it had none of its quantity) and
--                                        f<k> (per quantity i, comma-separated:
--                                        no run of i free seats in section k
--                                        before that row), both kept by recount;
--                                        ht = padding that keeps it a hash table
-- KEYS[2] -> P:{cN}:sold:<scheduleID>
-- KEYS[3] -> P:{cN}:tags:<scheduleID>
--
-- ARGV[1] layout: per section in order "start,seatsPerRow,firstRow,rows;"
--         (start: its first seat number; firstRow: its first row's number)
--
-- Returns 1 if it loaded the layout, 0 if it was there.

local pad = string.rep('-', 128) -- see the end
if redis.call('HEXISTS', KEYS[1], 'L') == 1 then
  redis.call('HSETNX', KEYS[1], 'ht', pad)
  return 0
end
local floor, byte = math.floor, string.byte
local sold = redis.call('GET', KEYS[2]) or ''
local tags = redis.call('GET', KEYS[3]) or ''
local reach = math.max(#sold * 8, #tags) -- seats at or past it are free
local k = 0
for start, per, first, rows in string.gmatch(ARGV[1], '(%d+),(%d+),(%d+),(%d+)') do
  k = k + 1
  start, per, first, rows = tonumber(start), tonumber(per), tonumber(first), tonumber(rows)
  local secFree = 0
  for r = 0, rows - 1 do
    -- Seats past both strings' ends are neither sold nor held: only the seats
    -- they cover are looked at, so a fresh schedule costs one HSET a row.
    local from = start + r * per
    local free = per
    for seat = from, math.min(from + per, reach) - 1 do
      local bits = byte(sold, floor(seat / 8) + 1) or 0
      if floor(bits / 2 ^ (7 - seat % 8)) % 2 == 1 or (byte(tags, seat + 1) or 0) ~= 0 then
        free = free - 1
      end
    end
    redis.call('HSET', KEYS[1], first + r, free)
    secFree = secFree + free
  end
  redis.call('HSET', KEYS[1], 's' .. k, secFree)
end
-- A value longer than hash-max-listpack-value (64 bytes by default) keeps the
-- hash a hash table for good: as a listpack (up to 512 fields by default, so a
-- venue of a few hundred rows) every field read walks the whole hash, which cost
-- a 500-row schedule 23,000 instructions a field, a fifth of a best-available
-- call's work in Redis.
redis.call('HSET', KEYS[1], 'L', ARGV[1], 'ht', pad)
return 1
