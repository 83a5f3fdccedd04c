-- Re-publish parked jobs whose time has come. Atomic, so however many workers run the mover,
-- each due job is published exactly once.
-- KEYS: 1 parked, 2 parked messages, 3 queue
-- ARGV: 1 now (ms), 2 batch limit, 3 job key prefix, 4 now (ISO)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, job_id in ipairs(due) do
  local message = redis.call('HGET', KEYS[2], job_id)
  redis.call('ZREM', KEYS[1], job_id)
  redis.call('HDEL', KEYS[2], job_id)
  if message then
    redis.call('LPUSH', KEYS[3], message)
    local job = ARGV[3] .. job_id
    if redis.call('HGET', job, 'state') == 'deferred' then
      redis.call('HSET', job, 'state', 'queued', 'updated_at', ARGV[4])
      redis.call('HDEL', job, 'due_at', 'due_at_ms')
    end
  end
end
return #due
