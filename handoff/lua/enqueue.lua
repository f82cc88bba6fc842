-- enqueue: put a conversation in its group's wait queue, once, and emit the
-- lifecycle event handoff{reason, group, urgent, priority, due_ms}. The queue
-- is ordered by the first-response deadline (qscore: due, then arrival).
-- A repeated call (the bot retrying, a second 转人工) changes nothing, emits
-- nothing and reports where the conversation already is.
--
-- KEYS[1] conv:<cid>       conversation hash (shared with bot)
-- KEYS[2] seq              INCR counter: FIFO order that does not depend on clocks
-- KEYS[3] open             SET of conversations waiting or held by an agent
-- KEYS[4] leases           ZSET cid -> lease expiry (ms)
-- ARGV[1] key prefix       ARGV[2] cid      ARGV[3] group   ARGV[4] priority (low|normal|high|urgent)
-- ARGV[5] now (ms)         ARGV[6] channel  ARGV[7] user    ARGV[8] reason
-- ARGV[9] category         ARGV[10] events MAXLEN
-- ARGV[11] due (ms): now + the priority's first-response target
-- ARGV[12] the words that raised the priority (space-separated)
-- Reply: {state, group, rank} where state is
--   "new"     queued now (rank: 0-based place in the group's queue),
--   "waiting" already queued (its group and rank, unchanged),
--   "held"    an agent holds it (rank -1).
local p, cid, now, maxlen = ARGV[1], ARGV[2], ARGV[5], ARGV[10]
local g0 = redis.call('HGET', KEYS[1], F.group)
if g0 and redis.call('ZSCORE', p .. 'wait:' .. g0, cid) then
  return {'waiting', g0, redis.call('ZRANK', p .. 'wait:' .. g0, cid)}
end
if redis.call('ZSCORE', KEYS[4], cid) then
  return {'held', g0 or '', -1}
end
local g, prio, due = ARGV[3], ARGV[4], ARGV[11]
local urgent = prio == 'urgent' and 1 or 0
local seq = redis.call('INCR', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], F.created, now, F.updated, now)
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], F.channel, ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], F.user, ARGV[7]) end
redis.call('HSETNX', KEYS[1], F.epoch, 0)
redis.call('HSET', KEYS[1], F.mode, MODE.waiting, F.group, g, F.prio, prio, F.prio_words, ARGV[12],
  F.prio_by, 'auto', F.due_ms, due, F.seq, seq, F.enq_ms, now,
  F.reason, ARGV[8], F.category, ARGV[9], F.urgent, urgent)
-- A new hand-off: the next agent message is its first (agent_message first=1).
redis.call('HDEL', KEYS[1], F.agent, F.claimed_ms, F.notice, F.offer_agent, F.offer_until, F.offer_skip,
  F.replied_ms, F.await_ms, F.sla_breached, F.offer_why, F.assign_why)
local wait = p .. 'wait:' .. g
redis.call('ZADD', wait, qscore(due, seq), cid)
redis.call('SADD', KEYS[3], cid)
redis.call('XADD', p .. 'events:' .. g, 'MAXLEN', '~', maxlen, '*', 'type', 'enqueued', 'conv', cid,
  'group', g, 'urgent', urgent, 'reason', ARGV[8], 'at', now)
emit(p, cid, EV.handoff, now, EF.reason, ARGV[8], EF.group, g, EF.urgent, urgent, EF.priority, prio,
  EF.words, ARGV[12], EF.due_ms, due)
return {'new', g, redis.call('ZRANK', wait, cid)}
