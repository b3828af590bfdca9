-- wrk script for bench/peer.py: sends the requests of a file in turn, each thread from a
-- random line, with the API token.
-- Arguments after `--`: FILE KEY TAG. A line of FILE is METHOD<TAB>PATH<TAB>BODY (BODY may
-- be empty); "@N@" in a body becomes a name unique in the run (TAG, thread, count).
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local requests, sent, prefix = {}, 0, ""

function init(args)
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]*)\t?(.*)$")
    requests[#requests + 1] = { method, path, body ~= "" and body or nil }
  end
  wrk.headers["Authorization"] = "Token " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  prefix = args[3] .. "-" .. id .. "-"
  math.randomseed(os.time() * 100 + id)
  sent = math.random(#requests)
end

function request()
  sent = sent + 1
  local method, path, body = unpack(requests[sent % #requests + 1])
  if body then
    body = body:gsub("@N@", prefix .. sent)
  end
  return wrk.format(method, path, nil, body)
end

-- One line peer.py reads: latencies in microseconds; non_2xx counts "Non-2xx or 3xx".
function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non_2xx":%d,'
      .. '"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
