-- release: the holder ends their part: the conversation goes back to the bot
-- or is closed. The handling time joins the group's rolling window (ETA).
--
-- KEYS[1] conv:<cid>   conversation hash
-- KEYS[2] leases       ZSET cid -> lease expiry (ms)
-- KEYS[3] open         SET of conversations waiting or held
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] aid  ARGV[4] epoch  ARGV[5] now (ms)
-- ARGV[6] "bot" or "closed"  ARGV[7] handling window size  ARGV[8] events MAXLEN
-- Reply: the new epoch
-- Errors: LEASE_LOST, NOT_HOLDER
local p, cid, aid, epoch, now, maxlen = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[8]
local h = redis.call('HMGET', KEYS[1], 'agent', 'epoch', 'group', 'claimed_ms')
local exp = tonumber(redis.call('ZSCORE', KEYS[2], cid) or 0)
if not (h[1] == aid and tonumber(h[2]) == epoch and exp > now) then
  if epoch < tonumber(h[2] or 0) or h[1] == aid then return redis.error_reply('LEASE_LOST') end
  return redis.error_reply('NOT_HOLDER')
end
redis.call('ZREM', KEYS[2], cid)
redis.call('SREM', p .. 'agent:' .. aid .. ':convs', cid)
redis.call('SREM', KEYS[3], cid)
local e = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'mode', ARGV[6], 'last_agent', aid, 'released_ms', now)
redis.call('HDEL', KEYS[1], 'agent', 'claimed_ms', 'notice')
if ARGV[6] == 'closed' then
  redis.call('HSET', KEYS[1], 'closed_ms', now)
  redis.call('HDEL', KEYS[1], 'rating', 'rating_comment', 'rating_agent', 'rated_ms')
end
local g = h[3] or ''
if h[4] then
  local ht = p .. 'group:' .. g .. ':handled'
  redis.call('LPUSH', ht, now - tonumber(h[4]))
  redis.call('LTRIM', ht, 0, tonumber(ARGV[7]) - 1)
end
local typ = ARGV[6] == 'closed' and 'closed' or 'released'
redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', maxlen, '*', 'type', typ, 'conv', cid,
  'group', g, 'agent', aid, 'epoch', e, 'at', now)
return e
