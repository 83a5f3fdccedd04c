-- (index_job and index_expire come from index.lua, which worker/domain/scripts/runner.py puts in
-- front of this script.)
-- Note a message as it leaves the queue (run by the worker's main process right after BRPOP).
-- The fast lane is FIFO: when a message is taken, every message accepted before it has been
-- taken already and every message still there was accepted after it. So a message no producer
-- of ours wrote (send_task by name: priority 0, the fast lane; no intent recorded at enqueue) is
-- ordered here: if the pair's latest intent is a job still waiting in the fast lane, that job
-- is newer and this one is older. (Jobs in the other lanes are marked delivered when they
-- leave the fast lane's order.)
-- A job of ours that entered the fast lane gives its place back to its account's share
-- (worker/domain/lanes.py), once: a redelivered copy finds the mark gone.
-- A raw message's deadline (its Celery `expires` header, or RTQ_JOB_MAX_DELAY from now) is
-- recorded with it, so that it expires wherever it waits later (worker/domain/deadlines.py).
-- KEYS
--   1 job             the job's status record
--   2 intent          the pair's latest intent
--   3 seq             the intent sequence counter
--   4 lane_count      the account's fast-lane count
--   5 account_jobs    the account's job index (a raw message joins it here)
--   6 deadlines       jobs with a deadline
-- ARGV
--   1 job_id
--   2 action
--   3 account_id
--   4 tweet_id
--   5 now_iso
--   6 job_ttl         seconds
--   7 job_key_prefix
--   8 now_ms
--   9 expires_ms      a raw message's deadline ('' for none; ignored for a job of ours)
local job = KEYS[1]
if redis.call('EXISTS', job) == 1 then
  redis.call('HSETNX', job, 'delivered', '1')
  if redis.call('HDEL', job, 'lane') == 1 and redis.call('DECR', KEYS[4]) <= 0 then
    redis.call('DEL', KEYS[4])
  end
  return 0
end
local seq = 0
local latest = redis.call('HGET', KEYS[2], 'job')
local newer_waiting = false
if latest then
  local latest_key = ARGV[7] .. latest
  newer_waiting = redis.call('EXISTS', latest_key) == 1
    and redis.call('HEXISTS', latest_key, 'delivered') == 0
end
if not newer_waiting then
  seq = redis.call('INCR', KEYS[3])
  redis.call('HSET', KEYS[2], 'seq', seq, 'job', ARGV[1], 'action', ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
redis.call('HSET', job, 'action', ARGV[2], 'account_id', ARGV[3], 'tweet_id', ARGV[4],
  'state', 'queued', 'attempts', 0, 'charged', 0, 'seq', seq, 'delivered', '1',
  'created_at', ARGV[5], 'updated_at', ARGV[5])
redis.call('EXPIRE', job, ARGV[6])
index_job(KEYS[5], ARGV[1], tonumber(ARGV[8]), ARGV[6])
index_expire(KEYS[5], ARGV[6])
if ARGV[9] ~= '' then
  redis.call('HSET', job, 'expires_at_ms', ARGV[9])
  redis.call('ZADD', KEYS[6], ARGV[9], ARGV[1])
end
return 1
