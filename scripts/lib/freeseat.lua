-- Shared by the seat scripts that end a hold (see scripts.Source for include
-- lines); the script includes recount before it.

-- freeSeat ends a hold on seat: the holds set entry, the holder, its tag and the
-- expiry trigger go together, as every script keeps them, and the seat counts
-- as free in its row and section again (recount).
local function freeSeat(holdsKey, holdersKey, tagsKey, triggerKey, rowsKey, seat)
  redis.call('ZREM', holdsKey, seat)
  redis.call('HDEL', holdersKey, seat)
  redis.call('SETRANGE', tagsKey, seat, '\0')
  redis.call('DEL', triggerKey)
  recount(rowsKey, seat, 1)
end
