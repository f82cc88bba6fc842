-- priority: change a conversation's priority (an agent's or supervisor's
-- choice, or the bot's re-reading of a customer message while it waits) and
-- move it in its queue to its new first-response deadline (hand-off time +
-- the new level's target). Emits priority_changed{from, to, by, words,
-- due_ms}; no change, no event.
--
-- KEYS[1] conv:<cid>
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] new level (low|normal|high|urgent)  ARGV[4] now (ms)
-- ARGV[5] by: "auto" or the agent's id  ARGV[6] the words that raised it (space-separated)
-- ARGV[7] the new first-response deadline (ms): the hand-off + the new level's target
-- ARGV[8] "raise": only ever raise (automatic re-reading), "set": any level
-- ARGV[9] the hand-off time (enq_ms) the deadline was computed from
-- Errors: RETRY when the conversation was handed off again meanwhile.
-- Reply: {changed (0|1), from, to}
-- Errors: NOT_OPEN (neither waiting nor held).
local p, cid, to, now, by = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local order = {low = 1, normal = 2, high = 3, urgent = 4}
local h = redis.call('HMGET', KEYS[1], F.mode, F.prio, F.prio_by, F.enq_ms, F.seq, F.group)
if h[1] ~= MODE.waiting and h[1] ~= MODE.agent then return redis.error_reply('NOT_OPEN') end
local from = h[2] or 'normal'
if from == '0' then from = 'urgent' elseif from == '1' then from = 'normal' end
if from == to then return {0, from, from} end
if ARGV[8] == 'raise' then
  -- An agent's choice stands against automatic re-reading; a re-reading
  -- only ever raises.
  if (h[3] and h[3] ~= 'auto') or (order[to] or 0) <= (order[from] or 0) then return {0, from, from} end
end
if (h[4] or '') ~= ARGV[9] then return redis.error_reply('RETRY') end
local due = ARGV[7]
redis.call('HSET', KEYS[1], F.prio, to, F.prio_words, ARGV[6], F.prio_by, by, F.due_ms, due)
if h[6] and redis.call('ZSCORE', p .. 'wait:' .. h[6], cid) then
  redis.call('ZADD', p .. 'wait:' .. h[6], qscore(due, h[5] or 0), cid)
end
emit(p, cid, EV.priority_changed, now, EF.from, from, EF.to, to, EF.by, by, EF.words, ARGV[6], EF.due_ms, due)
return {1, from, to}
