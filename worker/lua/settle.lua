-- Record a job's outcome in one step: status record, known state, claim release, and either
-- parking (deferred) or a dead-letter entry (dead), and the outcome and call counters.
-- KEYS: 1 job, 2 claim, 3 known, 4 parked, 5 parked messages, 6 dlq index, 7 dlq entries,
--       8 outcome counters, 9 call status counters
-- ARGV: 1 job_id, 2 state, 3 now (ISO), 4 reason, 5 attempts, 6 charged, 7 history (JSON),
--       8 known ('1', '0' or ''), 9 known ttl (s), 10 due (ms or ''), 11 due (ISO),
--       12 message to publish when due, 13 dlq entry id (or ''), 14 dlq entry (JSON),
--       15 failed_at (ms), 16 job ttl (s), 17 http status (or ''), 18 detail,
--       19 claim token of this delivery (the claim is released only if it is still ours),
--       20 HTTP status of the call this delivery made ('none' if X never answered; '' if it
--          made no call)
local job = KEYS[1]
redis.call('HINCRBY', KEYS[8], ARGV[2], 1)
if ARGV[20] ~= '' then
  redis.call('HINCRBY', KEYS[9], ARGV[20], 1)
end
redis.call('HSET', job, 'state', ARGV[2], 'updated_at', ARGV[3], 'reason', ARGV[4],
  'attempts', ARGV[5], 'charged', ARGV[6], 'history', ARGV[7],
  'http_status', ARGV[17], 'detail', ARGV[18])
redis.call('HDEL', job, 'deliveries')
redis.call('EXPIRE', job, ARGV[16])
if ARGV[8] ~= '' then
  redis.call('SET', KEYS[3], ARGV[8], 'EX', ARGV[9])
end
if redis.call('GET', KEYS[2]) == ARGV[19] then
  redis.call('DEL', KEYS[2])
end
if ARGV[10] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[10], ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[12])
  redis.call('HSET', job, 'due_at', ARGV[11])
else
  redis.call('HDEL', job, 'due_at', 'due_at_ms')
end
if ARGV[13] ~= '' then
  redis.call('HSET', KEYS[7], ARGV[13], ARGV[14])
  redis.call('ZADD', KEYS[6], ARGV[15], ARGV[13])
end
return 1
