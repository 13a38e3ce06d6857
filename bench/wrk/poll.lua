-- wrk script: GET /api/queue/status, rotating the Authorization header over a
-- token file (one token per line, written by `rush setup -mode poll`).
--
--   wrk -t2 -c256 -d15s --latency -s bench/wrk/poll.lua http://127.0.0.1:8080 -- /tmp/poll.tokens
--
package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local lib = require("tokens")
local tokens = {}

function setup(thread) lib.setup(thread) end

function init(args)
  local path = args[1] or "tokens.txt"
  tokens = lib.read(path)
  if #tokens == 0 then error("no tokens in " .. path) end
  -- Each request is made whole here, once (see tokens.lua).
  request = lib.rotating(lib.prebuilt(tokens, "/api/queue/status"))
end
