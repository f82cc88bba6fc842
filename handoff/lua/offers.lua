-- offers: auto-assignment for one group. Offers that timed out are
-- withdrawn (that agent is skipped for the conversation next time), then each
-- waiting conversation without a standing offer, in queue order, is offered
-- to the least-busy online agent of the group with a free slot (open offers
-- count as busy). Atomic, so every instance may run it at once.
--
-- KEYS[1] wait:<group>           the group's queue
-- KEYS[2] group:<group>:offers   ZSET cid -> offer deadline (ms)
-- KEYS[3] group:<group>:online   ZSET aid -> last heartbeat (ms)
-- ARGV[1] key prefix  ARGV[2] group  ARGV[3] now (ms)  ARGV[4] offer timeout (ms)
-- ARGV[5] presence cutoff (ms)  ARGV[6] how many waiting conversations to look at
-- ARGV[7] events MAXLEN
-- Reply: {offers made, offers expired}
local p, g, now, maxlen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[7]
local expired = 0
for _, cid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[2], cid)
  local ck = p .. 'conv:' .. cid
  local o = redis.call('HMGET', ck, 'offer_agent', 'offer_skip')
  if o[1] then
    redis.call('SREM', p .. 'agent:' .. o[1] .. ':offers', cid)
    redis.call('HSET', ck, 'offer_skip', (o[2] or ',') .. o[1] .. ',')
    redis.call('HDEL', ck, 'offer_agent', 'offer_until')
    redis.call('XADD', p .. 'agent:' .. o[1] .. ':events', 'MAXLEN', '~', maxlen, '*', 'type',
      'offer_expired', 'conv', cid, 'group', g, 'at', now)
    expired = expired + 1
  end
end
local cands = {}
for _, aid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[5], '+inf')) do
  local a = redis.call('HMGET', p .. 'agent:' .. aid, 'max', 'status', 'last_claim')
  if a[2] == 'online' then
    local load = redis.call('SCARD', p .. 'agent:' .. aid .. ':convs') +
      redis.call('SCARD', p .. 'agent:' .. aid .. ':offers')
    local m = tonumber(a[1] or 0)
    if load < m then
      cands[#cands + 1] = {aid = aid, load = load, max = m, last = tonumber(a[3] or 0)}
    end
  end
end
local offered = 0
if #cands == 0 then return {offered, expired} end
local function pick(skip)
  local best
  for _, c in ipairs(cands) do
    if c.load < c.max and not (skip and string.find(skip, ',' .. c.aid .. ',', 1, true)) then
      if not best or c.load < best.load or (c.load == best.load and (c.last < best.last or
          (c.last == best.last and c.aid < best.aid))) then
        best = c
      end
    end
  end
  return best
end
for _, cid in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[6]) - 1)) do
  local ck = p .. 'conv:' .. cid
  local o = redis.call('HMGET', ck, 'offer_agent', 'offer_until', 'offer_skip')
  if not (o[1] and tonumber(o[2] or 0) > now) then
    local c = pick(o[3])
    if not c and o[3] then
      -- Everyone able to take it has let an offer lapse: start the round again.
      redis.call('HDEL', ck, 'offer_skip')
      c = pick(nil)
    end
    if not c then break end
    local deadline = now + tonumber(ARGV[4])
    c.load = c.load + 1
    redis.call('HSET', ck, 'offer_agent', c.aid, 'offer_until', deadline)
    redis.call('ZADD', KEYS[2], deadline, cid)
    redis.call('SADD', p .. 'agent:' .. c.aid .. ':offers', cid)
    redis.call('XADD', p .. 'agent:' .. c.aid .. ':events', 'MAXLEN', '~', maxlen, '*', 'type', 'offer',
      'conv', cid, 'group', g, 'until', deadline, 'at', now)
    redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', maxlen, '*', 'type', 'offered', 'conv', cid,
      'group', g, 'agent', c.aid, 'at', now)
    offered = offered + 1
  end
end
return {offered, expired}
