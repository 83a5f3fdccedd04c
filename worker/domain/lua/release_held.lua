-- (publish_held comes from lanes.lua, which worker/domain/scripts/runner.py puts in front of this script.)
-- An account has new credentials: mark it active and publish the jobs held while it needed
-- re-authorization, in the order they were held.
-- They go to the queue's released lane (worker/domain/lanes.py): an account's whole backlog can come
-- out at once, and it must not stand in front of other accounts' fresh jobs.
-- KEYS
--   1 account_meta
--   2 held              the account's held list
--   3 parked_messages
--   4 released_lane
-- ARGV
--   1 job_key_prefix
--   2 now_iso
--   3 released_priority the released lane's kombu priority
--   4 age_key           the held accounts' wait index ("rtq:age:held_account")
redis.call('HSET', KEYS[1], 'state', 'active')
return publish_held(KEYS[2], KEYS[3], KEYS[4], ARGV[3], ARGV[1], ARGV[2], ARGV[4])
