-- An operator resumes paused work: the pause of one scope ends, and the jobs it held go to the
-- parking lot due now, one ms apart, in intent order (the time each was enqueued, which its
-- entry in the paused wait index keeps), so the mover publishes them as it publishes any job
-- coming due: each account's share of the fast lane first, the rest in the overflow lane
-- (worker/domain/lanes.py), and begin.lua then holds each to its rate budget. A job cancelled
-- or expired while paused has left its message behind and is skipped.
-- One call takes at most `batch_limit` jobs off the list, so a huge pause never holds Redis
-- for long; the caller calls again until none are left (`first` only on the first call, which
-- ends the pause). Each batch is sorted: the list is in the order workers met the jobs, which
-- the fair lanes may have reordered a little against their intents. Should the scope be paused
-- again between two calls, the jobs left wait for that pause's resume.
-- Returns {jobs let go by this call, jobs still in the list}; {-1, left} when paused again.
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
--   3 batch_limit       jobs taken off the list per call
--   4 first             '1' on the first call of a resume: the pause ends
--   5 released_before   jobs earlier calls of this resume let go (their due times come first)
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[3], ARGV[1])
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  return {-1, redis.call('LLEN', KEYS[2])}
end
local due = tonumber(ARGV[2]) + tonumber(ARGV[5])
local going = {}
for taken = 1, tonumber(ARGV[3]) do
  local job_id = redis.call('LPOP', KEYS[2])
  if not job_id then break end
  local since = tonumber(redis.call('ZSCORE', KEYS[5], job_id))
  redis.call('ZREM', KEYS[5], job_id)
  -- Its message is already in parked_messages, kept there while it was paused (unless the
  -- job was cancelled or expired meanwhile).
  if redis.call('HEXISTS', KEYS[6], job_id) == 1 then
    going[#going + 1] = {since or math.huge, taken, job_id}
  end
end
table.sort(going, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
for i, job in ipairs(going) do
  redis.call('ZADD', KEYS[4], due + i - 1, job[3])
end
return {#going, redis.call('LLEN', KEYS[2])}
