-- decline: an agent turns down the conversation offered to them; it is
-- offered to the next agent on the next offers run. Emits
-- declined{agent, group}; nothing when there is no such offer. (The other
-- declined events: offers.lua when an offer lapses, offline.lua when the
-- agent signs out with offers open.)
--
-- KEYS[1] conv:<cid>   conversation hash
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] aid  ARGV[4] now (ms)  ARGV[5] events MAXLEN
-- Reply: 1
-- Errors: NO_OFFER (nothing offered to this agent)
local p, cid, aid = ARGV[1], ARGV[2], ARGV[3]
local o = redis.call('HMGET', KEYS[1], F.offer_agent, F.offer_skip, F.group)
if o[1] ~= aid then return redis.error_reply('NO_OFFER') end
local g = o[3] or ''
redis.call('SREM', p .. 'agent:' .. aid .. ':offers', cid)
redis.call('ZREM', p .. 'group:' .. g .. ':offers', cid)
redis.call('HSET', KEYS[1], F.offer_skip, (o[2] or ',') .. aid .. ',')
redis.call('HDEL', KEYS[1], F.offer_agent, F.offer_until)
redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', ARGV[5], '*', 'type', 'declined',
  'conv', cid, 'group', g, 'agent', aid, 'at', ARGV[4])
emit(p, cid, EV.declined, ARGV[4], EF.agent, aid, EF.group, g)
return 1
