-- Shared by the scripts that create job records (enqueue, begin for a raw message):
-- worker/domain/scripts/runner.py puts this file in front of them.

-- Add a job to its account's index (`rtq:account:{id}:jobs`, a stream: about 50 bytes a job,
-- a third of a sorted set's), in the order Redis accepted it. Entries are trimmed as new ones
-- come (MINID ~: whole nodes at a time, so the trim costs next to nothing) once they are twice
-- a record's `ttl` (seconds) old: a record's TTL starts again when its job finishes, and a
-- scheduled job's runs from its due time, so a record may outlive its enqueue by more than one
-- TTL. The stream's ids are Redis's clock and `now_ms` the caller's: the trim is approximate,
-- and readers skip entries whose record has expired.
local function index_job(index, job_id, now_ms, ttl)
  redis.call('XADD', index, 'MINID', '~', now_ms - 2000 * tonumber(ttl), '*', 'j', job_id)
end

-- The index outlives its newest entry by two TTLs (as above), so an idle account's index goes
-- once its records have.
local function index_expire(index, ttl)
  local seconds = 2 * tonumber(ttl)
  if redis.call('TTL', index) < seconds then redis.call('EXPIRE', index, seconds) end
end
