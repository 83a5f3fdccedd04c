-- Shared by the scripts that create job records (enqueue, begin for a raw message):
-- worker/domain/scripts/runner.py puts this file in front of them.

-- A job id as rtq makes them (a lowercase version 4 UUID, worker/domain/messages.py).
local UUID = '^' .. string.rep('%x', 8) .. '%-' .. string.rep('%x', 4) .. '%-'
  .. string.rep('%x', 4) .. '%-' .. string.rep('%x', 4) .. '%-' .. string.rep('%x', 12) .. '$'

-- Add a job to its account's index (`rtq:account:{id}:jobs`, a stream), in the order Redis
-- accepted it. An id rtq made is stored as its 16 bytes (field `u`: about 36 bytes an entry,
-- against 55 for the 36 characters), any other id (a raw message's task id) as it is (field
-- `j`); worker/domain/job_index.py reads both. Entries are trimmed as new ones come (MINID ~:
-- whole nodes at a time, so the trim costs next to nothing) once they are twice a record's
-- `ttl` (seconds) old: a record's TTL starts again when its job finishes, and a scheduled job's
-- runs from its due time, so a record may outlive its enqueue by more than one TTL. The
-- stream's ids are Redis's clock and `now_ms` the caller's: the trim is approximate, and
-- readers skip entries whose record has expired.
local function index_job(index, job_id, now_ms, ttl)
  local minid = now_ms - 2000 * tonumber(ttl)
  if string.find(job_id, UUID) and string.lower(job_id) == job_id then
    local hex = string.gsub(job_id, '-', '')
    redis.call('XADD', index, 'MINID', '~', minid, '*', 'u', struct.pack('>I4I4I4I4',
      tonumber(string.sub(hex, 1, 8), 16), tonumber(string.sub(hex, 9, 16), 16),
      tonumber(string.sub(hex, 17, 24), 16), tonumber(string.sub(hex, 25, 32), 16)))
  else
    redis.call('XADD', index, 'MINID', '~', minid, '*', 'j', job_id)
  end
end

-- The index outlives its newest entry by two TTLs (as above), so an idle account's index goes
-- once its records have.
local function index_expire(index, ttl)
  local seconds = 2 * tonumber(ttl)
  if redis.call('TTL', index) < seconds then redis.call('EXPIRE', index, seconds) end
end
