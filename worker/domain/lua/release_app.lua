-- (publish_held comes from lanes.lua, which worker/domain/scripts/runner.py puts in front of this script.)
-- Let held apps go: the named one (an operator's `rtq apps release`), or, with no name, every
-- app whose hold has ended by itself (a usage cap at the end of its period; the mover runs
-- this). Its held jobs are published in the order they were held, to the queue's released
-- lane (worker/domain/lanes.py): a whole app's backlog must not stand in front of fresh jobs.
-- Returns {jobs released, the apps released...}.
-- KEYS
--   1 app_holds         held apps by the end of their hold
--   2 parked_messages
--   3 released_lane
-- ARGV
--   1 now_ms
--   2 app_key_prefix    ("rtq:app:")
--   3 job_key_prefix
--   4 now_iso
--   5 released_priority the released lane's kombu priority
--   6 app               the app to release, or '' for those whose hold has ended
--   7 age_key           the held apps' wait index ("rtq:age:held_app")
local apps
if ARGV[6] ~= '' then
  apps = {ARGV[6]}
else
  apps = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 20)
end
local result = {0}
for _, app in ipairs(apps) do
  local key = ARGV[2] .. app
  local was_held = redis.call('HGET', key, 'state') == 'held'
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], app)
  result[1] = result[1] + publish_held(key .. ':held', KEYS[2], KEYS[3], ARGV[5], ARGV[3],
    ARGV[4], ARGV[7])
  if was_held then result[#result + 1] = app end
end
return result
