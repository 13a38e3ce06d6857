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
  math.randomseed(os.time() * 1000 + tid * 7919)
  i = math.random(#tokens)
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", "/api/queue/status", { ["Authorization"] = tokens[i] })
end
