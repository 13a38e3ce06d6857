-- Shared by the seat scripts that free or take a seat: spliced into each one
-- where it names this helper on an include line (see scripts.Source), since a
-- Lua script sent to Redis cannot load another.

-- recount moves the free counts of a seat's row and section by delta (see
-- rows.lua), and on a freed seat drops the row's m<row> and moves each of the
-- section's f<k> rows (one per quantity, best.lua) back to the seat's row if it
-- was past it; nothing before the layout is loaded.
local function recount(rowsKey, seat, delta)
  local layout = redis.call('HGET', rowsKey, 'L')
  if not layout then return end
  seat = tonumber(seat)
  local k, r = 0, nil
  for start, per, first in string.gmatch(layout, '(%d+),(%d+),(%d+),%d+') do
    start = tonumber(start)
    if seat < start then break end
    k, r = k + 1, tonumber(first) + math.floor((seat - start) / tonumber(per))
  end
  if r then
    redis.call('HINCRBY', rowsKey, r, delta)
    redis.call('HINCRBY', rowsKey, 's' .. k, delta)
    if delta > 0 then
      -- A freed seat may join two runs: best.lua's "no run of q here" no longer
      -- holds; and its row may lie before the section's first row with a free seat.
      redis.call('HDEL', rowsKey, 'm' .. r)
      local f = redis.call('HGET', rowsKey, 'f' .. k)
      if f then
        local ptrs, moved = {}, false
        for p in string.gmatch(f, '%d+') do
          p = tonumber(p)
          if r < p then
            p, moved = r, true
          end
          ptrs[#ptrs + 1] = p
        end
        if moved then
          redis.call('HSET', rowsKey, 'f' .. k, table.concat(ptrs, ','))
        end
      end
    end
  end
end
