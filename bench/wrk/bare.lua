-- wrk script for the bare baseline server: the same request shape as poll.lua
-- (an Authorization header rotated over the same token file), so both runs send
-- byte-for-byte comparable requests.
package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
local lib = require("tokens")
local tokens = {}

function setup(thread) lib.setup(thread) end

function init(args)
  tokens = lib.read(args[1])
  if #tokens == 0 then tokens[1] = "Bearer x" end
  -- Each request is made whole here, once (see tokens.lua).
  request = lib.rotating(lib.prebuilt(tokens, "/api/queue/status"))
end
