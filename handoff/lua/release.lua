-- release: the holder ends their part: the conversation goes back to the bot
-- or is closed. The handling time joins the group's rolling window (ETA).
-- Emits back_to_bot{agent} or closed{by: the agent, and the wrap-up's label
-- and resolved when given}; a refused release
-- emits nothing.
--
-- KEYS[1] conv:<cid>   conversation hash
-- KEYS[2] leases       ZSET cid -> lease expiry (ms)
-- KEYS[3] open         SET of conversations waiting or held
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] aid  ARGV[4] epoch  ARGV[5] now (ms)
-- ARGV[6] the mode it goes to: MODE.bot or MODE.closed  ARGV[7] handling window size
-- ARGV[8] events MAXLEN
-- ARGV[9] the agent's wrap-up label on a close ('' none)  ARGV[10] resolved: '1' or '0'
-- ARGV[11] returning-customer window (ms; 0 off): last_agent:<cid> remembers
-- the agent ("aid now") that long, for offers.lua
-- Reply: the new epoch
-- Errors: LEASE_LOST, NOT_HOLDER
local p, cid, aid, epoch, now, maxlen = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[8]
local closed = ARGV[6] == MODE.closed
if not closed and ARGV[6] ~= MODE.bot then return redis.error_reply('release: mode ' .. ARGV[6]) end
local h = redis.call('HMGET', KEYS[1], F.agent, F.epoch, F.group, F.claimed_ms)
local exp = tonumber(redis.call('ZSCORE', KEYS[2], cid) or 0)
if not (h[1] == aid and tonumber(h[2]) == epoch and exp > now) then
  if epoch < tonumber(h[2] or 0) or h[1] == aid then return redis.error_reply('LEASE_LOST') end
  return redis.error_reply('NOT_HOLDER')
end
redis.call('ZREM', KEYS[2], cid)
redis.call('SREM', p .. 'agent:' .. aid .. ':convs', cid)
redis.call('SREM', KEYS[3], cid)
local e = redis.call('HINCRBY', KEYS[1], F.epoch, 1)
redis.call('HSET', KEYS[1], F.mode, ARGV[6], F.last_agent, aid, F.released_ms, now)
redis.call('HDEL', KEYS[1], F.agent, F.claimed_ms, F.notice)
if closed then
  redis.call('HSET', KEYS[1], F.closed_ms, now)
  redis.call('HDEL', KEYS[1], F.rating, F.rating_comment, F.rating_agent, F.rated_ms)
end
if tonumber(ARGV[11] or 0) > 0 then
  redis.call('SET', p .. 'last_agent:' .. cid, aid .. ' ' .. now, 'PX', ARGV[11])
end
local g = h[3] or ''
if h[4] then
  local ht = p .. 'group:' .. g .. ':handled'
  redis.call('LPUSH', ht, now - tonumber(h[4]))
  redis.call('LTRIM', ht, 0, tonumber(ARGV[7]) - 1)
end
local typ = closed and 'closed' or 'released'
redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', maxlen, '*', 'type', typ, 'conv', cid,
  'group', g, 'agent', aid, 'epoch', e, 'at', now)
if closed and (ARGV[9] or '') ~= '' then
  emit(p, cid, EV.closed, now, EF.by, aid, EF.label, ARGV[9], EF.resolved, ARGV[10])
elseif closed then
  emit(p, cid, EV.closed, now, EF.by, aid)
else
  emit(p, cid, EV.back_to_bot, now, EF.agent, aid)
end
return e
