-- Learn rate budgets from X's answer headers. X is the authority; a later window replaces ours.
-- Within a window, what is left is X's limit minus the larger of what we have spent (calls of
-- ours may still be in flight, unseen by this answer) and what X has counted (others may have
-- spent some too): a limit higher than we assumed raises it, a lower one cuts it.
-- When jobs wait for this (account, endpoint), their release is re-timed to what X says.
-- KEYS: 1 budget (account, endpoint), 2 24-hour budget (account), 3 24-hour budget (app),
--       4 groups
-- ARGV: 1 limit, 2 remaining, 3 reset (ms)  for KEYS[1]   ('' when X sent no header)
--       4 limit, 5 remaining, 6 reset (ms)  for KEYS[2]
--       7 limit, 8 remaining, 9 reset (ms)  for KEYS[3]
--       10 '1' when the answer was a 429 (nothing is left until the reset)
--       11 window (s), 12 now (ms), 13 group name (account:endpoint)
local SAME_WINDOW_MS = 2000
local function observe(key, limit, remaining, reset, exhausted)
  if reset == '' then return end
  reset = tonumber(reset)
  local current = redis.call('HMGET', key, 'remaining', 'reset', 'limit')
  local left = tonumber(remaining)
  if exhausted then left = 0 end
  local known_left, known_reset = tonumber(current[1]), tonumber(current[2])
  local known_limit = tonumber(current[3])
  local new_limit = tonumber(limit) or known_limit
  if new_limit ~= nil then redis.call('HSET', key, 'limit', new_limit) end
  if left ~= nil then
    if known_reset ~= nil and reset <= known_reset + SAME_WINDOW_MS and known_left ~= nil
        and known_limit ~= nil and new_limit ~= nil then
      local ours = new_limit - (known_limit - known_left)
      if ours < left then left = ours end
    end
    redis.call('HSET', key, 'remaining', left)
  end
  redis.call('HSET', key, 'reset', reset)
  redis.call('PEXPIREAT', key, reset + tonumber(ARGV[11]) * 1000)
end
local exhausted = ARGV[10] == '1'
if exhausted and ARGV[3] == '' then
  -- A 429 without headers: nothing left for one window.
  ARGV[3] = tostring(tonumber(ARGV[12]) + tonumber(ARGV[11]) * 1000)
end
observe(KEYS[1], ARGV[1], ARGV[2], ARGV[3], exhausted and (ARGV[5] ~= '0' and ARGV[8] ~= '0'))
observe(KEYS[2], ARGV[4], ARGV[5], ARGV[6], false)
observe(KEYS[3], ARGV[7], ARGV[8], ARGV[9], false)
if redis.call('ZSCORE', KEYS[4], ARGV[13]) then
  local budget = redis.call('HMGET', KEYS[1], 'remaining', 'reset')
  local at = tonumber(ARGV[12])
  if tonumber(budget[1] or '1') <= 0 and tonumber(budget[2] or '0') > at then
    at = tonumber(budget[2])
  end
  redis.call('ZADD', KEYS[4], 'XX', at, ARGV[13])
end
return 1
