-- wrk script: GET a schedule's seat map with Accept-Encoding: gzip, as browsers
-- ask, rotating ACTIVE tokens (written by `rush setup -mode seatmap`).
--
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/seatmap.lua http://127.0.0.1:8080 -- /tmp/map.tokens <scheduleId>
local tokens = {}
local i = 0
local path

-- Each wrk thread has its own Lua state, and math.random starts every state from
-- the same seed: without a per-thread id the threads would send the same sequence.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local file = args[1] or "tokens.txt"
  path = "/api/concerts/schedules/" .. (args[2] or "1") .. "/seats"
  for line in io.lines(file) do
    if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
  end
  if #tokens == 0 then error("no tokens in " .. file) end
  math.randomseed(os.time() * 1000 + tid * 7919)
  i = math.random(#tokens)
end

local headers = { ["Accept-Encoding"] = "gzip, deflate, br" }

function request()
  i = i % #tokens + 1
  headers["Authorization"] = tokens[i]
  return wrk.format("GET", path, headers)
end
