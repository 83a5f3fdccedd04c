-- (with_priority comes from lanes.lua and index_job from index.lua, which
-- worker/domain/scripts/runner.py puts in front of this script.)
-- Enqueue a batch of jobs. Each job is atomic on its own: its intent, status record and Celery
-- message are written together, or nothing of it is (an unknown account or a vanished dead
-- letter writes nothing for that job and is reported in its result; the other jobs go on).
-- One script per batch (not one per job) so that bulk enqueue costs one round trip and one
-- script call per few hundred jobs; values shared by the batch are passed once.
-- A job for an (account, endpoint) that is already waiting for its rate window joins that wait
-- directly instead of the queue, so a saturated account's backlog never stands in the shared
-- queue in front of other accounts' jobs.
-- A job due now goes to the queue's fast lane while its account has fewer than its share of
-- jobs there, else to the overflow lane (worker/domain/lanes.py), so one account's backlog never
-- stands in front of another account's job.
-- KEYS
--   1 accounts          sealed credentials (an account must exist)
--   2 seq               the intent sequence counter
--   3 queue             the queue's fast lane
--   4 parked
--   5 parked_messages
--   6 dlq_index
--   7 dlq_entries
--   8 groups
--   9 overflow_lane     the queue's overflow lane
--  10 deadlines         jobs with a deadline, by it (the mover expires those not started)
-- ARGV (shared by the batch)
--   1 now_iso
--   2 now_ms
--   3 key_prefix        with its colon ("rtq:")
--   4 default_limit
--   5 default_window    seconds
--   6 force             '1' to enqueue even for an account rtq has no credentials for (a
--                       forced replay: the job waits to be dead-lettered again, or for the
--                       account to be added first)
--   7 events_channel    pub/sub channel of Celery's grouped task events (`task.multi`)
--   8 events_head       the kombu message around the events' JSON list ('' for no events)
--   9 events_tail
--  10 lane_share        fast-lane share per account
--  11 lane_count_ttl    seconds
--  12 overflow_priority the overflow lane's kombu priority
-- ARGV (each job, GROUP values in this order, after the shared ones)
--   1 account_id
--   2 tweet_id
--   3 job_id
--   4 action
--   5 message
--   6 job_ttl           seconds
--   7 replaces          dead-letter entry to remove on replay ('' for none)
--   8 due_ms            due time of a scheduled job ('' for now)
--   9 sent_event        its task-sent event (JSON): the accepted jobs' events are published
--                       together at the end, as Celery publishes buffered events
--  10 pair              jobs enqueued together as one request (a retweet and its undo-after)
--                       share one, so they do not cancel each other ('' for a job on its own)
--  11 expires_ms        the job's deadline: not started by then, it ends `expired` ('' for
--                       none)
-- Returns one result per job, in order: its intent sequence number, or the error's name
-- ('unknown_account', 'no_such_entry').
-- The script runs atomically, so what no job of the batch changes is read once per batch
-- (account existence, rate-window budgets, the sequence counter), and messages for the queue
-- are pushed together at the end, in order (the queue stays FIFO in enqueue order).
-- Per-job keys are built here from the prefix (worker/core/keys.py names the same keys).
-- A scheduled job waits in the parking lot and in its pair's scheduled set; it becomes the
-- latest intent only when due (move_due.lua). Any intent enqueued for the pair meanwhile,
-- scheduled or not (but not of the same pair token), cancels it: the latest intent wins.
local GROUP = 11
local accounts, seq_key, queue, parked, parked_msg = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local dlq_index, dlq_entries, groups, overflow = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local deadlines = KEYS[10]
local now_iso, now_ms, now = ARGV[1], ARGV[2], tonumber(ARGV[2])
local prefix = ARGV[3]
local default_limit, default_window = ARGV[4], ARGV[5]
local any_account = ARGV[6] == '1'
local events, events_head, events_tail = ARGV[7], ARGV[8], ARGV[9]
local fast_share, lane_ttl, overflow_priority = tonumber(ARGV[10]), ARGV[11], ARGV[12]
local FIRST_JOB = 13       -- the first job's group starts here
local sent = {}            -- task-sent events of the accepted jobs
local job_prefix = prefix .. 'job:'
local seq = tonumber(redis.call('GET', seq_key) or '0')
local first_seq = seq
local known_accounts = {}  -- account -> true when it has credentials
local budgets = {}         -- budget key -> {remaining, reset}
local waiting_counts = {}  -- waiting key -> its size, kept up to date by this script
local lane_counts = {}     -- an account's fast-lane count key -> its value
local lane_entered = {}    -- the counts that grew -> by how much, added at the end
-- Scheduled jobs wait in the parking lot: while it is empty, no pair has one to cancel (a
-- scheduled set may still name jobs that left it, which cancelling would only forget).
local parked_any = redis.call('EXISTS', parked) == 1
local outgoing = {}        -- list -> messages to LPUSH, in enqueue order
local indexed = {}         -- account job index -> the longest record TTL it got here

