-- offline: an agent signs out. They leave their groups' online sets, their
-- open offers are withdrawn, and the leases of the conversations they hold
-- expire now, so the next reap puts them back in line (the caller reaps at
-- once). Each offer withdrawn emits declined{agent, group} (the agent
-- left without answering it); the conversations held emit lease_lost when
-- the reap requeues them.
--
-- KEYS[1] agent:<aid>          agent hash
-- KEYS[2] agent:<aid>:groups   SET of the agent's groups
-- KEYS[3] agent:<aid>:convs    SET of conversations held
-- KEYS[4] agent:<aid>:offers   SET of conversations offered
-- KEYS[5] leases               ZSET cid -> lease expiry (ms)
-- ARGV[1] key prefix  ARGV[2] aid  ARGV[3] now (ms)
-- Reply: number of conversations whose lease was ended
-- Errors: UNKNOWN_AGENT
local p, aid, now = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('UNKNOWN_AGENT') end
redis.call('HSET', KEYS[1], 'status', 'offline', 'seen', now)
for _, g in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('ZREM', p .. 'group:' .. g .. ':online', aid)
end
for _, cid in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  local ck = p .. 'conv:' .. cid
  local o = redis.call('HMGET', ck, F.offer_agent, F.offer_skip, F.group)
  if o[1] == aid then
    redis.call('ZREM', p .. 'group:' .. (o[3] or '') .. ':offers', cid)
    redis.call('HSET', ck, F.offer_skip, (o[2] or ',') .. aid .. ',')
    redis.call('HDEL', ck, F.offer_agent, F.offer_until)
    emit(p, cid, EV.declined, now, EF.agent, aid, EF.group, o[3] or '')
  end
end
redis.call('DEL', KEYS[4])
local n = 0
for _, cid in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  n = n + redis.call('ZADD', KEYS[5], 'XX', 'CH', now, cid)
end
return n
