-- decline: an agent turns down the conversation offered to them; it is
-- offered to the next agent on the next offers run.
--
-- KEYS[1] conv:<cid>   conversation hash
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] aid  ARGV[4] now (ms)  ARGV[5] events MAXLEN
-- Reply: 1
-- Errors: NO_OFFER (nothing offered to this agent)
local p, cid, aid = ARGV[1], ARGV[2], ARGV[3]
local o = redis.call('HMGET', KEYS[1], 'offer_agent', 'offer_skip', 'group')
if o[1] ~= aid then return redis.error_reply('NO_OFFER') end
redis.call('SREM', p .. 'agent:' .. aid .. ':offers', cid)
redis.call('ZREM', p .. 'group:' .. (o[3] or '') .. ':offers', cid)
redis.call('HSET', KEYS[1], 'offer_skip', (o[2] or ',') .. aid .. ',')
redis.call('HDEL', KEYS[1], 'offer_agent', 'offer_until')
redis.call('XADD', p .. 'events:' .. (o[3] or ''), 'MAXLEN', '~', ARGV[5], '*', 'type', 'declined',
  'conv', cid, 'group', o[3] or '', 'agent', aid, 'at', ARGV[4])
return 1
