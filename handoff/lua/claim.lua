-- claim: an agent takes a waiting conversation: the next one in the agent's
-- groups (earliest first-response deadline first), or a named one. The ZREM
-- from the wait queue is the single point where a claim succeeds, so two
-- agents can never hold one conversation. Each claim raises the epoch; every
-- later write by the agent carries it, and a stale one is refused. Emits
-- claimed{agent, group, waited_ms (since the hand-off), assign and
-- assign_detail (why this agent: the accepted offer's reason, or manual)};
-- a refused claim emits nothing.
--
-- KEYS[1] agent:<aid>          agent hash (max, status)
-- KEYS[2] agent:<aid>:convs    SET of conversations the agent holds
-- KEYS[3] agent:<aid>:groups   SET of the agent's groups
-- KEYS[4] leases               ZSET cid -> lease expiry (ms)
-- ARGV[1] key prefix  ARGV[2] aid  ARGV[3] cid ("" = next)  ARGV[4] now (ms)
-- ARGV[5] lease (ms)  ARGV[6] events MAXLEN
-- Reply: {cid, epoch, group}
-- Errors: UNKNOWN_AGENT, OFFLINE, CAPACITY, EMPTY (nothing to claim),
--         TAKEN (the named conversation is not waiting), SKILL (not in its group).
local p, aid, want, now, maxlen = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[6]
local a = redis.call('HMGET', KEYS[1], 'max', 'status')
if not a[1] then return redis.error_reply('UNKNOWN_AGENT') end
if a[2] == 'offline' then return redis.error_reply('OFFLINE') end
if redis.call('SCARD', KEYS[2]) >= tonumber(a[1]) then return redis.error_reply('CAPACITY') end

local cid, g
if want ~= '' then
  g = redis.call('HGET', p .. 'conv:' .. want, F.group)
  if not g or not redis.call('ZSCORE', p .. 'wait:' .. g, want) then
    return redis.error_reply('TAKEN')
  end
  if redis.call('SISMEMBER', KEYS[3], g) == 0 then return redis.error_reply('SKILL') end
  cid = want
else
  -- The lowest score over the agent's groups: the score is the deadline
  -- (qscore), comparable across groups: earliest deadline first.
  -- A conversation offered to another agent (auto-assignment) is skipped
  -- while the offer stands (looking up to 128 deep per group).
  local best
  for _, grp in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    local key, off, done = p .. 'wait:' .. grp, 0, false
    -- Pages of 8 (usually the first entry is it), at most 128 entries deep.
    while not done and off < 128 do
      local items = redis.call('ZRANGE', key, off, off + 7, 'WITHSCORES')
      if #items == 0 then break end
      for i = 1, #items, 2 do
        local c, s = items[i], tonumber(items[i + 1])
        if best and s >= best then done = true; break end
        local o = redis.call('HMGET', p .. 'conv:' .. c, F.offer_agent, F.offer_until)
        if not o[1] or o[1] == aid or tonumber(o[2] or 0) <= now then
          best, cid, g = s, c, grp
          done = true
          break
        end
      end
      off = off + 8
    end
  end
  if not cid then return redis.error_reply('EMPTY') end
end
if redis.call('ZREM', p .. 'wait:' .. g, cid) == 0 then return redis.error_reply('TAKEN') end

local ck = p .. 'conv:' .. cid
-- An offer standing for it (to this agent, or lapsed) ends with the claim:
-- the claimed event says who got it.
-- Why the agent has it: their offer's reason when they accept an offer,
-- else manual (they took it from the queue).
local o = redis.call('HMGET', ck, F.offer_agent, F.offer_why)
local oa, why = o[1], 'manual'
if oa then
  redis.call('SREM', p .. 'agent:' .. oa .. ':offers', cid)
  redis.call('ZREM', p .. 'group:' .. g .. ':offers', cid)
  redis.call('HDEL', ck, F.offer_agent, F.offer_until, F.offer_skip, F.offer_why)
  if oa == aid and o[2] then why = o[2] end
end
local code, detail = string.match(why, '^(%S+) ?(.*)$')
local epoch = redis.call('HINCRBY', ck, F.epoch, 1)
local enq = tonumber(redis.call('HGET', ck, F.enq_ms) or now)
redis.call('HSET', ck, F.mode, MODE.agent, F.agent, aid, F.claimed_ms, now, F.waited_ms, now - enq,
  F.assign_why, why)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[5]), cid)
redis.call('SADD', KEYS[2], cid)
redis.call('HSET', KEYS[1], 'last_claim', now)
redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', maxlen, '*', 'type', 'claimed', 'conv', cid,
  'group', g, 'agent', aid, 'epoch', epoch, 'at', now)
if detail ~= '' then
  emit(p, cid, EV.claimed, now, EF.agent, aid, EF.group, g, EF.waited_ms, now - enq,
    EF.assign, code, EF.assign_detail, detail)
else
  emit(p, cid, EV.claimed, now, EF.agent, aid, EF.group, g, EF.waited_ms, now - enq, EF.assign, code)
end
return {cid, epoch, g}
