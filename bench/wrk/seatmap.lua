-- wrk script: GET a schedule's seat map with Accept-Encoding: gzip, as browsers
-- ask, rotating ACTIVE tokens (written by `rush setup -mode seatmap`).
--
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/seatmap.lua http://127.0.0.1:8080 -- /tmp/map.tokens <scheduleId>
package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local lib = require("tokens")
local tokens = {}
local i = 0
local path

function setup(thread) lib.setup(thread) end

function init(args)
  local file = args[1] or "tokens.txt"
  path = "/api/concerts/schedules/" .. (args[2] or "1") .. "/seats"
  tokens = lib.read(file)
  if #tokens == 0 then error("no tokens in " .. file) end
  i = lib.start(#tokens)
end

local headers = { ["Accept-Encoding"] = "gzip, deflate, br" }

function request()
  i = i % #tokens + 1
  headers["Authorization"] = tokens[i]
  return wrk.format("GET", path, headers)
end
