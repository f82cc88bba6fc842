-- reap: conversations whose lease expired go back to their group's queue
-- with their ORIGINAL seq and lane, so the customer keeps their place; the
-- epoch goes up so the agent who vanished is fenced out. Each emits
-- lease_lost{agent, group}. Also forgets agents whose presence is stale.
-- Safe to run in every instance at once.
--
-- KEYS[1] leases   ZSET cid -> lease expiry (ms)
-- ARGV[1] key prefix  ARGV[2] now (ms)  ARGV[3] batch limit  ARGV[4] events MAXLEN
-- ARGV[5] presence cutoff (ms): agents last seen at or before it leave the online sets
-- ARGV[6] ... the configured groups
-- Reply: the requeued cids
local p, now, maxlen = ARGV[1], tonumber(ARGV[2]), ARGV[4]
local out = {}
for _, cid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))) do
  redis.call('ZREM', KEYS[1], cid)
  local ck = p .. 'conv:' .. cid
  local h = redis.call('HMGET', ck, F.agent, F.group, F.due_ms, F.seq, F.epoch, F.enq_ms)
  if h[1] then redis.call('SREM', p .. 'agent:' .. h[1] .. ':convs', cid) end
  if h[2] and h[4] then
    local epoch = redis.call('HINCRBY', ck, F.epoch, 1)
    redis.call('HSET', ck, F.mode, MODE.waiting)
    redis.call('HDEL', ck, F.agent, F.claimed_ms, F.notice)
    redis.call('ZADD', p .. 'wait:' .. h[2], qscore(h[3] or h[6] or now, h[4]), cid)
    redis.call('XADD', p .. 'events:' .. h[2], 'MAXLEN', '~', maxlen, '*', 'type', 'requeued',
      'conv', cid, 'group', h[2], 'agent', h[1] or '', 'epoch', epoch, 'at', now)
    if h[1] then
      redis.call('XADD', p .. 'agent:' .. h[1] .. ':events', 'MAXLEN', '~', maxlen, '*', 'type', 'lost',
        'conv', cid, 'group', h[2], 'epoch', tonumber(h[5] or 0), 'at', now)
    end
  end
  -- The lease is gone either way (a conversation without a group or place
  -- cannot be requeued, but its holder has lost it all the same).
  emit(p, cid, EV.lease_lost, now, EF.agent, h[1] or '', EF.group, h[2] or '')
  out[#out + 1] = cid
end
for i = 6, #ARGV do
  redis.call('ZREMRANGEBYSCORE', p .. 'group:' .. ARGV[i] .. ':online', '-inf', ARGV[5])
end
return out
