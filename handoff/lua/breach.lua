-- breach: record that a conversation missed a service-level target, once.
-- The caller (SLA sweep, any instance) computed the deadline; this checks,
-- atomically, that the breach still stands and was not recorded yet, marks
-- it on the conversation and emits sla_breached{target, priority, group,
-- agent, due_ms}, and tells the consoles (the group's or the holder's event
-- stream). A new hand-off clears the marks.
--
-- KEYS[1] conv:<cid>
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] target (first_response|next_response|resolution)
-- ARGV[4] due (ms)    ARGV[5] now (ms)  ARGV[6] events MAXLEN
-- ARGV[7] the hand-off it is about (enq_ms as read)  ARGV[8] for next_response: await_ms as read
-- Reply: 1 recorded now, 0 not (already recorded, answered meanwhile, closed, or a new hand-off)
local p, cid, target, now = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local h = redis.call('HMGET', KEYS[1], F.mode, F.enq_ms, F.replied_ms, F.await_ms, F.sla_breached,
  F.group, F.agent, F.prio)
if h[1] ~= MODE.waiting and h[1] ~= MODE.agent then return 0 end
if h[2] ~= ARGV[7] then return 0 end
local mark = target
if target == 'first_response' then
  if h[3] then return 0 end
elseif target == 'next_response' then
  if h[4] ~= ARGV[8] then return 0 end
  mark = target .. '@' .. ARGV[8]
end
local marks = h[5] or ','
if string.find(marks, ',' .. mark .. ',', 1, true) then return 0 end
redis.call('HSET', KEYS[1], F.sla_breached, marks .. mark .. ',')
local agent = ''
if h[1] == MODE.agent then agent = h[7] or '' end
emit(p, cid, EV.sla_breached, now, EF.target, target, EF.priority, h[8] or 'normal', EF.group, h[6] or '',
  EF.agent, agent, EF.due_ms, ARGV[4])
local key = p .. 'events:' .. (h[6] or '')
if agent ~= '' then key = p .. 'agent:' .. agent .. ':events' end
redis.call('XADD', key, 'MAXLEN', '~', ARGV[6], '*', 'type', 'sla_breached', 'conv', cid, 'group', h[6] or '',
  'target', target, 'at', now)
return 1
