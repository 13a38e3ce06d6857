-- user_key_bucket.lua: read one bucket of the user key mirror, whole, only when
-- it changed since the reader last saw it (engine/userkey.go): an instance keeps
-- every bucket in memory and asks again at most every keyCacheAge, so checking a
-- key of a user who never rotated costs no Redis read of its own.
--
-- KEYS[1] -> P:{u<bucket>}:keygen   (see user_key_gens.lua; field "v" is the
--                                    bucket's version)
--
-- ARGV[1] the version the reader holds ("0": none)
--
-- Returns {version, loaded (1 or 0)} when the version is ARGV[1]; else
-- {version, loaded, userID, gen, userID, gen ...}: every generation in the
-- bucket. A bucket Redis never had (or lost) reads version "0", not loaded.

local v, loaded = unpack(redis.call('HMGET', KEYS[1], 'v', '0'))
v = v or '0'
loaded = loaded and 1 or 0
if v == ARGV[1] then
  return {v, loaded}
end
local out = {v, loaded}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f = all[i]
  if f ~= 'v' and f ~= '0' then
    out[#out + 1] = f
    out[#out + 1] = all[i + 1]
  end
end
return out
