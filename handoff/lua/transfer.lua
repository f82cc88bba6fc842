-- transfer: hand a held conversation to another group (it waits there with
-- its original place in line) or to a named agent (who holds it at once),
-- with a private note in the transcript. With no holder given it is a
-- supervisor's reassignment: the conversation may be waiting or held.
-- Emits transfer{from (the holder, "" when it was waiting), to (the agent,
-- "" for a group), group (where it is now), note, by (who moved it)}; a
-- refused transfer emits nothing. The note is the transfer's: it joins the
-- transcript (dir note) without an event of its own. A transfer to a group
-- is a new hand-off for the first-reply mark: the next agent message is its
-- first.
--
-- KEYS[1] conv:<cid>   conversation hash
-- KEYS[2] leases       ZSET cid -> lease expiry (ms)
-- KEYS[3] tx:<cid>     transcript stream
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] holder aid ("" = supervisor, no holder check)
-- ARGV[4] holder's epoch  ARGV[5] now (ms)  ARGV[6] lease (ms)
-- ARGV[7] to group ("" when to an agent)  ARGV[8] to agent ("" when to a group)
-- ARGV[9] note  ARGV[10] who writes the note  ARGV[11] events MAXLEN
-- Reply: {new epoch, group}
-- Errors: LEASE_LOST, NOT_HOLDER, NOT_OPEN, UNKNOWN_AGENT, OFFLINE, CAPACITY, SAME_AGENT
local p, cid, aid, now, maxlen = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5]), ARGV[11]
local h = redis.call('HMGET', KEYS[1], F.agent, F.epoch, F.group, F.prio, F.seq, F.due_ms, F.enq_ms)
local exp = tonumber(redis.call('ZSCORE', KEYS[2], cid) or 0)
local held = h[1] and exp > 0
if aid ~= '' then
  local epoch = tonumber(ARGV[4])
  if not (h[1] == aid and tonumber(h[2]) == epoch and exp > now) then
    if epoch < tonumber(h[2] or 0) or h[1] == aid then return redis.error_reply('LEASE_LOST') end
    return redis.error_reply('NOT_HOLDER')
  end
end
local g = h[3]
local waiting = g and redis.call('ZSCORE', p .. 'wait:' .. g, cid)
if not held and not waiting then return redis.error_reply('NOT_OPEN') end
local ta, tg = ARGV[8], ARGV[7]
if ta ~= '' then
  if held and h[1] == ta then return redis.error_reply('SAME_AGENT') end
  local t = redis.call('HMGET', p .. 'agent:' .. ta, 'max', 'status')
  if not t[1] then return redis.error_reply('UNKNOWN_AGENT') end
  if t[2] == 'offline' then return redis.error_reply('OFFLINE') end
  if redis.call('SCARD', p .. 'agent:' .. ta .. ':convs') >= tonumber(t[1]) then
    return redis.error_reply('CAPACITY')
  end
end
-- Take it from where it is.
if held then
  redis.call('ZREM', KEYS[2], cid)
  redis.call('SREM', p .. 'agent:' .. h[1] .. ':convs', cid)
end
if waiting then
  redis.call('ZREM', p .. 'wait:' .. g, cid)
  local oa = redis.call('HGET', KEYS[1], F.offer_agent)
  if oa then
    redis.call('SREM', p .. 'agent:' .. oa .. ':offers', cid)
    redis.call('ZREM', p .. 'group:' .. g .. ':offers', cid)
  end
  redis.call('HDEL', KEYS[1], F.offer_agent, F.offer_until, F.offer_skip)
end
local epoch = redis.call('HINCRBY', KEYS[1], F.epoch, 1)
local to
if ta ~= '' then
  to = 'agent:' .. ta
  redis.call('HSET', KEYS[1], F.mode, MODE.agent, F.agent, ta, F.claimed_ms, now,
    F.assign_why, 'transfer by=' .. ARGV[10])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), cid)
  redis.call('SADD', p .. 'agent:' .. ta .. ':convs', cid)
  redis.call('XADD', p .. 'agent:' .. ta .. ':events', 'MAXLEN', '~', maxlen, '*', 'type', 'assigned',
    'conv', cid, 'group', g, 'epoch', epoch, 'from', h[1] or '', 'at', now)
  tg = g
else
  to = 'group:' .. tg
  redis.call('HSET', KEYS[1], F.mode, MODE.waiting, F.group, tg)
  redis.call('HDEL', KEYS[1], F.agent, F.claimed_ms, F.notice, F.replied_ms, F.assign_why)
  redis.call('ZADD', p .. 'wait:' .. tg, qscore(h[6] or h[7] or now, h[5] or 0), cid)
end
if held then
  redis.call('XADD', p .. 'agent:' .. h[1] .. ':events', 'MAXLEN', '~', maxlen, '*', 'type',
    'transferred', 'conv', cid, 'group', g, 'epoch', epoch, 'to', to, 'at', now)
end
redis.call('XADD', KEYS[3], '*', 'dir', 'note', 'kind', 'transfer', 'agent', ARGV[10], 'epoch', epoch,
  'to', to, 'text', ARGV[9], 'at', now)
redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', maxlen, '*', 'type', 'transferred', 'conv', cid,
  'group', g, 'to', to, 'agent', ARGV[10], 'epoch', epoch, 'at', now)
if tg ~= g then
  redis.call('XADD', p .. 'events:' .. tg, 'MAXLEN', '~', maxlen, '*', 'type', 'enqueued', 'conv', cid,
    'group', tg, 'urgent', h[4] == 'urgent' and 1 or 0, 'from', g, 'at', now)
end
emit(p, cid, EV.transfer, now, EF.from, held and h[1] or '', EF.to, ta, EF.group, tg, EF.note, ARGV[9], EF.by, ARGV[10])
return {epoch, tg}
