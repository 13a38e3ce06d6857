-- tokens.lua: what the wrk scripts that rotate user tokens share (bare, poll, hold, best,
-- seatmap). Each loads it beside itself:
--
--   package.path = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") .. "?.lua;" .. package.path
--   local tokens = require("tokens")
local M = {}

-- Each wrk thread has its own Lua state, and math.random starts every state from
-- the same seed: without a per-thread id the threads would send the same sequence.
-- M.setup, called from the script's setup(thread), numbers the threads (global tid).
local threads = 0
function M.setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

-- M.read returns the tokens of a file (one per line) as "Bearer <token>" values;
-- an empty list when path is nil.
function M.read(path)
  local list = {}
  if path then
    for line in io.lines(path) do
      if #line > 0 then list[#list + 1] = "Bearer " .. line end
    end
  end
  return list
end

-- M.start seeds math.random for this thread and returns where in a list of n it
-- starts.
function M.start(n)
  math.randomseed(os.time() * 1000 + tid * 7919)
  return math.random(n)
end

-- M.prebuilt turns each "Bearer <token>" of list into a whole GET request for
-- path. Each request is put together once, in init: per request wrk then only
-- hands out a string, so the load generator takes as little as it can of the two
-- cores it shares with the server. bare.lua and poll.lua both use it, so both runs
-- send byte-for-byte the same requests at the same cost to wrk.
function M.prebuilt(list, path)
  local head = "GET " .. path .. " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nAuthorization: "
  for n, t in ipairs(list) do
    list[n] = head .. t .. "\r\n\r\n"
  end
  return list
end

-- M.rotating returns a request function that hands out the prebuilt requests of
-- list in turn, from this thread's random start.
function M.rotating(list)
  local i = M.start(#list)
  return function()
    i = i % #list + 1
    return list[i]
  end
end

return M
