-- wrk script: mixed bank traffic against one example app (bench/http/run.sh drives it).
--   wrk ... -s mixed.lua http://127.0.0.1:PORT -- PREFIX UUID_FILE ACK_FILE LABEL
-- PREFIX is /api (eventsrv) or /sql/api (the same app on PDO SQLite). Mix: 40% list, 40% detail,
-- 20% writes of +1..+9. Per account, the amounts sent and the amounts acknowledged (200 with the
-- JSON echo) are written to ACK_FILE ("sent UUID N" / "acked UUID N"), so run.sh can check the
-- balances afterwards: acknowledged <= balance <= sent (a write cut off by the end of the run
-- may or may not have been applied; its answer never arrived).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1]
  uuids = {}
  for line in io.lines(args[2]) do
    if #line > 0 then table.insert(uuids, line) end
  end
  ack_file = args[3]
  label = args[4]
  acked = {}
  sent = {}
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
end

function request()
  local roll = math.random(100)
  local uuid = uuids[math.random(#uuids)]
  if roll <= 40 then
    return wrk.format("GET", prefix .. "/accounts")
  elseif roll <= 80 then
    return wrk.format("GET", prefix .. "/accounts/" .. uuid)
  end
  local amount = math.random(9)
  sent[uuid] = (sent[uuid] or 0) + amount
  return wrk.format("POST", prefix .. "/accounts/" .. uuid .. "/increase",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, "amount=" .. amount)
end

function response(status, headers, body)
  if status == 200 then
    local uuid, amount = body:match('"uuid":"([^"]+)","increased":(%d+)')
    if uuid then
      acked[uuid] = (acked[uuid] or 0) + tonumber(amount)
    end
  end
end

function done(summary, latency, requests)
  -- done() runs in the main Lua state: what init() set lives in the threads' states.
  local file = io.open(threads[1]:get("ack_file"), "a")
  for _, thread in ipairs(threads) do
    for uuid, amount in pairs(thread:get("acked")) do
      file:write("acked ", uuid, " ", amount, "\n")
    end
    for uuid, amount in pairs(thread:get("sent")) do
      file:write("sent ", uuid, " ", amount, "\n")
    end
  end
  file:close()
  local seconds = summary.duration / 1e6
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT|%s|%d|%.1f|%.1f|%.1f|%.1f|%.1f|%d\n",
    threads[1]:get("label"), summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, failed))
end
