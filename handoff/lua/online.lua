-- online: an agent signs in (or changes groups or capacity): status online
-- (an agent who set themself busy or away stays so: a reload of the
-- console does not undo it), present in each of its groups now.
--
-- KEYS[1] agent:<aid>          agent hash
-- KEYS[2] agent:<aid>:groups   SET of the agent's groups
-- KEYS[3] agents               SET of every agent ever online
-- ARGV[1] key prefix  ARGV[2] aid  ARGV[3] max concurrent chats  ARGV[4] now (ms)
-- ARGV[5] display name  ARGV[6] ... groups
-- Reply: 1
local p, aid, now = ARGV[1], ARGV[2], ARGV[4]
for _, g in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('ZREM', p .. 'group:' .. g .. ':online', aid)
end
redis.call('DEL', KEYS[2])
for i = 6, #ARGV do
  redis.call('SADD', KEYS[2], ARGV[i])
  redis.call('ZADD', p .. 'group:' .. ARGV[i] .. ':online', now, aid)
end
local st = redis.call('HGET', KEYS[1], 'status')
if st ~= 'busy' and st ~= 'away' then st = 'online' end
redis.call('HSET', KEYS[1], 'max', ARGV[3], 'status', st, 'seen', now, 'name', ARGV[5])
redis.call('SADD', KEYS[3], aid)
return 1
