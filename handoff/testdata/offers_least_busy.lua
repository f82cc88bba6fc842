-- offers: auto-assignment for one group. Offers that timed out are
-- withdrawn (that agent is skipped for the conversation next time), then each
-- waiting conversation without a standing offer, in queue order, is offered
-- to the least-busy online agent of the group with a free slot (open offers
-- count as busy). Atomic, so every instance may run it at once. Its work is
-- bounded by what it can offer: the group's agents once, then the head of
-- the queue until the free slots are taken, each pick from the least-busy
-- end of the candidates.
--
-- Lifecycle: offered{agent, group} for each offer made; declined{agent,
-- group} for each offer withdrawn because it lapsed (the agent let it
-- expire: a decline by silence, as decline.lua is one by word).
--
-- KEYS[1] wait:<group>           the group's queue
-- KEYS[2] group:<group>:offers   ZSET cid -> offer deadline (ms)
-- KEYS[3] group:<group>:online   ZSET aid -> last heartbeat (ms)
-- ARGV[1] key prefix  ARGV[2] group  ARGV[3] now (ms)  ARGV[4] offer timeout (ms)
-- ARGV[5] presence cutoff (ms)  ARGV[6] how many waiting conversations to look at
-- ARGV[7] events MAXLEN  ARGV[8] the agent status that counts as online
-- Reply: {offers made, offers expired}
local p, g, now, maxlen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[7]
local expired = 0
for _, cid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[2], cid)
  local ck = p .. 'conv:' .. cid
  local o = redis.call('HMGET', ck, F.offer_agent, F.offer_skip)
  if o[1] then
    redis.call('SREM', p .. 'agent:' .. o[1] .. ':offers', cid)
    redis.call('HSET', ck, F.offer_skip, (o[2] or ',') .. o[1] .. ',')
    redis.call('HDEL', ck, F.offer_agent, F.offer_until)
    redis.call('XADD', p .. 'agent:' .. o[1] .. ':events', 'MAXLEN', '~', maxlen, '*', 'type',
      'offer_expired', 'conv', cid, 'group', g, 'at', now)
    emit(p, cid, EV.declined, now, EF.agent, o[1], EF.group, g)
    expired = expired + 1
  end
end
-- Candidates: online agents of the group with a free slot, bucketed by load
-- and, within a load, longest since their last claim first, then by id. The
-- least-busy agent not skipped is the first one found from the lowest load:
-- the pick does not scan every agent for every conversation.
local function before(a, b)
  if a.last ~= b.last then return a.last < b.last end
  return a.aid < b.aid
end
local buckets, top, free = {}, -1, 0
for _, aid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[5], '+inf')) do
  local a = redis.call('HMGET', p .. 'agent:' .. aid, 'max', 'status', 'last_claim')
  if a[2] == ARGV[8] then
    local load = redis.call('SCARD', p .. 'agent:' .. aid .. ':convs') +
      redis.call('SCARD', p .. 'agent:' .. aid .. ':offers')
    local m = tonumber(a[1] or 0)
    if load < m then
      buckets[load] = buckets[load] or {}
      table.insert(buckets[load], {aid = aid, load = load, max = m, last = tonumber(a[3] or 0)})
      top, free = math.max(top, m - 1), free + m - load
    end
  end
end
local offered = 0
if free == 0 then return {offered, expired} end
for l = 0, top do
  if buckets[l] then table.sort(buckets[l], before) end
end
local function pick(skip)
  for l = 0, top do
    local b = buckets[l]
    if b then
      for i, c in ipairs(b) do
        if not (skip and string.find(skip, ',' .. c.aid .. ',', 1, true)) then return c, i end
      end
    end
  end
end
-- c (at index i of its load's bucket) takes one more: it moves up a load,
-- in order, or leaves the candidates when full.
local function take(c, i)
  table.remove(buckets[c.load], i)
  c.load = c.load + 1
  free = free - 1
  if c.load < c.max then
    local b = buckets[c.load] or {}
    buckets[c.load] = b
    local lo, hi = 1, #b + 1
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if before(b[mid], c) then lo = mid + 1 else hi = mid end
    end
    table.insert(b, lo, c)
  end
end
-- The head of the queue: the conversations already offered, plus at most
-- ARGV[6] more, and no further than the free slots reach.
local scan = tonumber(ARGV[6]) + redis.call('ZCARD', KEYS[2])
for _, cid in ipairs(redis.call('ZRANGE', KEYS[1], 0, scan - 1)) do
  if free == 0 then break end
  local ck = p .. 'conv:' .. cid
  local o = redis.call('HMGET', ck, F.offer_agent, F.offer_until, F.offer_skip)
  if not (o[1] and tonumber(o[2] or 0) > now) then
    local c, i = pick(o[3])
    if not c and o[3] then
      -- Everyone able to take it has let an offer lapse: start the round again.
      redis.call('HDEL', ck, F.offer_skip)
      c, i = pick(nil)
    end
    if not c then break end
    local deadline = now + tonumber(ARGV[4])
    take(c, i)
    redis.call('HSET', ck, F.offer_agent, c.aid, F.offer_until, deadline)
    redis.call('ZADD', KEYS[2], deadline, cid)
    redis.call('SADD', p .. 'agent:' .. c.aid .. ':offers', cid)
    redis.call('XADD', p .. 'agent:' .. c.aid .. ':events', 'MAXLEN', '~', maxlen, '*', 'type', 'offer',
      'conv', cid, 'group', g, 'until', deadline, 'at', now)
    redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', maxlen, '*', 'type', 'offered', 'conv', cid,
      'group', g, 'agent', c.aid, 'at', now)
    emit(p, cid, EV.offered, now, EF.agent, c.aid, EF.group, g)
    offered = offered + 1
  end
end
return {offered, expired}
