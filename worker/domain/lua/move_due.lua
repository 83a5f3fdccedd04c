-- (with_priority comes from lanes.lua, which worker/domain/scripts/runner.py puts in front of this script.)
-- Re-publish parked jobs whose time has come. Atomic, so however many workers run the mover,
-- each due job is published exactly once.
-- A scheduled job (rtq retweet --at, --undo-after) becomes its pair's latest intent only now,
-- when it is due, and only if no later intent has cancelled it meanwhile.
-- A due job takes its account's share of the queue's fast lane like a job just enqueued
-- (worker/domain/lanes.py), so a burst of one account's retries or scheduled jobs coming due at once
-- waits in the overflow lane instead of in front of other accounts' jobs.
-- KEYS
--   1 parked
--   2 parked_messages
--   3 queue             the queue's fast lane
--   4 seq
--   5 overflow_lane
-- ARGV
--   1 now_ms
--   2 batch_limit
--   3 job_key_prefix
--   4 now_iso
--   5 key_prefix        ("rtq:")
--   6 lane_share        fast-lane share per account
--   7 lane_count_ttl    seconds
--   8 overflow_priority
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, job_id in ipairs(due) do
  local message = redis.call('HGET', KEYS[2], job_id)
  redis.call('ZREM', KEYS[1], job_id)
  redis.call('HDEL', KEYS[2], job_id)
  redis.call('ZREM', ARGV[5] .. 'age:retry', job_id)
  redis.call('ZREM', ARGV[5] .. 'age:scheduled', job_id)
  local job = ARGV[3] .. job_id
  local publish = message ~= nil and message ~= false
  if publish and redis.call('HGET', job, 'scheduled') == '1' then
    local fields = redis.call('HMGET', job, 'account_id', 'tweet_id', 'action')
    local pair = fields[1] .. ':' .. fields[2]
    if redis.call('ZREM', ARGV[5] .. 'scheduled:' .. pair, job_id) == 1 then
      local seq = redis.call('INCR', KEYS[4])
      local intent = ARGV[5] .. 'intent:' .. pair
      redis.call('HSET', intent, 'seq', seq, 'job', job_id, 'action', fields[3])
      redis.call('EXPIRE', intent, redis.call('TTL', job))
      redis.call('HSET', job, 'seq', seq)
      redis.call('HDEL', job, 'scheduled', 'batch')
    else
      publish = false
      redis.call('HSET', job, 'state', 'superseded', 'reason', 'superseded by a later intent',
        'updated_at', ARGV[4])
      redis.call('HDEL', job, 'due_at', 'due_at_ms', 'scheduled')
    end
  end
  if publish then
    local account = redis.call('HGET', job, 'account_id')
    local count = account and (ARGV[5] .. 'lane:' .. account)
    if not count or tonumber(redis.call('GET', count) or '0') < tonumber(ARGV[6]) then
      redis.call('LPUSH', KEYS[3], message)
      if count then
        redis.call('INCR', count)
        -- The expiry runs from the count's creation (see enqueue.lua).
        if redis.call('TTL', count) < 0 then redis.call('EXPIRE', count, ARGV[7]) end
        redis.call('HSET', job, 'lane', '1')
      end
    else
      -- kombu restores an unacked message to the list its priority names: say the overflow lane.
      message = with_priority(message, ARGV[8])
      redis.call('LPUSH', KEYS[5], message)
      -- Out of the fast lane's order (see enqueue.lua).
      redis.call('HSET', job, 'delivered', '1')
    end
    if redis.call('HGET', job, 'state') == 'deferred' then
      redis.call('HSET', job, 'state', 'queued', 'updated_at', ARGV[4])
      redis.call('HDEL', job, 'due_at', 'due_at_ms')
    end
  end
end
return #due
