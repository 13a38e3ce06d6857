-- admit.lua: one admission step of a concert. All of its state (settings, token
-- bucket, leases) lives in Redis and the step is atomic, so any number of instances
-- stepping at once admit no faster than one would.
--
-- KEYS[1] -> P:{cN}:cfg
-- KEYS[2] -> P:{cN}:wait
-- KEYS[3] -> P:{cN}:seen
-- KEYS[4] -> P:{cN}:active
--
-- ARGV[1] now (ms, the engine's clock)
-- ARGV[2] idle timeout (ms): a waiter whose last poll is at or before now-idle is gone
-- ARGV[3] active TTL (ms): an admitted token's lease is now + this
-- ARGV[4] most tokens admitted in this step
-- ARGV[5] most idle waiters looked for (and dropped) in this step
--
-- Returns {admitted, idleDropped}.
-- Errors: CONCERT_NOT_FOUND.

local cfg = redis.call('HMGET', KEYS[1],
  'opensAt', 'admitPerSecond', 'maxActive', 'paused', 'bucket', 'bucketAt')
if not cfg[1] then
  return redis.error_reply('CONCERT_NOT_FOUND no such concert')
end

local now = tonumber(ARGV[1])
local cutoff = now - tonumber(ARGV[2])
local maxBatch = tonumber(ARGV[4])
local maxScan = tonumber(ARGV[5])

-- unpack is bounded by Lua's C stack, so members go to ZREM in slices.
local function zrem(key, members)
  for i = 1, #members, 500 do
    redis.call('ZREM', key, unpack(members, i, math.min(i + 499, #members)))
  end
end

local dropped = 0
if maxScan > 0 then
  local idle = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', cutoff, 'LIMIT', 0, maxScan)
  zrem(KEYS[2], idle)
  zrem(KEYS[3], idle)
  dropped = #idle
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)

local opensAt = tonumber(cfg[1])
local rate = tonumber(cfg[2]) or 0
local bucketAt = cfg[6] and tonumber(cfg[6])
if now < opensAt then
  return {0, dropped}
end
if cfg[4] == '1' then
  -- A pause accrues nothing, so resuming does not start with a burst.
  if bucketAt and now > bucketAt then
    redis.call('HSET', KEYS[1], 'bucketAt', ARGV[1])
  end
  return {0, dropped}
end

-- Token bucket. With no bucketAt yet (the first step since the sale opened) it
-- starts empty now, so nothing is admitted for time no step saw. bucketAt only
-- moves forward: an instance whose clock lags adds nothing, so skewed clocks
-- cannot count the same interval twice.
local bucket = 0
local from = now
if bucketAt then
  bucket = tonumber(cfg[5]) or 0
  from = math.max(bucketAt, opensAt)
end
if now > from then
  -- Multiplied before dividing: a whole number of tokens then comes out exact.
  bucket = bucket + (now - from) * rate / 1000
  from = now
end
if bucket > rate then
  bucket = rate
end

local n = math.min(math.floor(bucket), tonumber(cfg[3]) - redis.call('ZCARD', KEYS[4]), maxBatch)
local admitted = 0
if n > 0 then
  local lease = now + tonumber(ARGV[3])
  -- Waiters idle beyond this step's scan may still sit at the head; they are dropped
  -- as they come up rather than admitted, within a bounded number of extra pops.
  local budget = n + maxScan
  while admitted < n and budget > 0 do
    local want = math.min(n - admitted, budget)
    local popped = redis.call('ZPOPMIN', KEYS[2], want)
    if #popped == 0 then
      break
    end
    budget = budget - #popped / 2
    for i = 1, #popped, 2 do
      local uid = popped[i]
      local seen = redis.call('ZSCORE', KEYS[3], uid)
      redis.call('ZREM', KEYS[3], uid)
      if seen and tonumber(seen) <= cutoff then
        dropped = dropped + 1
      else
        redis.call('ZADD', KEYS[4], lease, uid)
        admitted = admitted + 1
      end
    end
  end
  bucket = bucket - admitted
  redis.call('HINCRBY', KEYS[1], 'admitted', admitted)
end

-- Rounded to fixed decimals so binary residue carried from step to step cannot
-- make floor() withhold a token that is due.
redis.call('HSET', KEYS[1], 'bucket', string.format('%.6f', bucket), 'bucketAt', from)
return {admitted, dropped}
