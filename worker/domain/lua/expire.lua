-- (tally comes from tally.lua, leave_waits from waits.lua, which worker/domain/scripts/runner.py
-- puts in front of this script.)
-- End jobs whose deadline has passed before they could start: state `expired`, no call, no
-- dead letter, counted like any outcome. Run by every worker's mover (worker/domain/
-- deadlines.py) for the deadlines that have come, and by a worker whose Celery dropped a raw
-- message as expired (Celery's `expires`) for that one job. Atomic, so each job expires once.
-- A job leaves every place it waits that is keyed by job id (the parking lot and its
-- messages, its rate window's waiting set, its pair's scheduled set, the age indexes). A job in
-- a list (the queue, a held or paused list) keeps its place there: with its message gone (or,
-- in the queue, its record terminal), it is skipped when it comes out.
-- A running job finishes: its deadline is looked at again `recheck_ms` later, in case it then
-- waits (a retry). A finished job, or one whose record has gone, just leaves the deadlines.
-- Returns how many jobs it expired.
-- KEYS
--   1 deadlines         job_id -> deadline (ms)
--   2 parked
--   3 parked_messages
--   4 outcomes          outcome counters (tally.lua)
--   5 minute_outcomes   this minute's outcome counts
--   6 latency           enqueue-to-outcome histogram
-- ARGV
--   1 now_ms
--   2 batch_limit       deadlines looked at per call
--   3 key_prefix        ("rtq:")
--   4 now_iso
--   5 job_ttl           seconds an expired job's record is kept
--   6 recheck_ms
--   7 job_id            one job to expire now, whatever its deadline ('' for the due ones)
--   8 reason            the expired record's reason
--   9 action            the one job's task, account and tweet, for a record to write if it
--                       has none (its message never reached rtq's intake)
--  10 account_id
--  11 tweet_id
local now, prefix = tonumber(ARGV[1]), ARGV[3]
local TERMINAL = {succeeded = true, skipped = true, superseded = true, dead = true,
  expired = true, cancelled = true}
local function expire(job_id)
  local job = prefix .. 'job:' .. job_id
  local r = redis.call('HMGET', job, 'state', 'account_id', 'tweet_id', 'action',
    'created_at_ms', 'detail', 'scheduled')
  local state = r[1]
  if not state and ARGV[7] == job_id and ARGV[9] ~= '' then
    redis.call('HSET', job, 'action', ARGV[9], 'account_id', ARGV[10], 'tweet_id', ARGV[11],
      'attempts', 0, 'charged', 0, 'created_at', ARGV[4])
    state = 'queued'
  end
  if not state or TERMINAL[state] then
    redis.call('ZREM', KEYS[1], job_id)
    return 0
  end
  if state == 'running' then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[6]), job_id)
    return 0
  end
  local where = r[6] or state
  local in_window, in_lot = leave_waits(prefix, KEYS[2], KEYS[3], job_id, r[2], r[3], r[4])
  if in_window then where = 'waiting for its rate window' end
  if in_lot then
    if r[7] == '1' then
      where = 'scheduled'
    else
      where = 'parked for a retry' .. (r[6] and (' (' .. r[6] .. ')') or '')
    end
  end
  redis.call('HSET', job, 'state', 'expired', 'reason', ARGV[8],
    'detail', 'the deadline passed while ' .. where, 'updated_at', ARGV[4])
  redis.call('HDEL', job, 'due_at', 'due_at_ms', 'deliveries', 'scheduled', 'batch')
  redis.call('EXPIRE', job, ARGV[5])
  redis.call('ZREM', KEYS[1], job_id)
  tally(KEYS[4], KEYS[5], 'expired')
  tally_latency(KEYS[6], 'expired', tonumber(r[5]), now)
  return 1
end
local expired = 0
if ARGV[7] ~= '' then
  return expire(ARGV[7])
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[2])
for _, job_id in ipairs(due) do
  expired = expired + expire(job_id)
end
return expired
