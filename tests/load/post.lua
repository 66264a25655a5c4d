-- wrk script: POST the NT plan submission to the path given on the command
-- line. With SHENHE_KEY_PREFIX, every request carries an Idempotency-Key of
-- its own (a portal's retry-safe filing): PREFIX-THREAD-N.
local f = assert(io.open(os.getenv("SHENHE_BODY"), "r"))
local body = f:read("*a")
f:close()
local headers = { ["Content-Type"] = "application/json" }
if os.getenv("SHENHE_TOKEN") then headers["Authorization"] = "Bearer " .. os.getenv("SHENHE_TOKEN") end
local prefix = os.getenv("SHENHE_KEY_PREFIX")

local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local n = 0
request = function()
  if prefix then
    n = n + 1
    headers["Idempotency-Key"] = string.format("%s-%d-%d", prefix, id, n)
  end
  return wrk.format("POST", nil, headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-2xx %d, socket errors %d/%d/%d/%d\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
