-- Enqueue one job atomically: the intent, the status record and the Celery message are written
-- together, or nothing is (an unknown account or a vanished dead letter writes nothing).
-- KEYS: 1 accounts, 2 seq, 3 intent, 4 job, 5 queue, 6 parked, 7 parked messages,
--       8 dlq index, 9 dlq entries
-- ARGV: 1 account_id, 2 tweet_id, 3 job_id, 4 action, 5 now (ISO), 6 message, 7 job ttl (s),
--       8 job key prefix, 9 dead-letter entry to remove on replay ('' for none)
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return redis.error_reply('unknown_account')
end
if ARGV[9] ~= '' and redis.call('HEXISTS', KEYS[9], ARGV[9]) == 0 then
  return redis.error_reply('no_such_entry')
end
local seq = redis.call('INCR', KEYS[2])
local previous = redis.call('HGET', KEYS[3], 'job')
redis.call('HSET', KEYS[3], 'seq', seq, 'job', ARGV[3], 'action', ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[7])
redis.call('HSET', KEYS[4], 'action', ARGV[4], 'account_id', ARGV[1], 'tweet_id', ARGV[2],
  'state', 'queued', 'attempts', 0, 'charged', 0, 'seq', seq,
  'created_at', ARGV[5], 'updated_at', ARGV[5])
redis.call('EXPIRE', KEYS[4], ARGV[7])
redis.call('LPUSH', KEYS[5], ARGV[6])
-- An older job for this pair waiting in the parking lot can never win now: settle it here
-- rather than re-publishing it later only to be superseded.
if previous and previous ~= ARGV[3] and redis.call('ZREM', KEYS[6], previous) == 1 then
  redis.call('HDEL', KEYS[7], previous)
  local old = ARGV[8] .. previous
  if redis.call('EXISTS', old) == 1 then
    redis.call('HSET', old, 'state', 'superseded', 'reason', 'superseded by job ' .. ARGV[3],
      'updated_at', ARGV[5])
    redis.call('HDEL', old, 'due_at')
  end
end
if ARGV[9] ~= '' then
  redis.call('ZREM', KEYS[8], ARGV[9])
  redis.call('HDEL', KEYS[9], ARGV[9])
end
return seq
