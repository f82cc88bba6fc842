-- offers: auto-assignment for one group. Offers that timed out are
-- withdrawn (that agent is skipped for the conversation next time), then each
-- waiting conversation without a standing offer, in queue order, is offered
-- to the least-busy online agent of the group with a free slot (open offers
-- count as busy), or, with the dispatch options, first to the customer's
-- last agent (returning customer) and with the agents' performance weighed
-- in. Atomic, so every instance may run it at once. Its work is
-- bounded by what it can offer: the group's agents once, then the head of
-- the queue until the free slots are taken, each pick from the least-busy
-- end of the candidates.
--
-- Lifecycle: offered{agent, group, assign, assign_detail} for each offer
-- made (why that agent: returning_customer, least_busy or performance); declined{agent,
-- group} for each offer withdrawn because it lapsed (the agent let it
-- expire: a decline by silence, as decline.lua is one by word).
--
-- KEYS[1] wait:<group>           the group's queue
-- KEYS[2] group:<group>:offers   ZSET cid -> offer deadline (ms)
-- KEYS[3] group:<group>:online   ZSET aid -> last heartbeat (ms)
-- ARGV[1] key prefix  ARGV[2] group  ARGV[3] now (ms)  ARGV[4] offer timeout (ms)
-- ARGV[5] presence cutoff (ms)  ARGV[6] how many waiting conversations to look at
-- ARGV[7] events MAXLEN  ARGV[8] the agent status that counts as online
-- ARGV[9] returning-customer window (ms; 0 off)
-- ARGV[10..12] performance weights: CSAT, first response, resolution (all 0: least-busy)
-- Reply: {offers made, offers expired}
local p, g, now, maxlen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[7]
local window = tonumber(ARGV[9] or 0)
local wc, wf, wr = tonumber(ARGV[10] or 0), tonumber(ARGV[11] or 0), tonumber(ARGV[12] or 0)
local weighted = wc > 0 or wf > 0 or wr > 0
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
-- Candidates: online agents of the group with a free slot, in one list
-- ordered by load, then longest since their last claim, then id: the
-- least-busy agent not skipped is the first one found, so the pick does not
-- scan every agent for every conversation. Weighted (dispatch weights), an
-- agent's load counts their performance bonus less (Σ weight × score, from
-- dispatch:perf, written by SetPerformance); with every weight 0 the order
-- is exactly the plain least-busy one.
local function before(a, b)
  if a.eff ~= b.eff then return a.eff < b.eff end
  if a.last ~= b.last then return a.last < b.last end
  return a.aid < b.aid
end
local cands, free = {}, 0
for _, aid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[5], '+inf')) do
  local a = redis.call('HMGET', p .. 'agent:' .. aid, 'max', 'status', 'last_claim')
  if a[2] == ARGV[8] then
    local load = redis.call('SCARD', p .. 'agent:' .. aid .. ':convs') +
      redis.call('SCARD', p .. 'agent:' .. aid .. ':offers')
    local m = tonumber(a[1] or 0)
    if load < m then
      table.insert(cands, {aid = aid, load = load, eff = load, max = m, last = tonumber(a[3] or 0)})
      free = free + m - load
    end
  end
end
local offered = 0
if free == 0 then return {offered, expired} end
if weighted then
  -- dispatch:perf: aid -> "csat_score frt_score res_score csat frt_s res"
  -- (scores 0-1; the figures for the reason, "-" when none).
  local ids = {}
  for i, c in ipairs(cands) do ids[i] = c.aid end
  local perf = redis.call('HMGET', p .. 'dispatch:perf', unpack(ids))
  for i, c in ipairs(cands) do
    local sc, sf, sr, csat, frt, res = string.match(perf[i] or '', '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
    c.csat, c.frt, c.res = csat or '-', frt or '-', res or '-'
    c.eff = c.load - (wc * (tonumber(sc) or 0.5) + wf * (tonumber(sf) or 0.5) + wr * (tonumber(sr) or 0.5))
  end
end
table.sort(cands, before)
local function skipped(skip, c)
  return skip and string.find(skip, ',' .. c.aid .. ',', 1, true)
end
local function pick(skip)
  for i, c in ipairs(cands) do
    if not skipped(skip, c) then return c, i end
  end
end
-- The agent plain least-busy would pick (weighted: to tell whether
-- performance decided).
local function plain(skip)
  local best
  for _, c in ipairs(cands) do
    if not skipped(skip, c) and (not best or c.load < best.load or (c.load == best.load and
        (c.last < best.last or (c.last == best.last and c.aid < best.aid)))) then
      best = c
    end
  end
  return best
end
-- The customer's last agent (last_agent:<cid>, "aid ms", written by
-- release.lua), when released within the window and a candidate not
-- skipped; and when.
local function returning(cid, skip)
  if window <= 0 then return end
  local la = redis.call('GET', p .. 'last_agent:' .. cid)
  if not la then return end
  local aid, at = string.match(la, '^(%S+) (%d+)$')
  if not aid or now - tonumber(at) > window then return end
  for i, c in ipairs(cands) do
    if c.aid == aid then
      if skipped(skip, c) then return end
      return c, i, at
    end
  end
end
-- Why c got it: a reason code and its details (conv.FieldOfferWhy).
local function why(c, skip, since)
  if since then return 'returning_customer since=' .. since end
  if not weighted then return 'least_busy load=' .. c.load end
  local detail = ' csat=' .. c.csat .. ' frt=' .. c.frt .. ' res=' .. c.res .. ' load=' .. c.load
  if plain(skip) ~= c then return 'performance' .. detail end
  return 'least_busy' .. detail
end
-- c (at index i) takes one more: it moves down the list, in order, or
-- leaves the candidates when full.
local function take(c, i)
  table.remove(cands, i)
  c.load, c.eff = c.load + 1, c.eff + 1
  free = free - 1
  if c.load < c.max then
    local lo, hi = 1, #cands + 1
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if before(cands[mid], c) then lo = mid + 1 else hi = mid end
    end
    table.insert(cands, lo, c)
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
    local skip = o[3]
    local c, i, since = returning(cid, skip)
    if not c then c, i = pick(skip) end
    if not c and skip then
      -- Everyone able to take it has let an offer lapse: start the round again.
      redis.call('HDEL', ck, F.offer_skip)
      skip = nil
      c, i, since = returning(cid, nil)
      if not c then c, i = pick(nil) end
    end
    if not c then break end
    local deadline = now + tonumber(ARGV[4])
    local reason = why(c, skip, since)
    take(c, i)
    redis.call('HSET', ck, F.offer_agent, c.aid, F.offer_until, deadline, F.offer_why, reason)
    redis.call('ZADD', KEYS[2], deadline, cid)
    redis.call('SADD', p .. 'agent:' .. c.aid .. ':offers', cid)
    redis.call('XADD', p .. 'agent:' .. c.aid .. ':events', 'MAXLEN', '~', maxlen, '*', 'type', 'offer',
      'conv', cid, 'group', g, 'until', deadline, 'at', now)
    redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', maxlen, '*', 'type', 'offered', 'conv', cid,
      'group', g, 'agent', c.aid, 'at', now)
    local code, detail = string.match(reason, '^(%S+) ?(.*)$')
    emit(p, cid, EV.offered, now, EF.agent, c.aid, EF.group, g, EF.assign, code, EF.assign_detail, detail)
    offered = offered + 1
  end
end
return {offered, expired}
