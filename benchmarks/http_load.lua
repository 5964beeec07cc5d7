-- wrk script of benchmarks/engine.py --parts http. With PDM_BENCH_MACHINES set (comma-separated
-- machine names), each request POSTs {"machine": <next name>}; otherwise it sends wrk's own
-- request (a GET). At the end it prints one line of JSON the benchmark reads.
local machines = {}
for name in string.gmatch(os.getenv("PDM_BENCH_MACHINES") or "", "[^,]+") do
  table.insert(machines, name)
end
local sent = 0

request = function()
  if #machines == 0 then
    return wrk.format(nil)
  end
  sent = sent + 1
  return wrk.format("POST", nil, nil, '{"machine": "' .. machines[sent % #machines + 1] .. '"}')
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3))
end
