-- wrk script used by relata-bench: rotates over the lines of a file, so that every request
-- hits a different record, filter or search term.
--
--   wrk -t2 -c64 -d15s -s rotate.lua http://127.0.0.1:PORT -- LINES_FILE [TOKEN] [POST_PATH]
--
-- Without POST_PATH each line is a path to GET; with it, each line is a JSON body POSTed to
-- POST_PATH. With POST_PATH `-` each line is a whole request, `METHOD<TAB>PATH[<TAB>BODY]`
-- (the mixed workload: reads, changes and creates in the proportions of the file). TOKEN, when not empty, is sent as `Authorization: Bearer TOKEN` (or, written `cookie:NAME=VALUE`, as that cookie: a browser session, for the web pages). At the end one
-- line `WRK_JSON {...}` reports requests, errors and latency percentiles (microseconds).

local lines = {}
local counter = 0
local post_path = nil
local thread_count = 0

function setup(thread)
  -- Threads start at different places in the file.
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  if args[2] ~= nil and args[2] ~= "" then
    local cookie = args[2]:match("^cookie:(.*)$")
    if cookie then
      wrk.headers["Cookie"] = cookie
    else
      wrk.headers["Authorization"] = "Bearer " .. args[2]
    end
  end
  if args[3] ~= nil and args[3] ~= "" then
    post_path = args[3]
    wrk.headers["Content-Type"] = "application/json"
  end
  counter = math.floor(((offset or 0) * #lines) / 4)
end

function request()
  counter = counter + 1
  local line = lines[(counter % #lines) + 1]
  if post_path == "-" then
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if body == "" then
      body = nil
    end
    return wrk.format(method, path, nil, body)
  end
  if post_path then
    return wrk.format("POST", post_path, nil, line)
  end
  return wrk.format("GET", line)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max))
end
