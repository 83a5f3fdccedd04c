-- Keep the dead-letter queue bounded: drop entries older than the TTL, then the oldest beyond
-- the cap. Returns {removed for age, removed for the cap}.
-- KEYS
--   1 dlq_index
--   2 dlq_entries
-- ARGV
--   1 max_entries
--   2 oldest_kept_ms    the oldest failed_at kept
local function drop(ids)
  for i = 1, #ids, 500 do
    local chunk = {}
    for j = i, math.min(i + 499, #ids) do chunk[#chunk + 1] = ids[j] end
    redis.call('ZREM', KEYS[1], unpack(chunk))
    redis.call('HDEL', KEYS[2], unpack(chunk))
  end
  return #ids
end
local aged = drop(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, 10000))
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
local capped = 0
if excess > 0 then capped = drop(redis.call('ZRANGE', KEYS[1], 0, excess - 1)) end
return {aged, capped}
