-- (with_priority comes from lanes.lua, which worker/domain/scripts.py puts in front of this script.)
-- An account has new credentials: mark it active and publish the jobs held while it needed
-- re-authorization, in the order they were held.
-- They go to the queue's released lane (worker/domain/lanes.py): an account's whole backlog can come
-- out at once, and it must not stand in front of other accounts' fresh jobs.
-- KEYS
--   1 account_meta
--   2 held              the account's held list
--   3 parked_messages
--   4 released_lane
-- ARGV
--   1 job_key_prefix
--   2 now_iso
--   3 released_priority the released lane's kombu priority
redis.call('HSET', KEYS[1], 'state', 'active')
local released = 0
while true do
  local job_id = redis.call('LPOP', KEYS[2])
  if not job_id then break end
  local message = redis.call('HGET', KEYS[3], job_id)
  redis.call('HDEL', KEYS[3], job_id)
  if message then
    -- kombu restores an unacked message to the list its priority names: say this one.
    message = with_priority(message, ARGV[3])
    redis.call('LPUSH', KEYS[4], message)
    local job = ARGV[1] .. job_id
    if redis.call('HGET', job, 'state') == 'deferred' then
      redis.call('HSET', job, 'state', 'queued', 'updated_at', ARGV[2])
      redis.call('HDEL', job, 'detail')
    end
    released = released + 1
  end
end
return released
