-- Record a job's outcome in one step: what X's answer said of the rate budgets (observe.lua),
-- status record, known state, claim release, and either parking (deferred), holding (the
-- account or its app is held) or a dead-letter entry (dead), the outcome and call counters,
-- and the circuit breaker's count of calls to X.
-- Returns the transitions this call made, each once however many jobs settle alike:
-- 'app_held', 'account_held', 'breaker_opened', 'breaker_closed' (a list, usually empty).
-- KEYS
--   1 job
--   2 claim
--   3 known
--   4 parked
--   5 parked_messages
--   6 dlq_index
--   7 dlq_entries
--   8 outcomes            outcome counters
--   9 call_statuses       call status counters
--  10 budget              (account, endpoint)
--  11 day_budget          24-hour budget (account)
--  12 app_day_budget      24-hour budget (app)
--  13 groups
--  14 account_meta
--  15 held                the account's held list
--  16 app_holds           held apps by the end of their hold
--  17 breaker             the circuit breaker (absent: closed)
--  18 breaker_window      this window's call counts
--  19 breaker_previous    the window before's
--  20 minute_outcomes     this minute's outcome counts (tally.lua)
--  21 latency             enqueue-to-outcome histogram (tally.lua)
--  22 deadlines           jobs with a deadline (a finished job leaves it)
-- ARGV
--   1 job_id
--   2 state
--   3 now_iso
--   4 reason
--   5 attempts
--   6 charged
--   7 history             JSON
--   8 known_state         '1', '0' or ''
--   9 known_ttl           seconds
--  10 due_ms              or ''
--  11 due_iso
--  12 message             the job's message (to publish when due, or to keep while held)
--  13 dlq_entry_id        or ''
--  14 dlq_entry           JSON
--  15 now_ms
--  16 job_ttl             seconds
--  17 http_status         or ''
--  18 detail
--  19 claim_token         of this delivery (the claim is released only if it is still ours)
--  20 call_status         HTTP status of the call this delivery made ('none' if X never
--                         answered; '' if it made no call)
--  21 rate_observed       '1' when X's answer carried rate news (then 22-30 are its header
--                         values, '' when absent)
--  22 limit               of KEYS 10
--  23 remaining
--  24 reset_ms
--  25 user_day_limit      of KEYS 11
--  26 user_day_remaining
--  27 user_day_reset_ms
--  28 app_day_limit       of KEYS 12
--  29 app_day_remaining
--  30 app_day_reset_ms
--  31 rate_limited        '1' when the answer was a 429
--  32 rate_window         seconds
--  33 group               account:endpoint
--  34 credentials_refused '1' when X refused the account's credentials (needs re-authorization)
--  35 hold                '1' to hold the job in the account's held list until released
--  36 hold_app            the app to hold (X refused it as a whole), or ''
--  37 hold_reason         why: credits_depleted, usage_capped or app_forbidden
--  38 hold_until_ms       when the app's hold ends by itself ('' until an operator releases it)
--  39 app_key_prefix      ("rtq:app:")
--  40 account_state       'locked' or 'suspended' to hold the account (with 35), or ''
--  41 breaker_outcome     'ok' (X answered), 'fail' (5xx or no answer), '' (no call counted)
--  42 breaker_threshold   fraction of failed calls that opens the breaker
--  43 breaker_min_calls   in this window and the one before
--  44 breaker_window_ms
--  45 breaker_cooldown_ms
--  46 age_prefix          ("rtq:age:"): since when each waiting job waits, by where
local job = KEYS[1]
-- Since when a job that waits from here on has waited (its enqueue time; now for a raw one).
local function waits(where)
  local since = tonumber(redis.call('HGET', job, 'created_at_ms')) or tonumber(ARGV[15])
  redis.call('ZADD', ARGV[46] .. where, since, ARGV[1])
end
if ARGV[21] == '1' then
  observe_rates({KEYS[10], KEYS[11], KEYS[12], KEYS[13]},
    {ARGV[22], ARGV[23], ARGV[24], ARGV[25], ARGV[26], ARGV[27], ARGV[28], ARGV[29], ARGV[30]},
    ARGV[31] == '1', tonumber(ARGV[32]), tonumber(ARGV[15]), ARGV[33])
end
if ARGV[34] == '1' then
  redis.call('HSET', KEYS[14], 'state', 'needs_reauth')
end
if ARGV[35] == '1' then
  waits('held_account')
  redis.call('RPUSH', KEYS[15], ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[12])
end
tally(KEYS[8], KEYS[20], ARGV[2])
if ARGV[2] == 'succeeded' or ARGV[2] == 'dead' then
  tally_latency(KEYS[21], ARGV[2], tonumber(redis.call('HGET', job, 'created_at_ms')),
    tonumber(ARGV[15]))
  redis.call('ZREM', KEYS[22], ARGV[1])
end
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
  waits('retry')
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
local events = {}
if ARGV[36] ~= '' then
  -- The app's first job to meet the condition holds the app; every job joins its list.
  local app = ARGV[39] .. ARGV[36]
  if redis.call('HGET', app, 'state') ~= 'held' then
    redis.call('HSET', app, 'state', 'held', 'reason', ARGV[37], 'detail', ARGV[18],
      'since', ARGV[3], 'http_status', ARGV[17])
    if ARGV[38] ~= '' then redis.call('HSET', app, 'until_ms', ARGV[38]) end
    redis.call('ZADD', KEYS[16], ARGV[38] ~= '' and ARGV[38] or '+inf', ARGV[36])
    events[#events + 1] = 'app_held'
  end
  redis.call('RPUSH', app .. ':held', ARGV[1])
  waits('held_app')
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[12])
end
if ARGV[40] ~= '' and redis.call('HGET', KEYS[14], 'state') ~= ARGV[40] then
  redis.call('HSET', KEYS[14], 'state', ARGV[40], 'held_detail', ARGV[18], 'held_since', ARGV[3])
  events[#events + 1] = 'account_held'
end
if ARGV[41] ~= '' then
  local now, failed = tonumber(ARGV[15]), ARGV[41] == 'fail'
  local state = redis.call('HGET', KEYS[17], 'state')
  if state == 'half_open' then
    -- A probe's answer decides.
    if failed then
      redis.call('HSET', KEYS[17], 'state', 'open', 'until_ms', now + tonumber(ARGV[45]),
        'probes', 0, 'opened_at', ARGV[3])
    else
      redis.call('DEL', KEYS[17])
      events[#events + 1] = 'breaker_closed'
    end
  elseif state ~= 'open' then
    local calls = redis.call('HINCRBY', KEYS[18], 'calls', 1)
    if calls == 1 then redis.call('PEXPIRE', KEYS[18], 2 * tonumber(ARGV[44]) + 1000) end
    if failed then
      local failures = redis.call('HINCRBY', KEYS[18], 'failures', 1)
      local before = redis.call('HMGET', KEYS[19], 'calls', 'failures')
      local total = calls + (tonumber(before[1]) or 0)
      local bad = failures + (tonumber(before[2]) or 0)
      if total >= tonumber(ARGV[43]) and bad >= tonumber(ARGV[42]) * total then
        redis.call('HSET', KEYS[17], 'state', 'open', 'until_ms', now + tonumber(ARGV[45]),
          'probes', 0, 'opened_at', ARGV[3], 'calls', total, 'failures', bad)
        events[#events + 1] = 'breaker_opened'
      end
    end
  end
end
return events
