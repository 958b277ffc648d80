-- wrk script for bench/ingest.py: send pre-built, pre-signed HTTP requests from a file, in order, and
-- record which event ids each 2xx acknowledged.
--
--   INGEST_RESULT=RESULT_FILE wrk -s bench/ingest.lua URL -- REQUESTS_FILE THREADS CONNECTIONS [DELAY_MS]
--
-- Each connection first sends a GET /healthz (an "opener", left out of the webhook rate by ingest.py):
-- the requests wrk writes as it opens its connections reach the server in no particular order (one sent
-- first was seen processed after 200 sent later), so no webhook rides on them. wrk also calls request()
-- once per thread before connecting and drops what it returns: that call gets an opener too.
--
-- REQUESTS_FILE holds, per request, "<byte length>\n<raw HTTP/1.1 request>". Thread t of T sends the
-- requests whose index is t modulo T, in file order; when a thread runs out it starts over (the count of
-- restarts is reported: a restart resends events, which the app must answer as duplicates).
-- RESULT_FILE gets a summary line of JSON, then per acknowledged request a line "<event id> <sent>": how
-- many of the file's requests its thread had sent when the 2xx came back (ingest.py tells from it whether
-- two webhooks of one call were ever in flight together).
-- DELAY_MS (default 0) paces each connection: it waits that long after each answer before its next request,
-- so the flood runs below the server's peak (ingest.py measures the dead air a caller hears that way).

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local requests = {}
local count = 0
local position = 0
wrapped = 0
acked = {}
acked_count = 0
refused = 0
statuses = {}

local openers = 0
local pause = 0

function init(args)
   local path, nthreads = args[1], tonumber(args[2])
   pause = tonumber(args[4] or "0")
   openers = math.ceil(tonumber(args[3]) / nthreads) + 1
   local file = assert(io.open(path, "rb"))
   local data = file:read("*a")
   file:close()
   local at, index = 1, 0
   while at <= #data do
      local newline = data:find("\n", at, true)
      local length = tonumber(data:sub(at, newline - 1))
      if index % nthreads == tid then
         count = count + 1
         requests[count] = data:sub(newline + 1, newline + length)
      end
      index = index + 1
      at = newline + 1 + length
   end
   data = nil
   collectgarbage()
end

function request()
   if openers > 0 then
      openers = openers - 1
      return wrk.format("GET", "/healthz")
   end
   position = position + 1
   if position > count then
      position = 1
      wrapped = wrapped + 1
   end
   return requests[position]
end

function delay()
   return pause
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      acked_count = acked_count + 1
      -- the event id, and how many webhooks this thread had sent when its 2xx came back
      acked[acked_count] = (body:match('"event_id":%s*"([^"]+)"') or "") .. " " .. position
   else
      refused = refused + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests_)
   local out = assert(io.open(os.getenv("INGEST_RESULT"), "wb"))
   local total_wrapped, total_refused, refused_by_status = 0, 0, {}
   local ids = {}
   for _, thread in ipairs(threads) do
      total_wrapped = total_wrapped + thread:get("wrapped")
      total_refused = total_refused + thread:get("refused")
      for status, n in pairs(thread:get("statuses")) do
         refused_by_status[status] = (refused_by_status[status] or 0) + n
      end
      local list = thread:get("acked")
      for i = 1, #list do
         ids[#ids + 1] = list[i]
      end
   end
   local by_status = {}
   for status, n in pairs(refused_by_status) do
      by_status[#by_status + 1] = string.format('"%d":%d', status, n)
   end
   local e = summary.errors
   out:write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
      '"status_errors":%d,"timeouts":%d,"acked":%d,"non_2xx":%d,"non_2xx_by_status":{%s},"wrapped":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
      #ids, total_refused, table.concat(by_status, ","), total_wrapped,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
   out:write(table.concat(ids, "\n"))
   out:write("\n")
   out:close()
end
