-- wrk script: POST /subscribe with a distinct address on every request.
-- Usage: wrk -t2 -c64 -d20s --latency -s bench/subscribe.lua http://127.0.0.1:8080
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function request()
  counter = counter + 1
  -- id is set per thread by setup; together with the counter it makes every
  -- address distinct across threads and runs of the same process.
  local body = "email=reader" .. id .. "-" .. counter .. "-" .. os.time() .. "%40example.org"
  return wrk.format("POST", "/subscribe", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
