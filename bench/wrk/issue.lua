-- wrk script: POST /api/users/token (enter a concert's waiting room), walking users
-- in id order so that as many requests as possible are a user's FIRST issue (201:
-- a new place in line), not a repeat (200: the same token back). Each request
-- carries its user's key as Authorization: Bearer.
--
--   wrk -t2 -c256 -d15s --latency -s bench/wrk/issue.lua http://127.0.0.1:8080 -- issue.users <concertId> [threads]
--
-- issue.users holds one user key per line, in id order (written by `rush setup -mode issue`).
-- The file is cut into `threads` contiguous ranges (default 2, pass wrk's -t), one
-- per wrk thread, and each thread hands out its range in order. Once a thread has
-- used up its range it starts over from its first id, and from then on its
-- answers are 200s; done() says whether that happened. bench/run.sh counts the
-- 201s and 200s from concertd's /metrics, which is cheaper than a response()
-- callback here (that would parse every answer in Lua, inside the load generator).
local ids = {} -- user keys, then (from init on) the thread's requests
local i = 0
-- Globals, so that done() can read them per thread with thread:get.
first, last, sent = 1, 0, 0

local threads = {}
local counter = 0

-- setup runs in wrk's main Lua state, once per thread, before that thread's init.
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

function init(args)
  local path = args[1] or "issue.users"
  local concert = args[2] or "1"
  local nthreads = tonumber(args[3] or "2")
  if tid >= nthreads then error("wrk runs more threads than the " .. nthreads .. " given as third argument") end
  for line in io.lines(path) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  if #ids == 0 then error("no user ids in " .. path) end
  local per = math.floor(#ids / nthreads)
  if per < 1 then error("fewer user ids than threads in " .. path) end
  first = tid * per + 1
  last = first + per - 1
  if tid == nthreads - 1 then last = #ids end
  i = first - 1
  local body = '{"concertId":' .. concert .. '}'
  local head = "POST /api/users/token HTTP/1.1\r\nHost: " .. wrk.headers["Host"] ..
    "\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\nAuthorization: Bearer "
  for k = first, last do
    ids[k] = head .. ids[k] .. "\r\n\r\n" .. body
  end
end

-- Each request is put together in init, before wrk's clock starts, as bare.lua
-- does: per request wrk then only hands out a string. Built per request, wrk spent
-- 8.3 us of CPU per request against the bare server, where bare.lua's requests cost
-- it 5.6 (run 20261125T121552Z, same-issue and bare), CPU taken from concertd on two
-- shared cores; built here, 7.4-7.7. A thread's 750,000 requests take about 100 MB
-- of its Lua state.
function request()
  i = i + 1
  if i > last then i = first end
  sent = sent + 1
  return ids[i]
end

function done(summary, latency, requests)
  local total, wrapped, span = 0, 0, 0
  for _, t in ipairs(threads) do
    local n = t:get("sent") or 0
    local f, l = t:get("first") or 1, t:get("last") or 0
    total = total + n
    span = span + (l - f + 1)
    if n > l - f + 1 then wrapped = wrapped + 1 end
  end
  io.write(string.format("issue: %d requests made over %d user ids; %d of %d threads ran out of fresh ids\n",
    total, span, wrapped, #threads))
end
