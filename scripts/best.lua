-- best.lua: find and hold the best free seats side by side in one row, for
-- ACTIVE tokens, each request in one atomic step (API.md "POST
-- /api/reservations/best"). Concurrent requests on one schedule share one call
-- (store/redisstore/best.go batches them); within a call they are served one
-- after another, exactly as separate calls would be.
--
-- The rule: sections in the schedule's order (or only the one named), the first
-- with such a run, and in it the front-most row that has one. Within that row a
-- run that leaves no lone free seat (exactly one free seat between the run and
-- the next taken seat or the row's end) is preferred whenever the row has one;
-- among those, the run whose middle is nearest the row's middle; a tie goes to
-- the run further left. engine/best.go's ChooseRun is the same rule in Go.
--
-- Cost is bounded by the rows scanned: KEYS[9] keeps a free count per row and
-- per section (see rows.lua), so a full section is skipped with one HMGET entry
-- and a row that cannot fit the run with one more; only a row that can is read
-- (one GETRANGE of its holder tags, one of its sold bits), and a row found to
-- have free seats but no run of q is marked so until one of its seats is freed.
-- Each section keeps, per quantity, the row before which no run of it is left,
-- so a request starts where the last one of its quantity stopped.
--
-- A seat is free when it is not sold and has no holder, or its PENDING hold is
-- past its deadline (the deadline set is the truth, before the sweeper frees it;
-- only the first 1,000 such holds are read, the sweeper frees them within a
-- second). A seat being paid is never free: only the sweeper frees it.
--
-- A hold made here writes what hold.lua writes (holds, holders, tags, the user's
-- holds, the reservation record, the token's lease), so GET, DELETE and payment
-- work on it alike, except the expiry trigger P:{cN}:hold:<s>:<seat>: its name
-- depends on the seat chosen here, and every key must be in KEYS. Its expiry is
-- left to the sweeper, which reads the deadline set every 250 ms.
--
-- KEYS[1]  -> P:{cN}:tokens   (token records, see enter.lua)
-- KEYS[2]  -> P:{cN}:active
-- KEYS[3]  -> P:{cN}:wait
-- KEYS[4]  -> P:{cN}:sold:<scheduleID>
-- KEYS[5]  -> P:{cN}:holds:<scheduleID>
-- KEYS[6]  -> P:{cN}:holders:<scheduleID>
-- KEYS[7]  -> P:{cN}:rebuilt:<scheduleID>
-- KEYS[8]  -> P:{cN}:tags:<scheduleID>
-- KEYS[9]  -> P:{cN}:rows:<scheduleID>   (layout and free counts, see rows.lua)
-- KEYS[10] -> P:{cN}:bought             (userID -> seats bought on the concert)
-- KEYS[11] -> P:{cN}:cfg                (maxTickets: held plus bought per user, 0 or
--                                        missing = no limit beyond the request's own)
-- then per request, in ARGV's order: P:{cN}:uh:<userID>, and one
--   P:{cN}:res:<reservationID> per fresh id
--
-- ARGV[1]  scheduleID
-- ARGV[2]  reservation record TTL (ms)
-- ARGV[3]  section prices, comma-separated, in layout order
-- then per request: userID, token gen, now (ms, the engine's clock), hold
--   deadline (ms), the user's holder tag (one byte: engine.HolderTag), max live
--   holds per user on the concert, quantity q, section (1-based index in the
--   layout; 0: every section in order), and q fresh reservation ids
--
-- Returns one entry per request, in ARGV's order: a list of two entries per
-- seat in seat order (reservationID, seat), or {'CODE message'} when it is
-- refused: TOKEN_EXPIRED, NOT_ADMITTED, HOLD_LIMIT_REACHED,
-- TICKET_LIMIT_REACHED or SEATS_UNAVAILABLE (the engine's codes).
-- Error:   NOT_REBUILT for the whole call when the sold seats or the row counts
--          are not loaded (the engine loads them and retries).

local call, tonumber, floor, byte, sub = redis.call, tonumber, math.floor, string.byte, string.sub

if call('EXISTS', KEYS[7]) == 0 then
  return redis.error_reply('NOT_REBUILT schedule ' .. ARGV[1] .. ' has no sold seats loaded')
end
local layout = call('HGET', KEYS[9], 'L')
if not layout then
  return redis.error_reply('NOT_REBUILT schedule ' .. ARGV[1] .. ' has no row counts loaded')
end

-- The requests: where each one's arguments and keys start.
local reqs, minNow = {}, nil
do
  local a, k = 4, 12
  while a <= #ARGV do
    local q = tonumber(ARGV[a + 6])
    reqs[#reqs + 1] = { a = a, k = k, q = q }
    local now = tonumber(ARGV[a + 2])
    minNow = math.min(minNow or now, now)
    a, k = a + 8 + q, k + 1 + q
  end
end

-- The layout: per section "start,seatsPerRow,firstRow,rows;" (see rows.lua).
local secs = {}
for start, per, first, rows in string.gmatch(layout, '(%d+),(%d+),(%d+),(%d+)') do
  secs[#secs + 1] = { start = tonumber(start), per = tonumber(per), first = tonumber(first), rows = tonumber(rows) }
end
local prices = {}
for p in string.gmatch(ARGV[3], '%d+') do
  prices[#prices + 1] = p
end

-- placeOf finds a seat's section index and global row.
local function placeOf(seat)
  local k = 0
  for i = 1, #secs do
    if seat < secs[i].start then break end
    k = i
  end
  local s = secs[k]
  return k, s.first + floor((seat - s.start) / s.per)
end

-- Expired PENDING holds count as free seats of their rows and sections, as of
-- the earliest `now` of the call (a hold that lapsed since is simply not yet
-- free). lapsedIn[row] lists the row's lapsed seats (noSeats: none); a lapsed
-- seat taken here leaves them.
local lapsed, lapsedIn, extraSec, lapsedFrom, noSeats = {}, {}, {}, {}, {}
for _, m in ipairs(call('ZRANGEBYSCORE', KEYS[5], '-inf', minNow, 'LIMIT', 0, 1000)) do
  local seat = tonumber(m)
  if seat then
    local k, r = placeOf(seat)
    if k > 0 then
      lapsed[seat] = r
      extraSec[k] = (extraSec[k] or 0) + 1
      lapsedFrom[k] = math.min(lapsedFrom[k] or r, r)
      lapsedIn[r] = lapsedIn[r] or {}
      table.insert(lapsedIn[r], seat)
    end
  end
end

local function unlapse(k, seat)
  local r = lapsed[seat]
  lapsed[seat] = nil
  extraSec[k] = extraSec[k] - 1
  for i, other in ipairs(lapsedIn[r]) do
    if other == seat then
      table.remove(lapsedIn[r], i)
      break
    end
  end
end

-- Every section's free count s<k> and rows f<k> are read in one HMGET per
-- request; their names are made once (a number joined to a string is formatted
-- by sprintf, which was a tenth of a call).
local secFields = {}
for k = 1, #secs do
  secFields[2 * k - 1], secFields[2 * k] = 's' .. k, 'f' .. k
end

-- The ticket limit is the concert's live setting (PATCH .../queue), read once.
local maxTickets = tonumber(call('HGET', KEYS[11], 'maxTickets')) or 0

-- rowOf returns row r (n seats from seat `from`) as a string of n bytes, one per
-- seat: "\0" when free, anything else when not. It starts from the holder tags
-- (0 = no holder) and changes only the seats that differ from them: the sold ones
-- (found by their sold byte, so a row with none sold costs no Lua per seat) and
-- the lapsed holds. Everything per seat is left to string functions, which run
-- in C: Lua per seat cost 0.5 us, which was most of a call.
local function rowOf(r, from, n)
  local row = call('GETRANGE', KEYS[8], from, from + n - 1)
  if #row < n then
    row = row .. string.rep('\0', n - #row)
  end
  local flip = {} -- offset in the row (1-based) -> its byte
  local lo = floor(from / 8)
  local sold = call('GETRANGE', KEYS[4], lo, floor((from + n - 1) / 8))
  for i in string.gmatch(sold, '()[^%z]') do
    local bits, first = byte(sold, i), (lo + i - 1) * 8 - from + 1
    for b = 7, 0, -1 do
      if bits % 2 == 1 and first + b >= 1 and first + b <= n then
        flip[first + b] = 'x'
      end
      bits = floor(bits / 2)
    end
  end
  for _, seat in ipairs(lapsedIn[r] or noSeats) do
    local j = seat - from + 1
    flip[j] = flip[j] or '\0' -- a sold seat stays sold
  end
  local at = {}
  for j in pairs(flip) do
    at[#at + 1] = j
  end
  if #at == 0 then
    return row
  end
  table.sort(at)
  local parts, pos = {}, 1
  for _, j in ipairs(at) do
    parts[#parts + 1] = sub(row, pos, j - 1)
    parts[#parts + 1] = flip[j]
    pos = j + 1
  end
  parts[#parts + 1] = sub(row, pos)
  return table.concat(parts)
end

-- choose returns the first seat (1-based in the row) of the best run of q free
-- seats in row (see rowOf) of n seats, or nil, and the longest free run. Only a
-- few starts of each free stretch can win: those nearest the row's middle (a
-- lone seat rules out at most two of them) and the two that would leave a lone
-- seat (the best when every start would). They are tried in seat order, so a tie
-- still goes to the leftmost, exactly as trying every start would.
local function choose(row, n, q)
  local best, bestLone, bestDist
  local longest = 0
  local mid = floor((n + 2 - q) / 2) -- the start whose run's middle is the row's
  local function try(x, a, last)
    local lone = (x - a == 1) or (last - x == 1)
    local dist = math.abs(2 * x + q - n - 2)
    if not best or (bestLone and not lone) or (lone == bestLone and dist < bestDist) then
      best, bestLone, bestDist = x, lone, dist
    end
  end
  for a, e in string.gmatch(row, '()%z+()') do
    longest = math.max(longest, e - a)
    local last = e - q -- the last start that fits in a..e-1
    if last >= a then
      local c = math.min(math.max(mid, a), last)
      local lo, hi = math.max(a, c - 3), math.min(last, c + 4)
      if a + 1 < lo then try(a + 1, a, last) end
      for x = lo, hi do
        try(x, a, last)
      end
      if last - 1 > hi then try(last - 1, a, last) end
    end
  end
  return best, longest
end

-- serve answers one request (see the header): its token, its limits, then the
-- best run and its holds.
local function serve(req)
  local a, q = req.a, req.q
  local uid, gen, nowArg, deadline, tag = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local uhKey = KEYS[req.k]
  local now = tonumber(nowArg)

  local rec = call('HGET', KEYS[1], uid)
  if not rec or string.match(rec, '^%d+') ~= gen or sub(rec, -2) == ':d' then
    return { 'TOKEN_EXPIRED token is no longer current' }
  end
  local lease = tonumber(call('ZSCORE', KEYS[2], uid))
  if not lease or lease <= now then
    if call('ZSCORE', KEYS[3], uid) then
      return { 'NOT_ADMITTED token is still waiting in the queue' }
    end
    return { 'TOKEN_EXPIRED active time ran out' }
  end
  local live = call('ZCOUNT', uhKey, '(' .. nowArg, '+inf')
  if live + q > tonumber(ARGV[a + 5]) then
    return { 'HOLD_LIMIT_REACHED at most ' .. ARGV[a + 5] .. ' seats may be held at once' }
  end
  if maxTickets > 0 and live + q + (tonumber(call('HGET', KEYS[10], uid)) or 0) > maxTickets then
    return { 'TICKET_LIMIT_REACHED at most ' .. maxTickets .. ' tickets per person' }
  end

  -- take holds the run of q seats from seat x of row r (from: the row's first
  -- seat). The seats are side by side, so each key is written once for all of
  -- them; only the reservation records are one key per seat.
  local function take(k, r, from, x)
    local out = {}
    local price = prices[k] or prices[1]
    local first = from + x - 1
    local zholds, holders, zuser = {}, {}, {}
    local counted = 0
    -- Numbers are turned into strings once each: Lua formats a number with
    -- printf's %.14g every time it is passed to redis.call or joined.
    for j = 0, q - 1 do
      local seat = first + j
      local name = tostring(seat)
      local rid = ARGV[a + 8 + j]
      -- A lapsed hold keeps its holder until swept: the seat was never counted free.
      if lapsed[seat] then
        unlapse(k, seat)
      else
        counted = counted + 1
      end
      zholds[#zholds + 1], zholds[#zholds + 2] = deadline, name
      holders[#holders + 1], holders[#holders + 2] = name, rid .. ':' .. uid
      zuser[#zuser + 1], zuser[#zuser + 2] = deadline, rid
      call('SET', KEYS[req.k + 1 + j], ARGV[1] .. ':' .. name .. ':' .. uid .. ':' .. price .. ':' ..
        deadline .. ':PENDING', 'PX', ARGV[2])
      out[#out + 1] = rid
      out[#out + 1] = seat
    end
    if counted > 0 then
      call('HINCRBY', KEYS[9], tostring(r), -counted)
      call('HINCRBY', KEYS[9], secFields[2 * k - 1], -counted)
    end
    call('ZADD', KEYS[5], unpack(zholds))
    call('HSET', KEYS[6], unpack(holders))
    call('SETRANGE', KEYS[8], tostring(first), string.rep(tag, q))
    call('ZADD', uhKey, unpack(zuser))
    if lease < tonumber(deadline) then
      call('ZADD', KEYS[2], 'GT', deadline, uid)
    end
    return out
  end

  local only = tonumber(ARGV[a + 7])
  local secState = call('HMGET', KEYS[9], unpack(secFields))
  for k = 1, #secs do
    local s = secs[k]
    if (only == 0 or only == k) and s.per >= q and (tonumber(secState[2 * k - 1]) or 0) + (extraSec[k] or 0) >= q then
      -- f<k> lists a row per quantity i = 1, 2, ...: no row of the section before
      -- the i-th has a run of i free seats (best.lua moves it on, recount moves
      -- them all back when a seat before them is freed). No run of i means none of
      -- q >= i either, so the scan starts at the furthest of the first q. A
      -- section's sold-out front, and rows left with only lone seats, cost nothing;
      -- rows with lapsed holds are looked at wherever they are.
      local ptrs = {}
      for p in string.gmatch(secState[2 * k] or '', '%d+') do
        ptrs[#ptrs + 1] = tonumber(p)
      end
      local stored = s.first
      for i = 1, math.min(q, #ptrs) do
        stored = math.max(stored, ptrs[i])
      end
      -- movePointer records that no row from stored to before `to` has a run of q.
      local function movePointer(to)
        if to <= stored then return end
        for i = #ptrs + 1, q do
          ptrs[i] = s.first
        end
        ptrs[q] = to
        call('HSET', KEYS[9], secFields[2 * k], table.concat(ptrs, ','))
      end
      local r0, chunk, last = math.min(stored, lapsedFrom[k] or stored), 2, s.first + s.rows - 1
      local firstMaybe -- the first row from stored that may have a run of q
      -- Free counts of the rows by HMGET, 2 rows first, then twice as many each
      -- time up to 256: the run is usually in the first row. With each count
      -- comes m<row>, the longest free run a call found there when it had none of
      -- q (cleared when a seat of the row is freed, see recount): a row whose free
      -- seats are all apart is not read again.
      while r0 <= last do
        local rows, fields = {}, {}
        for r = r0, math.min(r0 + chunk - 1, last) do
          local name = tostring(r)
          rows[#rows + 1] = r
          fields[#fields + 1] = name
          fields[#fields + 1] = 'm' .. name
        end
        r0, chunk = r0 + chunk, math.min(chunk * 2, 256)
        local got = call('HMGET', KEYS[9], unpack(fields))
        for i, r in ipairs(rows) do
          local free, extra = tonumber(got[2 * i - 1]) or 0, #(lapsedIn[r] or noSeats)
          local longest = tonumber(got[2 * i])
          local maybe = free >= q and (not longest or longest >= q) -- by its count and mark
          if free + extra >= q and (extra > 0 or maybe) then
            local from = s.start + (r - s.first) * s.per
            local x, run = choose(rowOf(r, from, s.per), s.per, q)
            if x then
              movePointer(firstMaybe or r)
              return take(k, r, from, x)
            end
            maybe = false -- read: no run of q, even with its lapsed holds
            if extra == 0 then
              call('HSET', KEYS[9], fields[2 * i], run)
            end
          end
          if maybe and not firstMaybe and r >= stored then
            firstMaybe = r
          end
        end
      end
      movePointer(firstMaybe or last + 1)
    end
  end
  return { 'SEATS_UNAVAILABLE no ' .. q .. ' seats side by side are left' }
end

local out = {}
for i, req in ipairs(reqs) do
  out[i] = serve(req)
end
return out
