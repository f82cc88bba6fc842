-- socket_open.lua: count one more open WebSocket for a visitor and for a
-- client address, unless either is at its cap. Each set holds socket ids
-- scored by the end of their lease (unix ms): the instance holding a socket
-- renews it while it is open, so the sockets of an instance that died stop
-- counting when their lease ends.
--
-- KEYS[1]  the visitor's sockets (ZSET)
-- KEYS[2]  the address's sockets (ZSET)
-- ARGV[1]  now, unix ms
-- ARGV[2]  lease, ms
-- ARGV[3]  the socket's id
-- ARGV[4]  cap per visitor (0: none)
-- ARGV[5]  cap per address (0: none)
--
-- Reply: 0 counted; 1 the visitor is at its cap; 2 the address is (nothing
-- counted).
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local capv, capa = tonumber(ARGV[4]), tonumber(ARGV[5])
if capv > 0 and redis.call('ZCARD', KEYS[1]) >= capv then
  return 1
end
if capa > 0 and redis.call('ZCARD', KEYS[2]) >= capa then
  return 2
end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now + lease, ARGV[3])
  redis.call('PEXPIRE', KEYS[i], lease)
end
return 0
