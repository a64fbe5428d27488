-- wrk script for bench_register.py: every request POSTs a new valid client (a distinct resident
-- ID number, check character computed as contracts/idnumber.py does). Arguments after `--`:
-- a bearer token and the first sequence number this run may use (each run takes a fresh range;
-- each wrk thread takes its own 200,000 numbers within it).
local weights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
local checks = "10X98765432"
local threads, token, first = 0, nil, 0

local function id_number(n)
  local seq = n % 1000
  local d = math.floor(n / 1000)
  local first17 = string.format("341721%04d%02d%02d%03d",
    1930 + math.floor(d / 336), math.floor(d / 28) % 12 + 1, d % 28 + 1, seq)
  local sum = 0
  for i = 1, 17 do sum = sum + tonumber(first17:sub(i, i)) * weights[i] end
  local c = sum % 11 + 1
  return first17 .. checks:sub(c, c)
end

function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

function init(args)
  token, first = args[1], tonumber(args[2])
  n = first + index * 200000
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local body = '{"name":"压测对象","id_number":"' .. id_number(n) .. '","phone":"13900001111",' ..
    '"village_code":"341721100001","categories":["solitary_elderly"],"risk_level":"medium",' ..
    '"consent":{"given":true,"date":"2026-01-05","recorded_by":"压测"}}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.3f %.3f %.3f\n", summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
