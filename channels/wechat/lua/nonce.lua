-- nonce: one signed (timestamp, nonce) pair carries one message. The first
-- request with a pair records its message's hash; a later request with the
-- pair is WeChat's retry of it only when it carries the same message, within
-- the retry span, and no more often than WeChat retries. Anything else is a
-- replay (another body under a captured signature, or the same one later).
--
-- KEYS[1] nonce:<timestamp>:<nonce>  HASH h (message hash), at (ms first seen), n (repeats)
-- ARGV[1] the message's hash
-- ARGV[2] now (ms)
-- ARGV[3] key TTL (ms): twice the timestamp window, so that it outlives it
-- ARGV[4] retry span (ms)
-- ARGV[5] repeats allowed
-- Reply: "new", "retry", "other" (another message under the pair) or
-- "late" (the same message after the span, or once too often)
local v = redis.call('HMGET', KEYS[1], 'h', 'at', 'n')
if not v[1] then
  redis.call('HSET', KEYS[1], 'h', ARGV[1], 'at', ARGV[2], 'n', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 'new'
end
if v[1] ~= ARGV[1] then
  return 'other'
end
if tonumber(ARGV[2]) - tonumber(v[2]) > tonumber(ARGV[4]) or tonumber(v[3]) >= tonumber(ARGV[5]) then
  return 'late'
end
redis.call('HINCRBY', KEYS[1], 'n', 1)
return 'retry'
