-- user_key_gens.lua: raise users' key generations in one mirror bucket, never
-- lowering one, and optionally mark the bucket loaded (engine/userkey.go).
--
-- KEYS[1] -> P:{u<bucket>}:keygen   hash: userID -> key generation (only those above 1);
--                                    field "0" (no user has id 0) = the bucket was loaded
--                                    from the ledger since Redis was last empty;
--                                    field "v" = the bucket's version, moved on by every
--                                    call that changes the bucket (user_key_bucket.lua)
--
-- ARGV[1] 1: mark the bucket loaded after the raises (its generations above 1 are
--         all in ARGV); 0: only raise
-- ARGV[2], ARGV[3] .. pairs of userID, generation
--
-- A rotation raises one user; a rebuild raises every rotated user of the bucket as
-- the ledger had them. The two may race: taking the higher of what is there and
-- what is given makes the order they land in not matter, so a rebuild that read
-- the ledger just before a rotation cannot bring an old key back.
--
-- Returns the number of generations written.

local written = 0
for i = 2, #ARGV - 1, 2 do
  local uid, gen = ARGV[i], tonumber(ARGV[i + 1])
  local cur = tonumber(redis.call('HGET', KEYS[1], uid) or '0')
  if gen > cur then
    redis.call('HSET', KEYS[1], uid, gen)
    written = written + 1
  end
end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], '0', '1')
end
if written > 0 or ARGV[1] == '1' then
  -- A bucket Redis lost starts again from the clock in microseconds, not from 1,
  -- so a reader holding the lost bucket's version cannot meet it again.
  if redis.call('HINCRBY', KEYS[1], 'v', 1) == 1 then
    local t = redis.call('TIME')
    redis.call('HSET', KEYS[1], 'v', t[1] .. string.format('%06d', tonumber(t[2])))
  end
end
return written
