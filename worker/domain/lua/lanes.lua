-- Shared by the scripts that put a message in one of the queue's lanes (worker/domain/lanes.py):
-- worker/domain/scripts.py puts this file in front of enqueue, move_due, release and release_held.

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

