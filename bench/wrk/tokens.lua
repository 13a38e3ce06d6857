-- tokens.lua: what the wrk scripts that rotate user tokens share (bare, poll, hold,
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

return M
