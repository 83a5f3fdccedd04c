-- Enqueue one job atomically: the intent, the status record and the Celery message are written
-- together, or nothing is (an unknown account or a vanished dead letter writes nothing).
-- A job for an (account, endpoint) that is already waiting for its rate window joins that wait
-- directly instead of the queue, so a saturated account's backlog never stands in the shared
-- queue in front of other accounts' jobs.
-- A job due now goes to the queue's fast lane while the account has fewer than its share of
-- jobs there, else to the overflow lane (worker/lanes.py), so one account's backlog never
-- stands in front of another account's job.
-- KEYS: 1 accounts, 2 seq, 3 intent, 4 job, 5 queue (its fast lane), 6 parked,
--       7 parked messages, 8 dlq index, 9 dlq entries, 10 budget (account, endpoint),
--       11 waiting (account, endpoint), 12 groups, 13 account meta, 14 scheduled jobs of the
--       pair, 15 the queue's overflow lane, 16 the account's fast-lane count
-- ARGV: 1 account_id, 2 tweet_id, 3 job_id, 4 action, 5 now (ISO), 6 message, 7 job ttl (s),
--       8 job key prefix, 9 dead-letter entry to remove on replay ('' for none), 10 now (ms),
--       11 default limit, 12 default window (s), 13 '1' to enqueue even for an account rtq has no
--       credentials for (a forced replay: the job waits to be dead-lettered again, or for the
--       account to be added first), 14 due time (ms) of a scheduled job ('' for now),
--       15 batch token: scheduled jobs enqueued together (a retweet and its undo-after) do not
--       cancel each other, 16 fast-lane share per account, 17 fast-lane count ttl (s),
--       18 the overflow lane's kombu priority
-- A scheduled job waits in the parking lot and in its pair's scheduled set; it becomes the
-- latest intent only when due (move_due.lua). Any intent enqueued for the pair meanwhile,
-- scheduled or not (but not of the same batch), cancels it: the latest intent wins.
if ARGV[13] ~= '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return redis.error_reply('unknown_account')
end
if ARGV[9] ~= '' and redis.call('HEXISTS', KEYS[9], ARGV[9]) == 0 then
  return redis.error_reply('no_such_entry')
end
local seq = redis.call('INCR', KEYS[2])
local job_prefix = ARGV[8]
local function supersede(old_id)
  local old = job_prefix .. old_id
  if redis.call('EXISTS', old) == 1 then
    redis.call('HSET', old, 'state', 'superseded', 'reason', 'superseded by job ' .. ARGV[3],
      'updated_at', ARGV[5])
    redis.call('HDEL', old, 'due_at', 'due_at_ms', 'scheduled')
  end
end
-- Scheduled jobs still waiting for their time are cancelled by any later intent.
for _, scheduled in ipairs(redis.call('ZRANGE', KEYS[14], 0, -1)) do
  if ARGV[15] == '' or redis.call('HGET', job_prefix .. scheduled, 'batch') ~= ARGV[15] then
    redis.call('ZREM', KEYS[14], scheduled)
    if redis.call('ZREM', KEYS[6], scheduled) == 1 then
      redis.call('HDEL', KEYS[7], scheduled)
      supersede(scheduled)
    end
  end
end
redis.call('HSET', KEYS[4], 'action', ARGV[4], 'account_id', ARGV[1], 'tweet_id', ARGV[2],
  'state', 'queued', 'attempts', 0, 'charged', 0, 'seq', seq,
  'created_at', ARGV[5], 'updated_at', ARGV[5])
redis.call('EXPIRE', KEYS[4], ARGV[7])
if ARGV[14] ~= '' then
  redis.call('ZADD', KEYS[6], ARGV[14], ARGV[3])
  redis.call('HSET', KEYS[7], ARGV[3], ARGV[6])
  redis.call('ZADD', KEYS[14], ARGV[14], ARGV[3])
  redis.call('EXPIRE', KEYS[14], ARGV[7])
  redis.call('HSET', KEYS[4], 'state', 'deferred', 'scheduled', '1', 'due_at_ms', ARGV[14],
    'batch', ARGV[15])
  if ARGV[9] ~= '' then
    redis.call('ZREM', KEYS[8], ARGV[9])
    redis.call('HDEL', KEYS[9], ARGV[9])
  end
  return seq
end
local previous = redis.call('HGET', KEYS[3], 'job')
local previous_action = redis.call('HGET', KEYS[3], 'action')
redis.call('HSET', KEYS[3], 'seq', seq, 'job', ARGV[3], 'action', ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[7])
local now = tonumber(ARGV[10])
local budget = redis.call('HMGET', KEYS[10], 'remaining', 'reset')
local reset = tonumber(budget[2])
local spent = reset ~= nil and reset > now and tonumber(budget[1] or '1') <= 0
local waiting = redis.call('ZCARD', KEYS[11])
if spent or waiting > 0 then
  local limit = tonumber(redis.call('HGET', KEYS[13], 'rate_limit') or ARGV[11])
  local window = tonumber(redis.call('HGET', KEYS[13], 'rate_window') or ARGV[12]) * 1000
  local at = now
  if reset ~= nil and reset > now then at = reset end
  redis.call('ZADD', KEYS[11], seq, ARGV[3])
  redis.call('HSET', KEYS[7], ARGV[3], ARGV[6])
  redis.call('ZADD', KEYS[12], 'LT', at, ARGV[1] .. ':' .. ARGV[4])
  -- Out of the FIFO queue already: a raw message for the pair arriving later is newer.
  redis.call('HSET', KEYS[4], 'state', 'deferred', 'delivered', '1',
    'due_at_ms', at + math.floor(waiting / math.max(limit, 1)) * window)
elseif tonumber(redis.call('GET', KEYS[16]) or '0') < tonumber(ARGV[16]) then
  redis.call('LPUSH', KEYS[5], ARGV[6])
  redis.call('INCR', KEYS[16])
  redis.call('EXPIRE', KEYS[16], ARGV[17])
  -- deliver.lua takes the mark off (once) and decrements the count.
  redis.call('HSET', KEYS[4], 'lane', '1')
else
  -- kombu restores an unacked message to the list its priority names: say the overflow lane.
  -- (Our messages are built by worker/messages.py: compact JSON, one "priority":0.)
  local message = ARGV[6]
  local at = string.find(message, '"priority":0,', 1, true)
  if at then
    message = string.sub(message, 1, at + 10) .. ARGV[18] .. string.sub(message, at + 12)
  end
  redis.call('LPUSH', KEYS[15], message)
  -- Out of the FIFO fast lane (like a job joining a rate-window wait): a raw message for the
  -- pair leaving the fast lane while this job waits is ordered after it (deliver.lua).
  redis.call('HSET', KEYS[4], 'delivered', '1')
end
-- An older job for this pair waiting in the parking lot or for a rate window can never win
-- now: settle it here rather than publishing it later only to be superseded.
local waiting_removed = 0
if previous and previous_action and previous ~= ARGV[3] then
  local prefix = string.sub(job_prefix, 1, #job_prefix - 4)  -- "rtq:job:" -> "rtq:"
  waiting_removed = redis.call('ZREM', prefix .. 'waiting:' .. ARGV[1] .. ':' .. previous_action,
    previous)
  if (redis.call('ZREM', KEYS[6], previous) + waiting_removed) >= 1 then
    redis.call('HDEL', KEYS[7], previous)
    supersede(previous)
  end
end
if ARGV[9] ~= '' then
  redis.call('ZREM', KEYS[8], ARGV[9])
  redis.call('HDEL', KEYS[9], ARGV[9])
end
return seq
