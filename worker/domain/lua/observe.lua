-- Learning rate budgets from X's answer headers: worker/domain/scripts/runner.py puts this file in front of
-- settle.lua, so what X said and the job's outcome are written in one script call.
-- X is the authority; a later window replaces ours. Within a window, what is left is X's limit
-- minus the larger of what we have spent (calls of ours may still be in flight, unseen by this
-- answer) and what X has counted (others may have spent some too): a limit higher than we
-- assumed raises it, a lower one cuts it. When jobs wait for this (account, endpoint), their
-- release is re-timed to what X says.
local SAME_WINDOW_MS = 2000

local function observe_budget(key, limit, remaining, reset, exhausted, window_s)
  if reset == '' then return end
  reset = tonumber(reset)
  local current = redis.call('HMGET', key, 'remaining', 'reset', 'limit')
  local left = tonumber(remaining)
  if exhausted then left = 0 end
  local known_left, known_reset = tonumber(current[1]), tonumber(current[2])
  local known_limit = tonumber(current[3])
  local new_limit = tonumber(limit) or known_limit
  if left ~= nil and known_reset ~= nil and reset <= known_reset + SAME_WINDOW_MS
      and known_left ~= nil and known_limit ~= nil and new_limit ~= nil then
    local ours = new_limit - (known_limit - known_left)
    if ours < left then left = ours end
  end
  -- One write of what changed (a field with no news keeps its value).
  local fields = {'reset', reset}
  if new_limit ~= nil then fields[#fields + 1] = 'limit'; fields[#fields + 1] = new_limit end
  if left ~= nil then fields[#fields + 1] = 'remaining'; fields[#fields + 1] = left end
  redis.call('HSET', key, unpack(fields))
  redis.call('PEXPIREAT', key, reset + window_s * 1000)
end

-- keys: budget (account, endpoint), 24-hour budget (account), 24-hour budget (app), groups.
-- h: the nine header values (limit, remaining, reset in ms; '' when X sent none) of those three
-- budgets in that order. rate_limited: the answer was a 429 (nothing is left until the reset).
local function observe_rates(keys, h, rate_limited, window_s, now_ms, group)
  local reset = h[3]
  if rate_limited and reset == '' then
    -- A 429 without headers: nothing left for one window.
    reset = tostring(now_ms + window_s * 1000)
  end
  observe_budget(keys[1], h[1], h[2], reset, rate_limited and (h[5] ~= '0' and h[8] ~= '0'),
    window_s)
  observe_budget(keys[2], h[4], h[5], h[6], false, window_s)
  observe_budget(keys[3], h[7], h[8], h[9], false, window_s)
  if redis.call('ZSCORE', keys[4], group) then
    local budget = redis.call('HMGET', keys[1], 'remaining', 'reset')
    local at = now_ms
    if tonumber(budget[1] or '1') <= 0 and tonumber(budget[2] or '0') > at then
      at = tonumber(budget[2])
    end
    redis.call('ZADD', keys[4], 'XX', at, group)
  end
end

