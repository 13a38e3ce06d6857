-- ratelimit.lua: one GCRA (generic cell rate algorithm) decision, the pattern of
-- go-redis/redis_rate. The whole limiter state is one number per key, the
-- theoretical arrival time (TAT) of the next request; a request is allowed when
-- spending its cost would not push the TAT further than burst intervals past now.
-- One round trip, one key, and any number of instances share the same limit.
--
-- KEYS[1] -> P:rl:{<key>}   string: TAT in microseconds since the epoch, with PX
--
-- ARGV[1] emission interval (us): 1e6 / rate-per-second, the cost of one request
-- ARGV[2] burst: requests allowed back to back from an idle key (>= 1)
-- ARGV[3] now (us since the epoch), or 0 to use Redis TIME. concertd passes 0, so
--         every instance judges by the one Redis clock and skewed hosts cannot
--         stretch or shrink a limit; tests pass a simulated clock's time.
--
-- Returns {allowed (1 or 0), remaining burst, retryAfter (us; 0 when allowed)}.

local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == 0 then
  -- Redis < 5 replicates scripts verbatim, where a TIME read is only safe after
  -- switching to effect replication; 7+ always replicates effects.
  if redis.replicate_commands then
    pcall(redis.replicate_commands)
  end
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local newTat = tat + interval
-- The earliest instant at which newTat would be within the burst allowance.
local allowAt = newTat - burst * interval
if now < allowAt then
  return {0, 0, allowAt - now}
end

-- The key lives only as long as it carries information: once now passes newTat
-- an absent key means the same thing (a full burst).
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000))
return {1, math.floor((now - allowAt) / interval), 0}
