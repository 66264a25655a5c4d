-- wrk script: POST the NT plan submission to the path given on the command line.
local f = assert(io.open(os.getenv("SHENHE_BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
if os.getenv("SHENHE_TOKEN") then wrk.headers["Authorization"] = "Bearer " .. os.getenv("SHENHE_TOKEN") end

local errors = 0
response = function(status, headers, body)
  if status ~= 200 and status ~= 201 then errors = errors + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-2xx %d, socket errors %d/%d/%d/%d\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
