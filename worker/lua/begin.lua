-- Decide, atomically, whether a delivered job may call X. Returns {verdict, ...}:
--   {'done', state}        already terminal (a duplicate delivery): nothing to do
--   {'mismatch', state}    the job id belongs to a different job
--   {'poison', deliveries, attempts, charged, history}  delivered too often without settling
--   {'superseded', job}    a newer intent exists for the pair (settled here)
--   {'busy', holder}       another delivery holds the pair's claim (another job, or another copy
--                          of this one: a duplicate or a dead worker's delivery, until its lease
--                          expires)
--   {'skipped', known}     the known state already equals the desired one (settled here)
--   {'go', attempts, charged, history}  the claim is ours: call X
-- KEYS: 1 job, 2 intent, 3 claim, 4 known, 5 seq
-- ARGV: 1 job_id, 2 action, 3 account_id, 4 tweet_id, 5 now (ISO), 6 lease (ms), 7 job ttl (s),
--       8 max deliveries, 9 worker (host:pid), 10 claim token (unique per delivery)
local job = KEYS[1]
local state = redis.call('HGET', job, 'state')
if not state then
  -- A message no producer of ours wrote (send_task by name): its intent counts from now.
  local seq = redis.call('INCR', KEYS[5])
  redis.call('HSET', KEYS[2], 'seq', seq, 'job', ARGV[1], 'action', ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
  redis.call('HSET', job, 'action', ARGV[2], 'account_id', ARGV[3], 'tweet_id', ARGV[4],
    'state', 'queued', 'attempts', 0, 'charged', 0, 'seq', seq,
    'created_at', ARGV[5], 'updated_at', ARGV[5])
  redis.call('EXPIRE', job, ARGV[7])
  state = 'queued'
elseif redis.call('HGET', job, 'action') ~= ARGV[2]
    or redis.call('HGET', job, 'account_id') ~= ARGV[3]
    or redis.call('HGET', job, 'tweet_id') ~= ARGV[4] then
  return {'mismatch', state}
end
if state == 'succeeded' or state == 'skipped' or state == 'superseded' or state == 'dead' then
  return {'done', state}
end
local latest = redis.call('HGET', KEYS[2], 'job')
if latest and latest ~= ARGV[1] then
  redis.call('HSET', job, 'state', 'superseded', 'reason', 'superseded by job ' .. latest,
    'updated_at', ARGV[5])
  redis.call('HDEL', job, 'deliveries', 'due_at')
  return {'superseded', latest}
end
local holder = redis.call('GET', KEYS[3])
if holder then
  return {'busy', holder}
end
local desired = '0'
if ARGV[2] == 'retweet' then desired = '1' end
local known = redis.call('GET', KEYS[4])
if known == desired then
  local reason = 'not retweeted already'
  if desired == '1' then reason = 'already retweeted' end
  redis.call('HSET', job, 'state', 'skipped', 'reason', reason, 'updated_at', ARGV[5])
  redis.call('HDEL', job, 'deliveries', 'due_at')
  return {'skipped', known}
end
-- Deliveries are counted only here, when a delivery is about to call X: a job waiting behind
-- another for its pair is not a poison message.
local deliveries = redis.call('HINCRBY', job, 'deliveries', 1)
if deliveries > tonumber(ARGV[8]) then
  return {'poison', tostring(deliveries), redis.call('HGET', job, 'attempts') or '0',
    redis.call('HGET', job, 'charged') or '0', redis.call('HGET', job, 'history') or '[]'}
end
redis.call('SET', KEYS[3], ARGV[10], 'PX', ARGV[6])
redis.call('HSET', job, 'state', 'running', 'updated_at', ARGV[5], 'worker', ARGV[9])
redis.call('HDEL', job, 'due_at')
return {'go', redis.call('HGET', job, 'attempts') or '0', redis.call('HGET', job, 'charged') or '0',
  redis.call('HGET', job, 'history') or '[]'}
