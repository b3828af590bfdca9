-- Shared by the endpoint scripts (wrk 4, LuaJIT): thread ids, the Authorization
-- header, data files written by run.py, and a machine-readable summary line.
--
-- Every script takes its arguments after wrk's `--`: the API key first, then its own.
local common = {}

local threads_created = 0

-- Runs in wrk's main state once per thread, before the thread's init(): gives each
-- thread a distinct id (for unique names and random seeds).
function common.setup(thread)
  threads_created = threads_created + 1
  thread:set("thread_id", threads_created)
end

-- Headers for every request: the token, and JSON for bodies.
function common.headers(key)
  return { ["Authorization"] = "Token " .. key, ["Content-Type"] = "application/json" }
end

function common.seed()
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

-- The non-empty lines of a file.
function common.read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  assert(#lines > 0, "no lines in " .. path)
  return lines
end

-- One line run.py reads: latencies in microseconds; non_2xx is the counter wrk prints
-- as "Non-2xx or 3xx responses".
function common.done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"non_2xx":%d,"connect_errors":%d,"read_errors":%d,'
      .. '"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout))
end

return common
