-- permit: may one more customer-service message go to this customer? Counts
-- it when it may.
--
-- KEYS[1] win:<openid>   HASH at (ms of the last message), n (sent since), mid
-- ARGV[1] now (ms)
-- ARGV[2] window (ms)
-- ARGV[3] quota: messages allowed per customer message
-- Reply: 'ok' (counted), 'closed' (no message within the window), 'quota'
local at = tonumber(redis.call('HGET', KEYS[1], 'at'))
if not at or tonumber(ARGV[1]) - at > tonumber(ARGV[2]) then
  return 'closed'
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n > tonumber(ARGV[3]) then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
  return 'quota'
end
return 'ok'
