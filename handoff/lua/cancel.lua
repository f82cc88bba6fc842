-- cancel: the customer stops waiting and goes back to the bot; emits
-- abandoned{by}. by is "left" when the last transcript entry is the
-- customer's leaving (the bot writes it, kind leave, before it takes them
-- out of the queue), else "customer" (they asked to stop waiting). A
-- conversation that is not waiting is refused, and nothing is emitted.
--
-- KEYS[1] conv:<cid>   conversation hash
-- KEYS[2] open         SET of conversations waiting or held
-- KEYS[3] tx:<cid>     transcript stream
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] now (ms)  ARGV[4] events MAXLEN
-- ARGV[5] the transcript kind of a customer's leaving
-- ARGV[6] by when they canceled  ARGV[7] by when they left
-- Reply: the by written
-- Errors: NOT_WAITING (not in a queue: an agent may already have it)
local p, cid, now = ARGV[1], ARGV[2], ARGV[3]
local h = redis.call('HMGET', KEYS[1], F.group, F.offer_agent)
if not h[1] or redis.call('ZREM', p .. 'wait:' .. h[1], cid) == 0 then
  return redis.error_reply('NOT_WAITING')
end
if h[2] then
  redis.call('SREM', p .. 'agent:' .. h[2] .. ':offers', cid)
  redis.call('ZREM', p .. 'group:' .. h[1] .. ':offers', cid)
end
redis.call('HDEL', KEYS[1], F.offer_agent, F.offer_until, F.offer_skip, F.notice)
redis.call('HSET', KEYS[1], F.mode, MODE.bot, F.canceled_ms, now)
redis.call('SREM', KEYS[2], cid)
redis.call('XADD', p .. 'events:' .. h[1], 'MAXLEN', '~', ARGV[4], '*', 'type', 'canceled', 'conv', cid,
  'group', h[1], 'at', now)
local by = ARGV[6]
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
if last then
  local f = last[2]
  for i = 1, #f, 2 do
    if f[i] == 'kind' and f[i + 1] == ARGV[5] then by = ARGV[7] end
  end
end
emit(p, cid, EV.abandoned, now, EF.by, by)
return by
