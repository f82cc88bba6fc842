-- position: where a conversation stands, and what the ETA needs: its place
-- in its group's queue, the group's online agents and their free slots, and
-- the group's recent handling times. Writes only its cache of the group's
-- agent figures (ARGV[4]).
--
-- KEYS[1] conv:<cid>   conversation hash
-- KEYS[2] leases       ZSET cid -> lease expiry (ms)
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] presence cutoff (ms): agents seen after it are online
-- ARGV[4] how old (ms) the group's agent figures may be; 0: read them now.
--         Read now, they are kept on group:<g>:figures (online, slots,
--         busy, cutoff), so that a burst of hand-offs into one group does
--         not read every online agent once per hand-off. Figures that
--         found nobody online are not reused: an agent who has just signed
--         in is seen at once (the customer is not told nobody is there).
-- ARGV[5] the told-bucket field  ARGV[6] the agent status that counts as online
-- Reply: {state ("waiting", "held" or "none"), group, rank (0-based, -1 when not waiting),
--         online agents, slots (their max chats), busy (chats they hold),
--         handled sum (ms), handled count, last notice bucket, urgent (0|1)}
local p, cid = ARGV[1], ARGV[2]
local h = redis.call('HMGET', KEYS[1], F.group, ARGV[5], F.prio)
local g = h[1] or ''
local state, rank = 'none', -1
local r = g ~= '' and redis.call('ZRANK', p .. 'wait:' .. g, cid)
if r then
  state, rank = 'waiting', r
elseif redis.call('ZSCORE', KEYS[2], cid) then
  state = 'held'
end
local online, slots, busy = 0, 0, 0
local maxAge, cutoff = tonumber(ARGV[4]), tonumber(ARGV[3])
local fkey = p .. 'group:' .. g .. ':figures'
local cached = false
if g ~= '' and maxAge > 0 then
  local f = redis.call('HMGET', fkey, 'online', 'slots', 'busy', 'cutoff')
  if f[4] and tonumber(f[1]) > 0 and tonumber(f[4]) > cutoff - maxAge and tonumber(f[4]) <= cutoff then
    online, slots, busy, cached = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), true
  end
end
if g ~= '' and not cached then
  for _, aid in ipairs(redis.call('ZRANGEBYSCORE', p .. 'group:' .. g .. ':online', '(' .. ARGV[3], '+inf')) do
    local a = redis.call('HMGET', p .. 'agent:' .. aid, 'max', 'status')
    if a[2] == ARGV[6] then
      local m = tonumber(a[1] or 0)
      online, slots = online + 1, slots + m
      busy = busy + math.min(m, redis.call('SCARD', p .. 'agent:' .. aid .. ':convs'))
    end
  end
  if maxAge > 0 then
    redis.call('HSET', fkey, 'online', online, 'slots', slots, 'busy', busy, 'cutoff', ARGV[3])
    redis.call('PEXPIRE', fkey, maxAge * 2)
  end
end
local sum, n = 0, 0
if g ~= '' then
  for _, v in ipairs(redis.call('LRANGE', p .. 'group:' .. g .. ':handled', 0, -1)) do
    sum, n = sum + tonumber(v), n + 1
  end
end
return {state, g, rank, online, slots, busy, sum, n, h[2] or '', h[3] == 'urgent' and 1 or 0}
