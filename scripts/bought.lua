-- bought.lua: load the seats each user bought on a concert, as the ledger counts
-- them, once per empty state (field '_' marks them loaded). From then on
-- pay_complete.lua adds one per sale it settles; hold.lua and best.lua add them
-- to a user's live holds against the concert's maxTickets.
--
-- KEYS[1] -> P:{cN}:bought   hash: userID -> seats bought; '_' -> loaded
--
-- ARGV pairs: userID, count
--
-- Returns 1 if it loaded the counts, 0 if they were loaded.

if redis.call('HEXISTS', KEYS[1], '_') == 1 then
  return 0
end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], '_', 1)
return 1
