-- wrk script: POST /api/reservations with a random seat, rotating ACTIVE tokens
-- (one per line, written by `rush setup -mode hold`).
--
--   wrk -t2 -c256 -d15s --latency -s bench/wrk/hold.lua http://127.0.0.1:8080 -- /tmp/hold.tokens <scheduleId> <seats>
--
-- Most answers are 201 (a new hold) until the seats fill up, then 409 SEAT_TAKEN
-- or HOLD_LIMIT_REACHED: all are the hold path doing its job. wrk counts every
-- non-2xx answer as an error; bench/run.sh counts 5xx from the server's /metrics.
package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local lib = require("tokens")
local tokens = {}
local i = 0
local schedule, seats, head

function setup(thread) lib.setup(thread) end

function init(args)
  local path = args[1] or "tokens.txt"
  schedule = tonumber(args[2] or "1")
  seats = tonumber(args[3] or "100000")
  tokens = lib.read(path)
  if #tokens == 0 then error("no tokens in " .. path) end
  head = "POST /api/reservations HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nAuthorization: "
  i = lib.start(#tokens)
end

-- The request is put together from a prefix made once rather than by wrk.format,
-- whose per-request string.format and table work is CPU taken from concertd on
-- two shared cores.
function request()
  i = i % #tokens + 1
  local body = '{"concertScheduleId":' .. schedule .. ',"seatNumber":' .. math.random(seats) .. '}'
  return head .. tokens[i] .. "\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end
