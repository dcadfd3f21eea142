-- wrk script: POST /subscribe with a distinct address on every request.
-- Usage: wrk -t2 -c64 -d20s --latency -s bench/subscribe.lua http://127.0.0.1:8080
local counter = 0
local thread_id = 0
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
end

function request()
  counter = counter + 1
  local body = "email=reader" .. thread_id .. "-" .. counter .. "-" .. math.random(1, 1e9) .. "%40example.org"
  return wrk.format("POST", "/subscribe", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
