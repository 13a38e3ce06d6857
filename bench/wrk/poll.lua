-- wrk script: GET /api/queue/status, rotating the Authorization header over a
-- token file (one token per line, written by `rush setup -mode poll`).
--
--   wrk -t2 -c256 -d15s --latency -s bench/wrk/poll.lua http://127.0.0.1:8080 -- /tmp/poll.tokens
--
package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local lib = require("tokens")
local tokens = {}
local i = 0

function setup(thread) lib.setup(thread) end

function init(args)
  local path = args[1] or "tokens.txt"
  tokens = lib.read(path)
  if #tokens == 0 then error("no tokens in " .. path) end
  local head = "GET /api/queue/status HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nAuthorization: "
  for n, t in ipairs(tokens) do
    tokens[n] = head .. t .. "\r\n\r\n"
  end
  i = lib.start(#tokens)
end

-- Each token's request is put together once, in init: per request wrk then only
-- hands out a string, so the load generator takes as little as it can of the two
-- cores it shares with the server. bare.lua and poll.lua do this alike, so both
-- runs still send byte-for-byte the same requests at the same cost to wrk.
function request()
  i = i % #tokens + 1
  return tokens[i]
end
