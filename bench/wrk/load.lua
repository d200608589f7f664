-- wrk's requests for the benchmarks, chosen by environment variables the harness sets:
--   BENCH_MODE   post_users | post_orders | get_user
--   BENCH_TOKEN  bearer token (optional)
--   BENCH_IDS    comma-separated user ids, used round-robin by post_orders and get_user
--   BENCH_RUN    unique per wrk run, so that emails never repeat across runs on one database
-- `done` prints one line, "BENCH_JSON {...}", that the harness parses.

local mode = os.getenv("BENCH_MODE") or "get_user"
local token = os.getenv("BENCH_TOKEN") or ""
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "[^,]+") do
  ids[#ids + 1] = id
end

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

local sent = 0
local order_body = '{"product": "Tea", "quantity": 2, "unit_price": "4.50"}'

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  if token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

local function next_id()
  return ids[(sent + thread_number) % #ids + 1]
end

function request()
  sent = sent + 1
  if mode == "post_users" then
    local body = string.format(
      '{"name": "Bench %d", "email": "bench-%s-%d-%d@example.com"}',
      sent, run, thread_number, sent
    )
    return wrk.format("POST", "/users", nil, body)
  elseif mode == "post_orders" then
    return wrk.format("POST", "/users/" .. next_id() .. "/orders", nil, order_body)
  else
    return wrk.format("GET", "/users/" .. next_id())
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  -- Every latency seen, with how many requests took it: the harness merges the turns of a
  -- subject (`bench.turns`) into one set of percentiles.
  local seen = {}
  for i = 1, #latency do
    local value, count = latency(i)
    seen[#seen + 1] = string.format("[%d, %d]", value, count)
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "status_errors": %d, ' ..
    '"socket_errors": %d, "latencies_us": [%s]}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(seen, ", ")
  ))
end
