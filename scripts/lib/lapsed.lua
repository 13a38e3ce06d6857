-- Shared by cancel.lua and pay_begin.lua, which include recount and freeseat
-- before it (see scripts.Source for include lines).

-- restate writes the reservation record res, kept at resKey, with a new state,
-- keeping its TTL, and returns the new record.
local function restate(resKey, res, to)
  res = string.gsub(res, '%u+$', to)
  redis.call('SET', resKey, res, 'KEEPTTL')
  return res
end

-- endLapsed answers an owner acting on a hold (cancel, pay) that is no longer
-- live: not PENDING, past its deadline at now, or its seat no longer held by
-- this reservation. A PENDING record becomes EXPIRED; a seat still ours is
-- freed at once rather than by the sweeper; the reservation leaves the user's
-- holds; and the answer is the RESERVATION_EXPIRED error reply. A live hold is
-- left alone: nil. k names the keys: res, holds, holders, tags, trigger, rows
-- and userHolds.
local function endLapsed(k, res, seat, state, deadline, now, rid, uid)
  local ours = redis.call('HGET', k.holders, seat) == rid .. ':' .. uid
  if state == 'PENDING' and tonumber(deadline) > now and ours then
    return nil
  end
  if state == 'PENDING' then
    restate(k.res, res, 'EXPIRED')
  end
  if ours then
    freeSeat(k.holds, k.holders, k.tags, k.trigger, k.rows, seat)
  end
  redis.call('ZREM', k.userHolds, rid)
  return redis.error_reply('RESERVATION_EXPIRED reservation ' .. rid .. ' has expired')
end
