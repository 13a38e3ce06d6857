-- admit.lua: one admission step of a concert. All of its state (settings, token
-- bucket, leases) lives in Redis and the step is atomic, so any number of instances
-- stepping at once admit no faster than one would.
--
-- KEYS[1] -> P:{cN}:cfg
-- KEYS[2] -> P:{cN}:wait
-- KEYS[3] -> P:{cN}:tokens   (records as enter.lua describes them)
-- KEYS[4] -> P:{cN}:active
--
-- ARGV[1] now (ms, the engine's clock)
-- ARGV[2] idle timeout (ms): a waiter whose last poll is at or before now-idle is gone
-- ARGV[3] active TTL (ms): an admitted token's lease is now + this
-- ARGV[4] most tokens admitted in this step
-- ARGV[5] most waiters whose last poll is checked in this step (the idle scan's window)
-- ARGV[6] scan period (ms): the scan checks the whole line about once per period,
--         0: ARGV[5] waiters every step
--
-- Idle waiters are found by a scan that walks the queue a window per step and
-- starts over at the end (cfg field scanAt holds where it is), not by an index of
-- last polls: such an index would be a second sorted set entry per waiter, over
-- half of a waiter's memory. A waiter idle past the timeout is therefore dropped when it
-- polls, when it reaches the head, or when the scan passes it, whichever is first;
-- until then it still counts in the positions behind it.
--
-- The scan is paced by the clock (cfg field scannedAt: when it last ran), so all
-- instances' steps together check (line length) x (time since the last scan) /
-- period waiters, at most ARGV[5] a step. The length is the line's longest since
-- the current pass began (cfg field scanLen): taken as it shrinks, the pass would
-- slow down with every waiter it drops and never reach the end after a mass
-- abandonment. Unpaced, each step of each instance checked 2,000 waiters, about
-- 4 ms of Redis every 100 ms per concert, for a line of any length. The first
-- paced step only starts the clock.
--
-- Returns {admitted, idleDropped}.
-- Errors: CONCERT_NOT_FOUND.

local cfg = redis.call('HMGET', KEYS[1],
  'opensAt', 'admitPerSecond', 'maxActive', 'paused', 'bucket', 'bucketAt', 'scanAt', 'scannedAt', 'scanLen')
if not cfg[1] then
  return redis.error_reply('CONCERT_NOT_FOUND no such concert')
end

local now = tonumber(ARGV[1])
local cutoff = now - tonumber(ARGV[2])
local maxBatch = tonumber(ARGV[4])
local maxScan = tonumber(ARGV[5])
local period = tonumber(ARGV[6])

-- unpack is bounded by Lua's C stack, so members go to Redis in slices.
local function each(cmd, key, members)
  local out = {}
  for i = 1, #members, 500 do
    local r = redis.call(cmd, key, unpack(members, i, math.min(i + 499, #members)))
    if type(r) == 'table' then
      for _, v in ipairs(r) do out[#out + 1] = v end
    end
  end
  return out
end

-- A record's last poll in ms; a missing or unreadable record counts as never.
local function lastPoll(rec)
  if not rec then
    return -1
  end
  local issued, polled = string.match(rec, '^%d+:(%d+):(%d+)')
  if not issued then
    return -1
  end
  return tonumber(issued) * 1000 + tonumber(polled)
end

if maxScan > 0 and period > 0 then
  local last = tonumber(cfg[8])
  -- The line may also grow during a pass (a pass that began on an empty line, before
  -- the rush): the pace follows the larger of the two.
  local passLen = math.max(tonumber(cfg[9]) or 0, redis.call('ZCARD', KEYS[2]))
  if last and now > last then
    maxScan = math.min(maxScan, math.ceil(passLen * (now - last) / period))
  else
    maxScan = 0 -- the first step, or a clock behind the last scan's
  end
  if not last or now > last then
    redis.call('HSET', KEYS[1], 'scannedAt', ARGV[1], 'scanLen', passLen)
  end
end

local dropped = 0
if maxScan > 0 then
  local from = tonumber(cfg[7]) or 0
  local window = redis.call('ZRANGE', KEYS[2], from, from + maxScan - 1)
  if #window > 0 then
    local recs = each('HMGET', KEYS[3], window)
    local idle = {}
    for i, uid in ipairs(window) do
      if lastPoll(recs[i]) <= cutoff then
        idle[#idle + 1] = uid
      end
    end
    if #idle > 0 then
      each('ZREM', KEYS[2], idle)
      each('HDEL', KEYS[3], idle)
    end
    dropped = #idle
  end
  local nextFrom = 0
  if #window == maxScan then
    nextFrom = from + #window - dropped
  elseif period > 0 then
    redis.call('HDEL', KEYS[1], 'scanLen') -- the pass is over: the next one measures the line
  end
  redis.call('HSET', KEYS[1], 'scanAt', nextFrom)
end

-- Leases that ran out: their records go too, except DONE ones, which keep telling
-- their owner DONE. At most 1,000 a step, so one step's work stays bounded after
-- any number of leases lapsed at once; the rest go in the next steps, and
-- meanwhile count as no longer active (ZCOUNT below, not ZCARD).
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 1000)
if #lapsed > 0 then
  local recs = each('HMGET', KEYS[3], lapsed)
  local over = {}
  for i, uid in ipairs(lapsed) do
    if recs[i] and string.sub(recs[i], -2) ~= ':d' then
      over[#over + 1] = uid
    end
  end
  if #over > 0 then
    each('HDEL', KEYS[3], over)
  end
  each('ZREM', KEYS[4], lapsed)
end

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

local n = math.min(math.floor(bucket), tonumber(cfg[3]) - redis.call('ZCOUNT', KEYS[4], '(' .. now, '+inf'), maxBatch)
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
      if lastPoll(redis.call('HGET', KEYS[3], uid)) <= cutoff then
        redis.call('HDEL', KEYS[3], uid)
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