-- Where a job due now goes: a list of kombu's (the queue), pushed when the batch ends.
local function push(list, message)
  local messages = outgoing[list]
  if not messages then
    messages = {}
    outgoing[list] = messages
  end
  messages[#messages + 1] = message
end

local function flush()
  for list, messages in pairs(outgoing) do
    -- In slices: Lua's unpack is limited by its C stack.
    for first = 1, #messages, 500 do
      redis.call('LPUSH', list, unpack(messages, first, math.min(first + 499, #messages)))
    end
  end
end

local function has_account(account)
  local known = known_accounts[account]
  if known == nil then
    known = redis.call('HEXISTS', accounts, account) == 1
    known_accounts[account] = known
  end
  return known
end

local function supersede(old_id, by_id)
  local old = job_prefix .. old_id
  if redis.call('EXISTS', old) == 1 then
    redis.call('HSET', old, 'state', 'superseded', 'reason', 'superseded by job ' .. by_id,
      'updated_at', now_iso)
    redis.call('HDEL', old, 'due_at', 'due_at_ms', 'scheduled')
    redis.call('ZREM', deadlines, old_id)
  end
end

local function drop_entry(entry)
  if entry ~= '' then
    redis.call('ZREM', dlq_index, entry)
    redis.call('HDEL', dlq_entries, entry)
  end
end

-- A job due now: the queue, or its (account, endpoint)'s rate-window wait.
local function route(account, action, job_id, job, seq, message)
  local meta = prefix .. 'account:' .. account
  local waiting_key = prefix .. 'waiting:' .. account .. ':' .. action
  local budget_key = prefix .. 'budget:' .. account .. ':' .. action
  local budget = budgets[budget_key]
  if not budget then
    budget = redis.call('HMGET', budget_key, 'remaining', 'reset')
    budgets[budget_key] = budget
  end
  local reset = tonumber(budget[2])
  local spent = reset ~= nil and reset > now and tonumber(budget[1] or '1') <= 0
  local waiting = waiting_counts[waiting_key]
  if waiting == nil then
    waiting = redis.call('ZCARD', waiting_key)
  end
  if spent or waiting > 0 then
    local limit = tonumber(redis.call('HGET', meta, 'rate_limit') or default_limit)
    local window = tonumber(redis.call('HGET', meta, 'rate_window') or default_window) * 1000
    local at = now
    if reset ~= nil and reset > now then at = reset end
    redis.call('ZADD', waiting_key, seq, job_id)
    redis.call('ZADD', prefix .. 'age:rate_window', now_ms, job_id)
    waiting_counts[waiting_key] = waiting + 1
    redis.call('HSET', parked_msg, job_id, message)
    redis.call('ZADD', groups, 'LT', at, account .. ':' .. action)
    -- Out of the FIFO queue already: a raw message for the pair arriving later is newer.
    redis.call('HSET', job, 'state', 'deferred', 'delivered', '1',
      'due_at_ms', at + math.floor(waiting / math.max(limit, 1)) * window)
  else
    waiting_counts[waiting_key] = waiting
    local count_key = prefix .. 'lane:' .. account
    local count = lane_counts[count_key] or tonumber(redis.call('GET', count_key) or '0')
    if count < fast_share then
      push(queue, message)
      lane_counts[count_key] = count + 1
      lane_entered[count_key] = (lane_entered[count_key] or 0) + 1
      -- deliver.lua takes the mark off (once) and gives the place back.
      redis.call('HSET', job, 'lane', '1')
    else
      push(overflow, with_priority(message, overflow_priority))
      lane_counts[count_key] = count
      -- Out of the FIFO fast lane (like a job joining a rate-window wait): a raw message for
      -- the pair leaving the fast lane while this job waits is ordered after it (deliver.lua).
      redis.call('HSET', job, 'delivered', '1')
    end
  end
end

local function enqueue_one(base)
  local account, tweet, job_id, action = ARGV[base], ARGV[base + 1], ARGV[base + 2],
    ARGV[base + 3]
  local message, ttl, entry, due = ARGV[base + 4], ARGV[base + 5], ARGV[base + 6],
    ARGV[base + 7]
  local batch, expires = ARGV[base + 9], ARGV[base + 10]
  -- Checks first: a refused job writes nothing.
  if not any_account and not has_account(account) then
    return 'unknown_account'
  end
  if entry ~= '' and redis.call('HEXISTS', dlq_entries, entry) == 0 then
    return 'no_such_entry'
  end
  seq = seq + 1
  local pair = account .. ':' .. tweet
  local job = job_prefix .. job_id
  local scheduled_key = prefix .. 'scheduled:' .. pair
  -- Scheduled jobs still waiting for their time are cancelled by any later intent.
  local pair_scheduled = parked_any and redis.call('ZRANGE', scheduled_key, 0, -1) or {}
  for _, scheduled in ipairs(pair_scheduled) do
    if batch == '' or redis.call('HGET', job_prefix .. scheduled, 'batch') ~= batch then
      redis.call('ZREM', scheduled_key, scheduled)
      if redis.call('ZREM', parked, scheduled) == 1 then
        redis.call('HDEL', parked_msg, scheduled)
        redis.call('ZREM', prefix .. 'age:scheduled', scheduled)
        supersede(scheduled, job_id)
      end
    end
  end
  -- The record holds only what differs from its readers' defaults while it waits: no
  -- attempts or charged calls yet (0), updated_at = created_at (worker/domain/jobs.py, begin.lua);
  -- the creation time as epoch ms, a third of the ISO text (worker/domain/jobs.py formats it);
  -- no intent seq, which the intent holds (begin.lua reads it there): a record of a job in the
  -- overflow lane then fits the allocator's 128-byte class instead of 160.
  redis.call('HSET', job, 'action', action, 'account_id', account, 'tweet_id', tweet,
    'state', 'queued', 'created_at_ms', now_ms)
  redis.call('EXPIRE', job, ttl)
  local index = prefix .. 'account:' .. account .. ':jobs'
  index_job(index, job_id, now, ttl)
  indexed[index] = math.max(indexed[index] or 0, tonumber(ttl))
  if expires ~= '' then
    -- Only jobs with a deadline pay for it: a record field and one member here.
    redis.call('HSET', job, 'expires_at_ms', expires)
    redis.call('ZADD', deadlines, expires, job_id)
  end
  if due ~= '' then
    redis.call('ZADD', parked, due, job_id)
    redis.call('ZADD', prefix .. 'age:scheduled', due, job_id)
    parked_any = true
    redis.call('HSET', parked_msg, job_id, message)
    redis.call('ZADD', scheduled_key, due, job_id)
    redis.call('EXPIRE', scheduled_key, ttl)
    redis.call('HSET', job, 'state', 'deferred', 'scheduled', '1', 'due_at_ms', due,
      'batch', batch)
    drop_entry(entry)
    return seq
  end
  local intent = prefix .. 'intent:' .. pair
  local previous = redis.call('HMGET', intent, 'job', 'action')
  redis.call('HSET', intent, 'seq', seq, 'job', job_id, 'action', action)
  redis.call('EXPIRE', intent, ttl)
  route(account, action, job_id, job, seq, message)
  -- An older job for this pair waiting in the parking lot or for a rate window can never win
  -- now: settle it here rather than publishing it later only to be superseded.
  local previous_id, previous_action = previous[1], previous[2]
  if previous_id and previous_action and previous_id ~= job_id then
    local previous_waiting = prefix .. 'waiting:' .. account .. ':' .. previous_action
    local waiting_removed = redis.call('ZREM', previous_waiting, previous_id)
    if waiting_removed == 1 and waiting_counts[previous_waiting] then
      waiting_counts[previous_waiting] = waiting_counts[previous_waiting] - 1
    end
    if (redis.call('ZREM', parked, previous_id) + waiting_removed) >= 1 then
      redis.call('HDEL', parked_msg, previous_id)
      redis.call('ZREM', prefix .. 'age:scheduled', previous_id)
      redis.call('ZREM', prefix .. 'age:retry', previous_id)
      redis.call('ZREM', prefix .. 'age:rate_window', previous_id)
      supersede(previous_id, job_id)
    end
  end
  drop_entry(entry)
  return seq
end

local results = {}
for base = FIRST_JOB, #ARGV, GROUP do
  local result = enqueue_one(base)
  results[#results + 1] = result
  if type(result) == 'number' then
    sent[#sent + 1] = ARGV[base + 8]
  end
end
flush()
for count_key, added in pairs(lane_entered) do
  -- INCRBY keeps the count's expiry: it runs from the count's creation, not from the
  -- account's last job, so a drifted count heals even while the account stays busy.
  redis.call('INCRBY', count_key, added)
  if redis.call('TTL', count_key) < 0 then redis.call('EXPIRE', count_key, lane_ttl) end
end
for index, ttl in pairs(indexed) do index_expire(index, ttl) end
if #sent > 0 and events_head ~= '' then
  -- The body is the list's JSON text as a JSON string (cjson escapes it).
  redis.call('PUBLISH', events,
    events_head .. cjson.encode('[' .. table.concat(sent, ',') .. ']') .. events_tail)
end
if seq ~= first_seq then
  redis.call('SET', seq_key, seq)
end
return results
