-- (tally and tally_latency come from tally.lua, leave_waits from waits.lua, which
-- worker/domain/scripts/runner.py puts in front of this script.)
-- An operator cancels a batch of jobs (rtq cancel), each atomically against begin.lua:
--   finished (any state but queued, deferred, running): left as it is
--   running: left to finish the call it is making; marked (`cancel`: the reason) so that
--     begin.lua ends it `cancelled` if it ever comes back (a retry, a redelivery)
--   queued or deferred: `cancelled`, and out of every place it waits: the parking lot and its
--     message, its rate-window wait, its pair's scheduled set, the wait indexes. A held or
--     paused list keeps its id: the scripts that let those go skip an id whose message is
--     gone. A message still in the queue's lanes or prefetched by a worker meets the state
--     in begin.lua, which treats `cancelled` as done.
-- Returns one word per job, in order: 'cancelled', 'running', 'finished', or 'missing' (no
-- record: an unknown id, or a record expired).
-- KEYS
--   1 parked
--   2 parked_messages
--   3 outcomes          outcome counters (tally.lua)
--   4 minute_outcomes   this minute's outcome counts
--   5 latency           enqueue-to-outcome histogram
-- ARGV
--   1 key_prefix        ("rtq:")
--   2 now_iso
--   3 now_ms
--   4 reason            "cancelled by an operator (<actor>)"
--   5 job_ttl           seconds a finished record is kept
-- ARGV (each job, after the shared ones)
--   1 job_id
local FIRST_JOB = 6
local prefix, now_iso, now_ms, reason, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4],
  ARGV[5]
local results = {}
for i = FIRST_JOB, #ARGV do
  local job_id = ARGV[i]
  local job = prefix .. 'job:' .. job_id
  local record = redis.call('HMGET', job, 'state', 'account_id', 'tweet_id', 'action',
    'created_at_ms')
  local state = record[1]
  local result
  if not state then
    result = 'missing'
  elseif state == 'running' then
    redis.call('HSET', job, 'cancel', reason)
    result = 'running'
  elseif state ~= 'queued' and state ~= 'deferred' then
    result = 'finished'
  else
    leave_waits(prefix, KEYS[1], KEYS[2], job_id, record[2], record[3], record[4])
    -- 'lane' stays: deliver.lua gives the account's fast-lane place back when the message
    -- leaves the queue.
    redis.call('HSET', job, 'state', 'cancelled', 'reason', reason, 'updated_at', now_iso)
    redis.call('HDEL', job, 'deliveries', 'due_at', 'due_at_ms', 'detail', 'scheduled', 'batch',
      'cancel')
    redis.call('EXPIRE', job, ttl)
    tally(KEYS[3], KEYS[4], 'cancelled')
    tally_latency(KEYS[5], 'cancelled', tonumber(record[5]), now_ms)
    result = 'cancelled'
  end
  results[#results + 1] = result
end
return results
