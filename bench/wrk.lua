-- washgate bench script for wrk: POST JSON with a value that changes per request
-- (a phone from a sequence or a list, or a token in a header), and count every
-- response that is not 2xx or lacks the expected marker as an error.
--
-- wrk ... -s bench/wrk.lua URL -- PATH BODY_PRE BODY_POST HEADER_NAME HEADER_PRE EXPECT SOURCE
--   body    = BODY_PRE .. value .. BODY_POST   (value left out when HEADER_NAME is set)
--   header  = HEADER_NAME: HEADER_PRE .. value (when HEADER_NAME is not empty)
--   SOURCE  = "seq:PREFIX:START" (PREFIX .. 7-digit counter, distinct per thread),
--             "file:PATH" (one value a line, cycled) or "none"
-- done() prints one line "BENCH_JSON {...}" that bench/run.py reads.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  path, body_pre, body_post, header_name, header_pre, expect, source =
    args[1], args[2], args[3], args[4], args[5], args[6], args[7]
  bad = 0
  counter = 0
  values = {}
  nvalues = 0
  seq_prefix = nil
  if source:sub(1, 4) == "seq:" then
    local prefix, start = source:match("^seq:([^:]*):(%d+)$")
    seq_prefix = prefix
    counter = tonumber(start) + id * 1000000
  elseif source:sub(1, 5) == "file:" then
    for line in io.lines(source:sub(6)) do
      if line ~= "" then
        nvalues = nvalues + 1
        values[nvalues] = line
      end
    end
    counter = id * 7
  end
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  counter = counter + 1
  local value = ""
  if seq_prefix then
    value = seq_prefix .. string.format("%07d", counter % 10000000)
  elseif nvalues > 0 then
    value = values[(counter % nvalues) + 1]
  end
  local body
  if header_name ~= "" then
    headers[header_name] = header_pre .. value
    body = body_pre .. body_post
  else
    body = body_pre .. value .. body_post
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  if status < 200 or status > 299 or (expect ~= "" and not string.find(body, expect, 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f,' ..
    '"bad_responses":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    bad_total, e.connect, e.read, e.write, e.status, e.timeout))
end
