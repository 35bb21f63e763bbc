-- wrk load of POST /api/v1/events: one generic deploy event per request,
-- each with a unique Idempotency-Key (run, thread, counter), so that every
-- request is a new event and none is de-duplicated. Each thread writes the
-- key of every acknowledged (202) delivery to <outdir>/acked-<run>-<thread>.txt,
-- which eventscheck compares with the journal after a kill -9.
--
--   wrk -t2 -c64 -d20s -s test/bench/events.lua http://127.0.0.1:PORT -- TOKEN OUTDIR RUN

local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  token, outdir, run = args[1], args[2], args[3]
  counter = 0
  acked = assert(io.open(string.format("%s/acked-%s-%d.txt", outdir, run, tid), "w"))
  acked:setvbuf("line")
  body = '{"kind":"deploy","env":"prod","dataset":"payments","release":"v1.4.0","revision":"abc123","actor":"wrk","time":"2026-12-01T10:00:00Z"}'
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = string.format("wrk-%s-%d-%d", run, tid, counter)
  return wrk.format("POST", "/api/v1/events", headers, body)
end

function response(status, hdrs, resp)
  if status == 202 then
    local key = resp:match('"accepted":%["([^"]+)"')
    if key then
      acked:write(key, "\n")
    end
  end
end
