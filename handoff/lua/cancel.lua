-- cancel: the customer stops waiting and goes back to the bot.
--
-- KEYS[1] conv:<cid>   conversation hash
-- KEYS[2] open         SET of conversations waiting or held
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] now (ms)  ARGV[4] events MAXLEN
-- Reply: 1
-- Errors: NOT_WAITING (not in a queue: an agent may already have it)
local p, cid, now = ARGV[1], ARGV[2], ARGV[3]
local h = redis.call('HMGET', KEYS[1], 'group', 'offer_agent')
if not h[1] or redis.call('ZREM', p .. 'wait:' .. h[1], cid) == 0 then
  return redis.error_reply('NOT_WAITING')
end
if h[2] then
  redis.call('SREM', p .. 'agent:' .. h[2] .. ':offers', cid)
  redis.call('ZREM', p .. 'group:' .. h[1] .. ':offers', cid)
end
redis.call('HDEL', KEYS[1], 'offer_agent', 'offer_until', 'offer_skip', 'notice')
redis.call('HSET', KEYS[1], 'mode', 'bot', 'canceled_ms', now)
redis.call('SREM', KEYS[2], cid)
redis.call('XADD', p .. 'events:' .. h[1], 'MAXLEN', '~', ARGV[4], '*', 'type', 'canceled', 'conv', cid,
  'group', h[1], 'at', now)
return 1
