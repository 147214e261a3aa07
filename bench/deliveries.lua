-- wrk script: POST pre-signed Cartly deliveries, each exactly once, and print a summary.
--
-- BENCH_DELIVERIES names the file bench/deliveries.py wrote: three template lines, then one
-- "event_id order_id signature" line per delivery. Each body is rebuilt from the template by
-- concatenation, byte for byte the bytes that were signed. With N wrk threads, thread k sends
-- lines k, k+N, k+2N, ...; a thread that runs out stops (a repeated delivery would be
-- deduplicated and do no work), and the summary says how many ran out.
-- The summary line has the same fields as ../shared/bench-n8n/bench.lua's WRK_JSON.

local counter = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local index = tonumber(thread_index) or 0
  local step = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  local f = assert(io.open(os.getenv("BENCH_DELIVERIES"), "r"))
  head, middle, tail = f:read("*l"), f:read("*l"), f:read("*l")
  deliveries = {}
  local n = 0
  for line in f:lines() do
    if n % step == index then
      table.insert(deliveries, line)
    end
    n = n + 1
  end
  f:close()
  path = os.getenv("BENCH_PATH")
  base_headers = {
    ["Content-Type"] = "application/json",
    ["X-Cartly-Webhook-Id"] = os.getenv("BENCH_WEBHOOK_ID"),
    ["X-Cartly-Shop-Domain"] = os.getenv("BENCH_SHOP_DOMAIN"),
  }
  position = 0
  ran_out = 0
end

function request()
  position = position + 1
  local line = deliveries[position]
  if line == nil then
    ran_out = 1
    wrk.thread:stop()
    line = deliveries[#deliveries]
  end
  local evt, oid, signature = line:match("^(%S+) (%S+) (%S+)$")
  local headers = {}
  for k, v in pairs(base_headers) do headers[k] = v end
  headers["X-Cartly-Hmac-Sha256"] = signature
  return wrk.format("POST", path, headers, head .. evt .. middle .. oid .. tail)
end

function done(summary, latency, requests)
  local out_of = 0
  for _, thread in ipairs(threads) do
    out_of = out_of + (tonumber(thread:get("ran_out")) or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_s": %.3f, "req_per_s": %.1f, ' ..
    '"err_connect": %d, "err_read": %d, "err_write": %d, "err_status": %d, "err_timeout": %d, ' ..
    '"lat_mean_ms": %.2f, "lat_p50_ms": %.2f, "lat_p90_ms": %.2f, "lat_p99_ms": %.2f, ' ..
    '"lat_max_ms": %.2f, "threads_out_of_deliveries": %d}\n',
    summary.requests, secs, summary.requests / secs,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, out_of))
end
