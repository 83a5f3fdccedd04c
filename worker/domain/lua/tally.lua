-- Counting outcomes, shared by begin.lua and settle.lua (worker/domain/scripts/runner.py puts
-- this file in front of both): the running totals (rtq_jobs_total), this minute's counts (the
-- console's last-hour chart; each minute's hash expires after two hours), and for a job that
-- has finished, how long it took from enqueue (rtq_job_latency_seconds, a histogram kept as
-- one count per bucket, plus the sum, per outcome).
-- Bucket upper bounds in ms: milliseconds for jobs that run at once, minutes for jobs that
-- waited for a rate window, a retry or a hold. ops/latency.py reads the same list.
local LATENCY_BOUNDS_MS = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
  120000, 300000, 600000, 1800000, 3600000}
local function tally(totals, minute, outcome)
  redis.call('HINCRBY', totals, outcome, 1)
  if redis.call('HINCRBY', minute, outcome, 1) == 1 then redis.call('EXPIRE', minute, 7200) end
end
local function tally_latency(latency, outcome, created_ms, now_ms)
  if not created_ms then return end  -- a raw message: no enqueue time of ours
  local took = math.max(0, now_ms - created_ms)
  local bucket = #LATENCY_BOUNDS_MS + 1
  for i, bound in ipairs(LATENCY_BOUNDS_MS) do
    if took <= bound then
      bucket = i
      break
    end
  end
  redis.call('HINCRBY', latency, outcome .. ':' .. bucket, 1)
  redis.call('HINCRBY', latency, outcome .. ':sum_ms', took)
end
