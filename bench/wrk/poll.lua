-- wrk script: GET /api/queue/status, rotating the Authorization header over a
-- token file (one token per line, written by `rush setup -mode poll`).
--
--   wrk -t2 -c256 -d15s --latency -s bench/wrk/poll.lua http://127.0.0.1:8080 -- /tmp/poll.tokens
--
local tokens = {}
local i = 0

-- Each wrk thread has its own Lua state, and math.random starts every state from
-- the same seed: without a per-thread id the threads would send the same sequence.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local path = args[1] or "tokens.txt"
  for line in io.lines(path) do
    if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
  end
  if #tokens == 0 then error("no tokens in " .. path) end
  local head = "GET /api/queue/status HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nAuthorization: "
  for n, t in ipairs(tokens) do
    tokens[n] = head .. t .. "\r\n\r\n"
  end
  math.randomseed(os.time() * 1000 + tid * 7919)
  i = math.random(#tokens)
end

-- Each token's request is put together once, in init: per request wrk then only
-- hands out a string, so the load generator takes as little as it can of the two
-- cores it shares with the server. bare.lua and poll.lua do this alike, so both
-- runs still send byte-for-byte the same requests at the same cost to wrk.
function request()
  i = i % #tokens + 1
  return tokens[i]
end
