-- Shared by the scripts that put a message in one of the queue's lanes (worker/domain/lanes.py):
-- worker/domain/scripts/runner.py puts this file in front of enqueue, move_due, release,
-- release_held and release_app.

-- The message with its kombu priority set to `priority`, since kombu restores an unacked
-- message to the list its priority names. rtq's messages (worker/domain/messages.py) are compact JSON
-- whose first "priority":0 is the property (the body is a JSON string, its quotes escaped); a
-- message of any other shape is returned as it is, which only costs fairness after a restore.
local function with_priority(message, priority)
  local at = string.find(message, '"priority":0', 1, true)
  if at then
    local after = string.sub(message, at + 12, at + 12)
    if after == ',' or after == '}' then
      return string.sub(message, 1, at + 10) .. priority .. string.sub(message, at + 12)
    end
  end
  return message
end


-- Publish a held list's jobs, in the order they were held, to `lane` (a released lane: a whole
-- account's or app's backlog must not stand in front of other accounts' fresh jobs); their
-- records go back to `queued`, and they leave the `age` index. Returns how many were published.
local function publish_held(list, parked_messages, lane, priority, job_prefix, now_iso, age)
  local released = 0
  while true do
    local job_id = redis.call('LPOP', list)
    if not job_id then break end
    local message = redis.call('HGET', parked_messages, job_id)
    redis.call('HDEL', parked_messages, job_id)
    redis.call('ZREM', age, job_id)
    if message then
      -- kombu restores an unacked message to the list its priority names: say this one.
      redis.call('LPUSH', lane, with_priority(message, priority))
      local job = job_prefix .. job_id
      if redis.call('HGET', job, 'state') == 'deferred' then
        redis.call('HSET', job, 'state', 'queued', 'updated_at', now_iso)
        redis.call('HDEL', job, 'detail')
      end
      released = released + 1
    end
  end
  return released
end
