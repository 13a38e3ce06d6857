-- wrk script: POST /api/reservations/best for 2 seats side by side, rotating
-- ACTIVE tokens (one per line, written by `rush setup -mode best`) and the
-- schedules named (comma-separated), one after another.
--
--   wrk -t2 -c256 -d15s --latency -s bench/wrk/best.lua http://127.0.0.1:8080 -- /tmp/best.tokens <scheduleId,scheduleId,...> [quantity]
--
-- Answers are 201 (the seats held) while a schedule has pairs left, then 409
-- SEATS_UNAVAILABLE; a token at its hold limit answers 409 HOLD_LIMIT_REACHED.
-- wrk counts every non-2xx answer as an error; bench/run.sh counts the answers
-- from the server's /metrics.
package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local lib = require("tokens")
local tokens, schedules = {}, {}
local i, k = 0, 0
local head, quantity

function setup(thread) lib.setup(thread) end

function init(args)
  tokens = lib.read(args[1] or "tokens.txt")
  if #tokens == 0 then error("no tokens in " .. (args[1] or "tokens.txt")) end
  for id in string.gmatch(args[2] or "1", "%d+") do schedules[#schedules + 1] = id end
  quantity = args[3] or "2"
  head = "POST /api/reservations/best HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nAuthorization: "
  i = lib.start(#tokens)
  k = i % #schedules
end

function request()
  i = i % #tokens + 1
  k = k % #schedules + 1
  local body = '{"concertScheduleId":' .. schedules[k] .. ',"quantity":' .. quantity .. '}'
  return head .. tokens[i] .. "\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end
