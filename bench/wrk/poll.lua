-- wrk script: GET /api/queue/status, rotating the Authorization header over a
-- token file (one token per line, written by `rush setup -mode poll`).
--
--   wrk -t2 -c256 -d15s --latency -s bench/wrk/poll.lua http://127.0.0.1:8080 -- /tmp/poll.tokens
--
-- Each wrk thread has its own Lua state: it reads the file once and starts at a
-- different offset, so the threads do not poll the same token at the same moment.
local tokens = {}
local i = 0

function init(args)
  local path = args[1] or "tokens.txt"
  for line in io.lines(path) do
    if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
  end
  if #tokens == 0 then error("no tokens in " .. path) end
  i = math.random(#tokens)
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", "/api/queue/status", { ["Authorization"] = tokens[i] })
end
