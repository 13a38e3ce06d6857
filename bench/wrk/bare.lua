-- wrk script for the bare baseline server: the same request shape as poll.lua
-- (an Authorization header rotated over the same token file), so both runs send
-- byte-for-byte comparable requests.
package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local lib = require("tokens")
local tokens = {}
local i = 0

function setup(thread) lib.setup(thread) end

function init(args)
  tokens = lib.read(args[1])
  if #tokens == 0 then tokens[1] = "Bearer x" end
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
