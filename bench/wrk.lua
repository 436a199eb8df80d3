-- wrk.lua - the one wrk script of bench/run.
--
-- GET by default. With BENCH_POST_TICKETS set (ticket ids separated by
-- commas), every request is a POST of a unique addComment body
-- {"ticketId","user","message"}, the tickets taken in turn; BENCH_USER is
-- the "user" of those comments (bench/run deletes them afterwards by it).
-- With BENCH_LIMIT set, each thread stops after that many responses.
-- With BENCH_TOKEN set, every request carries "Authorization: Bearer"
-- and it (writes and operator paths need one: spawn/stack token ROLE).
-- At the end one line, "BENCH key=value ...", for bench/run to read.

local tickets = {}
local user = os.getenv("BENCH_USER") or "bench"
local limit = tonumber(os.getenv("BENCH_LIMIT") or "")
local threads = {}
local counter = 0
local answered = 0

for id in string.gmatch(os.getenv("BENCH_POST_TICKETS") or "", "[^,]+") do
	tickets[#tickets + 1] = id
end

local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. token
end

function setup(thread)
	thread:set("thread_no", #threads + 1)
	threads[#threads + 1] = thread
end

function init(args)
	if #tickets > 0 then
		wrk.method = "POST"
		wrk.headers["Content-Type"] = "application/json"
	end
end

if #tickets > 0 then
	function request()
		counter = counter + 1
		local body = string.format(
		    '{"ticketId":"%s","user":"%s","message":"wrk comment %d-%d"}',
		    tickets[(counter % #tickets) + 1], user, thread_no or 0,
		    counter)
		return wrk.format(nil, nil, nil, body)
	end
end

if limit then
	function response(status, headers, body)
		answered = answered + 1
		if answered >= limit then
			wrk.thread:stop()
		end
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
	    "BENCH requests=%d duration_us=%d bytes=%d connect_errors=%d " ..
	    "read_errors=%d write_errors=%d status_errors=%d timeouts=%d " ..
	    "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f\n",
	    summary.requests, summary.duration, summary.bytes, e.connect,
	    e.read, e.write, e.status, e.timeout, latency:percentile(50),
	    latency:percentile(90), latency:percentile(99), latency.max,
	    latency.mean))
end
