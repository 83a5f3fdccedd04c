-- Record a job's outcome in one step: what X's answer said of the rate budgets (observe.lua),
-- status record, known state, claim release, and either parking (deferred), holding (the account
-- needs re-authorization) or a dead-letter entry (dead), and the outcome and call counters.
-- KEYS: 1 job, 2 claim, 3 known, 4 parked, 5 parked messages, 6 dlq index, 7 dlq entries,
--       8 outcome counters, 9 call status counters, 10 budget (account, endpoint),
--       11 24-hour budget (account), 12 24-hour budget (app), 13 groups, 14 account meta,
--       15 held (account)
-- ARGV: 1 job_id, 2 state, 3 now (ISO), 4 reason, 5 attempts, 6 charged, 7 history (JSON),
--       8 known ('1', '0' or ''), 9 known ttl (s), 10 due (ms or ''), 11 due (ISO),
--       12 the job's message (to publish when due, or to keep while held), 13 dlq entry id
--       (or ''), 14 dlq entry (JSON), 15 now (ms), 16 job ttl (s), 17 http status (or ''),
--       18 detail, 19 claim token of this delivery (the claim is released only if it is still
--       ours), 20 HTTP status of the call this delivery made ('none' if X never answered; ''
--       if it made no call),
--       21 '1' when X's answer carried rate news (then 22-30 are its header values: limit,
--       remaining, reset (ms) of KEYS 10, 11 and 12, '' when absent), 31 '1' when the answer
--       was a 429, 32 rate window (s), 33 group name (account:endpoint),
--       34 '1' when X refused the account's credentials (the account needs re-authorization),
--       35 '1' to hold the job in the account's held list until it is re-authorized
local job = KEYS[1]
if ARGV[21] == '1' then
  observe_rates({KEYS[10], KEYS[11], KEYS[12], KEYS[13]},
    {ARGV[22], ARGV[23], ARGV[24], ARGV[25], ARGV[26], ARGV[27], ARGV[28], ARGV[29], ARGV[30]},
    ARGV[31] == '1', tonumber(ARGV[32]), tonumber(ARGV[15]), ARGV[33])
end
if ARGV[34] == '1' then
  redis.call('HSET', KEYS[14], 'state', 'needs_reauth')
end
if ARGV[35] == '1' then
  redis.call('RPUSH', KEYS[15], ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[12])
end
redis.call('HINCRBY', KEYS[8], ARGV[2], 1)
if ARGV[20] ~= '' then
  redis.call('HINCRBY', KEYS[9], ARGV[20], 1)
end
redis.call('HSET', job, 'state', ARGV[2], 'updated_at', ARGV[3], 'reason', ARGV[4],
  'attempts', ARGV[5], 'charged', ARGV[6], 'history', ARGV[7],
  'http_status', ARGV[17], 'detail', ARGV[18])
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
  redis.call('HDEL', job, 'deliveries')
else
  redis.call('HDEL', job, 'deliveries', 'due_at', 'due_at_ms')
end
if ARGV[13] ~= '' then
  redis.call('HSET', KEYS[7], ARGV[13], ARGV[14])
  redis.call('ZADD', KEYS[6], ARGV[15], ARGV[13])
end
return 1
