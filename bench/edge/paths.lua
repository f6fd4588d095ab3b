-- wrk script of bench/edge: walks a list of paths (one per line, in the file named after `--`),
-- each thread from its own offset, and prints the run's exact figures as one JSON line at the end
-- (wrk's own text rounds them).
local paths = {}
local at = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("no paths in " .. tostring(args[1])) end
  -- Threads start far apart in the list, so that they do not ask for the same file at once.
  at = ((id or 1) - 1) * 7919 % #paths
end

function request()
  at = at % #paths + 1
  return wrk.format(nil, paths[at])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'EDGE-BENCH-JSON {"requests":%d,"bytes":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"p999Us":%d,"maxUs":%d,"meanUs":%.1f}\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
