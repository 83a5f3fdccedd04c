-- (with_priority comes from lanes.lua, which worker/domain/scripts/runner.py puts in front of this script.)
-- Let waiting jobs out as their rate windows allow: for each (account, endpoint) group whose
-- time has come, publish as many of its waiting jobs as its budget has calls left (oldest
-- intents first), and schedule the group again while jobs remain. Atomic, so however many
-- workers run it, each job is released once.
-- Released jobs go to the queue's released lane (worker/domain/lanes.py), behind fresh jobs: a window
-- lets out up to a whole window's worth of one account's jobs at once, and they must not delay
-- the next job of an idle account.
-- KEYS
--   1 groups
--   2 parked_messages
--   3 released_lane
-- ARGV
--   1 now_ms
--   2 max_groups        per run
--   3 key_prefix        ("rtq:")
--   4 default_limit
--   5 default_window    seconds
--   6 now_iso
--   7 released_priority the released lane's kombu priority
local now = tonumber(ARGV[1])
local groups = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[2])
local released = 0
for _, group in ipairs(groups) do
  local account = string.match(group, '^([0-9]+):')
  local meta = ARGV[3] .. 'account:' .. account
  local waiting = ARGV[3] .. 'waiting:' .. group
  local budget = redis.call('HMGET', ARGV[3] .. 'budget:' .. group, 'limit', 'remaining', 'reset')
  local window = tonumber(redis.call('HGET', meta, 'rate_window') or ARGV[5]) * 1000
  local limit = tonumber(budget[1]) or tonumber(redis.call('HGET', meta, 'rate_limit') or ARGV[4])
  local left, reset = tonumber(budget[2]), tonumber(budget[3])
  if left == nil or reset == nil or now >= reset then
    left, reset = limit, now + window
  end
  if left > 0 then
    local jobs = redis.call('ZPOPMIN', waiting, left)
    for i = 1, #jobs, 2 do
      local job_id = jobs[i]
      redis.call('ZREM', ARGV[3] .. 'age:rate_window', job_id)
      local message = redis.call('HGET', KEYS[2], job_id)
      redis.call('HDEL', KEYS[2], job_id)
      if message then
        -- kombu restores an unacked message to the list its priority names: say this one.
        message = with_priority(message, ARGV[7])
        -- FIFO within the lane: oldest intents first.
        redis.call('LPUSH', KEYS[3], message)
        local job = ARGV[3] .. 'job:' .. job_id
        if redis.call('HGET', job, 'state') == 'deferred' then
          redis.call('HSET', job, 'state', 'queued', 'updated_at', ARGV[6])
          redis.call('HDEL', job, 'due_at_ms')
        end
        released = released + 1
      end
    end
  end
  if redis.call('ZCARD', waiting) > 0 then
    redis.call('ZADD', KEYS[1], reset, group)
  else
    redis.call('ZREM', KEYS[1], group)
  end
end
return released
