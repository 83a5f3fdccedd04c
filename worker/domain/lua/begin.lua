-- (tally and tally_latency come from tally.lua, index_job and index_expire from index.lua, which
-- worker/domain/scripts/runner.py puts in front of this script.)
-- Decide, atomically, whether a delivered job may call X. Returns {verdict, ...}:
--   {'done', state}        already terminal (a duplicate delivery): nothing to do
--   {'mismatch', state}    the job id belongs to a different job
--   {'poison', deliveries, attempts, charged, history}  delivered too often without settling
--   {'superseded', job}    a newer intent exists for the pair (settled here)
--   {'expired', deadline}  its deadline (ms) passed before it could start (settled here)
--   {'busy', holder}       another delivery holds the pair's claim (another job, or another copy
--                          of this one: a duplicate or a dead worker's delivery, until its lease
--                          expires): the job is parked here for half a second to a second
--   {'skipped', known}     the known state already equals the desired one (settled here)
--   {'held', state}        the account is held (needs_reauth, locked, suspended): the job
--                          waits in the account's held list for new credentials (`rtq accounts
--                          add`) or a release (`rtq accounts release`)
--   {'app_held', app, why} the account's app is held by X (credits depleted, usage cap, app
--                          permissions): the job waits in the app's held list for a release
--                          (`rtq apps release`, or the end of a usage cap's period)
--   {'paused', scope}      an operator paused this work (rtq pause: everything, the account or
--                          the tweet): the job waits in that scope's paused list until `rtq
--                          resume`
--   {'breaker', due_ms}    calls to X are paused (circuit breaker open, or its probes are out):
--                          the job is parked until then, spending no attempt
--   {'wait', due_ms}       no rate budget for (account, endpoint) now: the job waits in that
--                          group's list until the mover releases it (parked here)
--   {'go', attempts, charged, history, sealed}  the claim is ours: call X with the account's
--                          credentials, still encrypted as stored ('' if none are stored)
-- KEYS
--   1 job              the job's status record
--   2 intent           the pair's latest intent
--   3 claim            the pair's claim (a delivery's token, with a lease)
--   4 known            the pair's known retweeted state
--   5 seq              the intent sequence counter
--   6 account_meta     the account's meta hash (state, rate limit, app)
--   7 budget           the (account, endpoint) rate budget
--   8 day_budget       the account's 24-hour budget
--   9 app_day_budget   the default app's 24-hour budget
--  10 waiting          the (account, endpoint) jobs waiting for the window
--  11 groups           groups waiting for a window, by due time
--  12 parked_messages  parked jobs' messages
--  13 held             the account's held jobs
--  14 accounts         sealed credentials
--  15 outcomes         outcome counters (a verdict settled or deferred here is counted here)
--  16 breaker          the circuit breaker for calls to X (absent: closed)
--  17 parked           the due-time store (a job the breaker or a busy pair holds back is
--                      parked there)
--  18 minute_outcomes   this minute's outcome counts (tally.lua)
--  19 latency           enqueue-to-outcome histogram (tally.lua)
--  20 account_jobs      the account's job index (a raw message joins it here)
--  21 deadlines         jobs with a deadline (a job settled here leaves it)
-- ARGV
--   1 job_id
--   2 action
--   3 account_id
--   4 tweet_id
--   5 now_iso
--   6 lease_ms          the claim's lease
--   7 job_ttl           seconds
--   8 max_deliveries
--   9 worker            host:pid
--  10 claim_token       unique per delivery
--  11 now_ms
--  12 default_limit     calls per window when X has said nothing yet
--  13 default_window    seconds
--  14 message           this job's message (kept while it waits)
--  15 group             account:endpoint
--  16 app_budget_prefix ("rtq:budget:app:")
--  17 default_app       the app of accounts without their own (RTQ_CONSUMER_KEY's id)
--  18 app_key_prefix    ("rtq:app:"): an app's hold, and its held list at ":held"
--  19 breaker_enabled   '1' (RTQ_BREAKER=on)
--  20 breaker_probes    calls let through while half-open
--  21 breaker_cooldown_ms
--  22 jitter_ms         spread for jobs the breaker or a busy pair parks (0-1000, per delivery)
--  23 age_prefix        ("rtq:age:"): since when each waiting job waits, by where
--  24 pause_prefix      ("rtq:pause:"): an operator's pause of all, account:{id}, tweet:{id}
--  25 paused_prefix     ("rtq:paused:"): the jobs each pause holds, in the order they came
-- KEYS[9] is the 24-hour budget of the default app (RTQ_CONSUMER_KEY); an account with its own
-- app keys has that app's id in its meta hash, and its budget key is built from it.
local job = KEYS[1]
-- One read of the record: every redis.call costs Redis more than the field it returns.
local record = redis.call('HMGET', job, 'state', 'action', 'account_id', 'tweet_id', 'seq',
  'attempts', 'charged', 'history', 'deliveries', 'due_at', 'created_at_ms', 'cancel',
  'expires_at_ms')
local function count(outcome)
  tally(KEYS[15], KEYS[18], outcome)
  if outcome == 'skipped' or outcome == 'superseded' or outcome == 'cancelled'
      or outcome == 'expired' then
    tally_latency(KEYS[19], outcome, tonumber(record[11]), tonumber(ARGV[11]))
    if record[13] then redis.call('ZREM', KEYS[21], ARGV[1]) end
  end
end
local state, seq = record[1], record[5]
if not state then
  -- A message no producer of ours wrote (send_task by name): its intent counts from now.
  seq = redis.call('INCR', KEYS[5])
  redis.call('HSET', KEYS[2], 'seq', seq, 'job', ARGV[1], 'action', ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
  redis.call('HSET', job, 'action', ARGV[2], 'account_id', ARGV[3], 'tweet_id', ARGV[4],
    'state', 'queued', 'attempts', 0, 'charged', 0, 'seq', seq,
    'created_at', ARGV[5], 'updated_at', ARGV[5])
  redis.call('EXPIRE', job, ARGV[7])
  index_job(KEYS[20], ARGV[1], tonumber(ARGV[11]), ARGV[7])
  index_expire(KEYS[20], ARGV[7])
  state = 'queued'
elseif record[2] ~= ARGV[2] or record[3] ~= ARGV[3] or record[4] ~= ARGV[4] then
  return {'mismatch', state}
end
if state == 'succeeded' or state == 'skipped' or state == 'superseded' or state == 'dead'
    or state == 'cancelled' or state == 'expired' then
  return {'done', state}
end
if record[12] then
  -- An operator cancelled it while it ran (cancel.lua): that call finished, no other goes.
  redis.call('HSET', job, 'state', 'cancelled', 'reason', record[12], 'updated_at', ARGV[5])
  redis.call('HDEL', job, 'deliveries', 'due_at', 'due_at_ms', 'detail')
  count('cancelled')
  return {'done', 'cancelled'}
end
-- Its deadline passed before it could start (expires_at, max_delay, RTQ_JOB_MAX_DELAY, or a raw
-- message's `expires`): it ends here, without a call, wherever it waited before. A job found
-- `running` did start in time (this is its redelivery, or this delivery's own retry).
local deadline = tonumber(record[13])
if deadline and state ~= 'running' and tonumber(ARGV[11]) >= deadline then
  redis.call('HSET', job, 'state', 'expired', 'reason', 'not started by its deadline',
    'updated_at', ARGV[5])
  redis.call('HDEL', job, 'deliveries', 'due_at', 'due_at_ms', 'detail')
  redis.call('EXPIRE', job, ARGV[7])
  count('expired')
  return {'expired', tostring(deadline)}
end
local intent = redis.call('HMGET', KEYS[2], 'job', 'seq')
local latest = intent[1]
if latest and latest ~= ARGV[1] then
  redis.call('HSET', job, 'state', 'superseded', 'reason', 'superseded by job ' .. latest,
    'updated_at', ARGV[5])
  redis.call('HDEL', job, 'deliveries', 'due_at')
  count('superseded')
  return {'superseded', latest}
end
-- The job is its pair's latest intent: its place in the intent order is the intent's (a record
-- enqueue.lua writes keeps no copy of it).
if latest then seq = intent[2] or seq end
local pair = redis.call('MGET', KEYS[3], KEYS[4])
local holder, known = pair[1], pair[2]
local attempts, charged, history = record[6] or '0', record[7] or '0', record[8] or '[]'
-- The account's credentials come with the claim (still encrypted: only the worker holds the
-- key), so the call needs no round trip of its own to fetch them.
local function go()
  return {'go', attempts, charged, history, redis.call('HGET', KEYS[14], ARGV[3]) or ''}
end
if holder and holder == ARGV[10] then
  -- This delivery's own claim: the worker retried a call whose reply it lost. Go on as the
  -- first run said (nothing is spent twice).
  return go()
end
if holder then
  -- Parked here rather than by the worker afterwards, so that nothing (a cancel) can come
  -- between this verdict and the parking: back in half a second to a second.
  local due = tonumber(ARGV[11]) + 500 + math.floor(tonumber(ARGV[22]) / 2)
  redis.call('ZADD', KEYS[17], due, ARGV[1])
  redis.call('ZADD', ARGV[23] .. 'retry', 'NX', ARGV[11], ARGV[1])
  redis.call('HSET', KEYS[12], ARGV[1], ARGV[14])
  redis.call('HSET', job, 'state', 'deferred', 'updated_at', ARGV[5], 'due_at_ms', due)
  redis.call('HDEL', job, 'due_at')
  count('deferred')
  return {'busy', holder}
end
local desired = '0'
if ARGV[2] == 'retweet' then desired = '1' end
if known == desired then
  local reason = 'not retweeted already'
  if desired == '1' then reason = 'already retweeted' end
  redis.call('HSET', job, 'state', 'skipped', 'reason', reason, 'updated_at', ARGV[5])
  redis.call('HDEL', job, 'deliveries', 'due_at')
  count('skipped')
  return {'skipped', known}
end
local meta = redis.call('HMGET', KEYS[6], 'state', 'rate_limit', 'rate_window', 'app')
local now = tonumber(ARGV[11])
-- A held job waits in a list (its message kept) until a release publishes it again.
local since = tonumber(record[11]) or tonumber(ARGV[11])
local function hold_in(list, detail, where)
  redis.call('RPUSH', list, ARGV[1])
  redis.call('ZADD', ARGV[23] .. where, since, ARGV[1])
  redis.call('HSET', KEYS[12], ARGV[1], ARGV[14])
  redis.call('HSET', job, 'state', 'deferred', 'updated_at', ARGV[5], 'detail', detail)
  redis.call('HDEL', job, 'deliveries', 'due_at')
  count('deferred')
end
local held_why = {
  needs_reauth = 'held: the account needs re-authorization (rtq accounts add)',
  locked = 'held: the account is locked on X (rtq accounts release ' .. ARGV[3]
    .. ' once its owner has unlocked it)',
  suspended = 'held: the account is suspended on X (rtq accounts release ' .. ARGV[3]
    .. ' once X has reinstated it)',
}
if meta[1] and held_why[meta[1]] then
  hold_in(KEYS[13], held_why[meta[1]], 'held_account')
  return {'held', meta[1]}
end
-- The app the account calls X as: its own, or the deployment's.
local app = meta[4]
if not app or app == 'default' then app = ARGV[17] end
local app_hold = redis.call('HMGET', ARGV[18] .. app, 'state', 'until_ms', 'reason')
if app_hold[1] == 'held' and not (tonumber(app_hold[2]) and now >= tonumber(app_hold[2])) then
  hold_in(ARGV[18] .. app .. ':held', 'held: app ' .. app .. ' ' .. (app_hold[3] or 'held')
    .. ' (rtq apps release ' .. app .. ')', 'held_app')
  return {'app_held', app, app_hold[3] or 'held'}
end
-- Paused by an operator: everything, this account, or this tweet (across accounts).
local scopes = {'all', 'account:' .. ARGV[3], 'tweet:' .. ARGV[4]}
local pauses = redis.call('MGET', ARGV[24] .. scopes[1], ARGV[24] .. scopes[2],
  ARGV[24] .. scopes[3])
for i = 1, 3 do
  if pauses[i] then
    hold_in(ARGV[25] .. scopes[i], 'paused: ' .. scopes[i] .. ' (rtq resume)', 'paused')
    return {'paused', scopes[i]}
  end
end
-- Rate budgets: the (account, endpoint) window, and the 24-hour ones when X has announced them.
local configured = tonumber(meta[2] or ARGV[12])
local window = tonumber(meta[3] or ARGV[13])
local function available(key, default_limit, default_window_ms)
  local b = redis.call('HMGET', key, 'limit', 'remaining', 'reset')
  local limit = tonumber(b[1]) or default_limit
  local remaining, reset = tonumber(b[2]), tonumber(b[3])
  if limit == nil then return nil, nil, nil end
  if remaining == nil or reset == nil or now >= reset then
    -- A new window opens with this call (X's windows start at the first request).
    return limit, limit, now + default_window_ms
  end
  return remaining, limit, reset
end
local remaining, limit, reset = available(KEYS[7], configured, window * 1000)
local wait_until = nil
if remaining <= 0 then wait_until = reset end
local app_key = KEYS[9]
local own_app = meta[4]
if own_app and own_app ~= 'default' then app_key = ARGV[16] .. own_app .. ':day' end
-- A 24-hour budget exists only once X has announced it (no limit: nothing to hold to).
local day = {}
for i, key in ipairs({KEYS[8], app_key}) do
  local left, day_limit, day_reset = available(key, nil, 86400000)
  day[i] = {left, day_limit, day_reset}
  if left ~= nil and left <= 0 and (wait_until == nil or day_reset > wait_until) then
    wait_until = day_reset
  end
end
if wait_until ~= nil then
  redis.call('ZADD', KEYS[10], tonumber(seq or '0'), ARGV[1])
  redis.call('ZADD', ARGV[23] .. 'rate_window', since, ARGV[1])
  redis.call('HSET', KEYS[12], ARGV[1], ARGV[14])
  redis.call('ZADD', KEYS[11], 'LT', wait_until, ARGV[15])
  -- Its turn comes after the jobs ahead of it: one window per `limit` of them.
  local ahead = redis.call('ZRANK', KEYS[10], ARGV[1]) or 0
  local due = wait_until + math.floor(ahead / math.max(limit, 1)) * window * 1000
  redis.call('HSET', job, 'state', 'deferred', 'updated_at', ARGV[5], 'due_at_ms', due)
  redis.call('HDEL', job, 'deliveries', 'due_at')
  count('deferred')
  return {'wait', tostring(due)}
end
-- The circuit breaker: while it is open nobody calls X; after the cool-down a few probes go
-- (half-open) and their outcome, in settle.lua, closes or reopens it.
if ARGV[19] == '1' then
  local breaker = redis.call('HMGET', KEYS[16], 'state', 'until_ms', 'probes')
  local function pause(due, detail)
    redis.call('ZADD', KEYS[17], due, ARGV[1])
    redis.call('ZADD', ARGV[23] .. 'retry', since, ARGV[1])
    redis.call('HSET', KEYS[12], ARGV[1], ARGV[14])
    redis.call('HSET', job, 'state', 'deferred', 'updated_at', ARGV[5], 'due_at_ms', due,
      'detail', detail)
    redis.call('HDEL', job, 'deliveries', 'due_at')
    count('deferred')
    return {'breaker', tostring(due)}
  end
  local jitter, cooldown = tonumber(ARGV[22]), tonumber(ARGV[21])
  if breaker[1] == 'open' then
    if now < tonumber(breaker[2]) then
      return pause(tonumber(breaker[2]) + jitter, 'waiting: calls to X are paused (breaker open)')
    end
    redis.call('HSET', KEYS[16], 'state', 'half_open', 'probes', 0, 'until_ms', now + cooldown)
    breaker = {'half_open', tostring(now + cooldown), '0'}
  end
  if breaker[1] == 'half_open' then
    if tonumber(breaker[3]) >= tonumber(ARGV[20]) then
      if now < tonumber(breaker[2]) then
        return pause(now + 1000 + jitter, 'waiting: X is being probed (breaker half-open)')
      end
      -- The probes never settled (their workers died): let new ones go.
      redis.call('HSET', KEYS[16], 'probes', 0, 'until_ms', now + cooldown)
    end
    redis.call('HINCRBY', KEYS[16], 'probes', 1)
  end
end
-- Deliveries are counted only here, when a delivery is about to call X: a job waiting behind
-- another for its pair, or for a rate window, is not a poison message.
local deliveries = (tonumber(record[9]) or 0) + 1
if deliveries > tonumber(ARGV[8]) then
  redis.call('HSET', job, 'deliveries', deliveries)
  return {'poison', tostring(deliveries), attempts, charged, history}
end
-- Spend one call from every budget that applies.
local function spend(key, left, budget_limit, budget_reset, ttl_ms)
  redis.call('HSET', key, 'limit', budget_limit, 'remaining', left - 1, 'reset', budget_reset)
  redis.call('PEXPIREAT', key, budget_reset + ttl_ms)
end
spend(KEYS[7], remaining, limit, reset, window * 1000)
for i, key in ipairs({KEYS[8], app_key}) do
  if day[i][1] ~= nil then spend(key, day[i][1], day[i][2], day[i][3], 0) end
end
redis.call('SET', KEYS[3], ARGV[10], 'PX', ARGV[6])
redis.call('HSET', job, 'state', 'running', 'updated_at', ARGV[5], 'worker', ARGV[9],
  'deliveries', deliveries)
if record[10] then redis.call('HDEL', job, 'due_at') end
return go()
