-- wrk script for bench/http_load.py: POSTs real hook requests in turn and reports in JSON.
--
--   wrk -s bench/wrk_post.lua <url> -- <index file>
--
-- The index file lists one request per line: "<path>\t<body file>". Each wrk thread starts at its
-- own offset in the list, so that the connections do not all send the same body at once.

local prepared = {}
local count = 0
local position = 0
local thread_number = 0
local threads = {}

function setup(thread)
  thread_number = thread_number + 1
  thread:set("offset", thread_number)
  table.insert(threads, thread)
end

function init(args)
  local index = assert(io.open(args[1], "r"))
  for line in index:lines() do
    local path, file = line:match("^([^\t]+)\t(.+)$")
    if path then
      local handle = assert(io.open(file, "rb"))
      local body = handle:read("*a")
      handle:close()
      count = count + 1
      prepared[count] = wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
    end
  end
  index:close()
  assert(count > 0, "no request in " .. args[1])
  position = ((offset or 1) * 7) % count
end

function request()
  position = position % count + 1
  return prepared[position]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
