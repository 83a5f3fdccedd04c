-- An operator resumes paused work: the pause of one scope ends, and the jobs it held go to the
-- parking lot due now, in the order they were paused (one ms apart), so the mover publishes
-- them as it publishes any job coming due: each account's share of the fast lane first, the
-- rest in the overflow lane (worker/domain/lanes.py), and begin.lua then holds each to its
-- rate budget. A job cancelled while paused (cancel.lua) has left its message behind and is
-- skipped. Returns how many jobs were let go.
-- KEYS
--   1 pause             the scope's pause ("rtq:pause:{scope}")
--   2 paused            the jobs it holds ("rtq:paused:{scope}")
--   3 pauses            the scopes paused now
--   4 parked
--   5 age               the paused jobs' wait index ("rtq:age:paused")
--   6 parked_messages   the messages of waiting jobs
-- ARGV
--   1 scope
--   2 now_ms
local released = 0
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
local now = tonumber(ARGV[2])
while true do
  local job_id = redis.call('LPOP', KEYS[2])
  if not job_id then break end
  redis.call('ZREM', KEYS[5], job_id)
  -- Its message is already in parked_messages, kept there while it was paused (unless the
  -- job was cancelled meanwhile).
  if redis.call('HEXISTS', KEYS[6], job_id) == 1 then
    redis.call('ZADD', KEYS[4], now + released, job_id)
    released = released + 1
  end
end
return released
