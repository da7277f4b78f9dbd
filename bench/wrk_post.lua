-- POST JSON bodies read from the file given after `--`, one body per line, in turn (a file of
-- one line sends the same body every time); print a JSON summary line at the end.
-- usage: wrk -s bench/wrk_post.lua URL -- bodies.jsonl
local requests = {}
local next_body = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, line)
    end
  end
  assert(#requests > 0, "no request bodies in " .. args[1])
end

function request()
  next_body = next_body % #requests + 1
  return requests[next_body]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status,
    e.timeout))
end
