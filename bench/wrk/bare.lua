-- wrk script for the bare baseline server: the same request shape as poll.lua
-- (an Authorization header rotated over the same token file), so both runs send
-- byte-for-byte comparable requests.
local tokens = {}
local i = 0

function init(args)
  local path = args[1]
  if path then
    for line in io.lines(path) do
      if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
    end
  end
  if #tokens == 0 then tokens[1] = "Bearer x" end
  i = math.random(#tokens)
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", "/api/queue/status", { ["Authorization"] = tokens[i] })
end
