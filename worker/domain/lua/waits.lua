-- Shared by the scripts that end a job while it waits (cancel, expire):
-- worker/domain/scripts/runner.py puts this file in front of them.

-- The wait indexes (`rtq:age:{place}`, ops/latency.py), one per place a job waits.
local AGE_PLACES = {'retry', 'scheduled', 'rate_window', 'held_account', 'held_app', 'paused'}

-- Take a waiting job out of every place that is keyed by its id: its rate window's waiting set,
-- the parking lot and its message, its pair's scheduled set, the wait indexes. (A list it is in,
-- a held or paused one, keeps it: with its message gone, the list's release skips it.)
-- Returns whether it was waiting for its rate window, and whether it was in the parking lot.
local function leave_waits(prefix, parked, parked_messages, job_id, account, tweet, action)
  local in_window = false
  if account and action then
    in_window = redis.call('ZREM', prefix .. 'waiting:' .. account .. ':' .. action, job_id) == 1
  end
  local in_lot = redis.call('ZREM', parked, job_id) == 1
  redis.call('HDEL', parked_messages, job_id)
  if account and tweet then
    redis.call('ZREM', prefix .. 'scheduled:' .. account .. ':' .. tweet, job_id)
  end
  for _, place in ipairs(AGE_PLACES) do
    redis.call('ZREM', prefix .. 'age:' .. place, job_id)
  end
  return in_window, in_lot
end

