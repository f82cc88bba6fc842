-- signin_ok: admit a sign-in whose password was right, unless the address or
-- the pair was locked in the meantime (by failures that ran concurrently),
-- and forget the pair's failures. Successes are never counted.
--
-- KEYS[1] signin:ip:<address>               HASH n (failures), until (lock end, ms)
-- KEYS[2] signin:pair:<agent>|<address>     the same
-- ARGV[1] now (ms)
-- Reply: 0 when admitted (the pair's key deleted), else the lock end (ms).
local now = tonumber(ARGV[1])
local held = 0
for _, k in ipairs(KEYS) do
  local u = tonumber(redis.call('HGET', k, 'until')) or 0
  if u > now and u > held then held = u end
end
if held > 0 then return held end
redis.call('DEL', KEYS[2])
return 0
