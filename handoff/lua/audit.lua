-- audit: one consistent snapshot of the queue for the invariant checks in
-- Go. Read-only.
--
-- KEYS[1] open     SET of conversations waiting or held
-- KEYS[2] leases   ZSET cid -> lease expiry (ms)
-- KEYS[3] agents   SET of agents
-- ARGV[1] key prefix  ARGV[2] ... the configured groups
-- Reply: {open cids, {group, {cid, score, ...}} per group, {cid, expiry, ...},
--         {aid, max, status, {held cids}, {offered cids}} per agent,
--         {cid, mode, group, agent, epoch, due_ms, seq, offer_agent} per conversation seen anywhere}
local p = ARGV[1]
local seen, list = {}, {}
local function note(cid)
  if not seen[cid] then seen[cid] = true; list[#list + 1] = cid end
end
local open = redis.call('SMEMBERS', KEYS[1])
for _, c in ipairs(open) do note(c) end
local waits = {}
for i = 2, #ARGV do
  local w = redis.call('ZRANGE', p .. 'wait:' .. ARGV[i], 0, -1, 'WITHSCORES')
  for j = 1, #w, 2 do note(w[j]) end
  waits[#waits + 1] = {ARGV[i], w}
end
local leases = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for j = 1, #leases, 2 do note(leases[j]) end
local agents = {}
for _, aid in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local a = redis.call('HMGET', p .. 'agent:' .. aid, 'max', 'status')
  local held = redis.call('SMEMBERS', p .. 'agent:' .. aid .. ':convs')
  for _, c in ipairs(held) do note(c) end
  agents[#agents + 1] = {aid, a[1] or '0', a[2] or '', held,
    redis.call('SMEMBERS', p .. 'agent:' .. aid .. ':offers')}
end
local convs = {}
for _, cid in ipairs(list) do
  local h = redis.call('HMGET', p .. 'conv:' .. cid, F.mode, F.group, F.agent, F.epoch, F.due_ms, F.seq, F.offer_agent)
  convs[#convs + 1] = {cid, h[1] or '', h[2] or '', h[3] or '', h[4] or '0', h[5] or '', h[6] or '', h[7] or ''}
end
return {open, waits, leases, agents, convs}
