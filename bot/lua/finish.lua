-- finish: record what the handling of one inbound message wrote (the
-- conversation's bot-owned fields, the replies) and mark the message done,
-- all at once and only if this delivery still owns the message: a delivery
-- whose lease ran out and was taken over writes nothing. Each reply names
-- the inbound entry it answers (re), so that a retry of the message can be
-- given the replies recorded for it. Done, the message leaves the in-flight
-- set and its marker drops the copy of the message.
--
-- KEYS[1] seen:<channel>:<msg id>   HASH state, entry, until, epoch, stage, msg
-- KEYS[2] conv:<conv id>            conversation hash
-- KEYS[3] tx:<conv id>              transcript stream
-- KEYS[4] inflight                  ZSET <channel>:<msg id> -> end of the lease (ms)
-- ARGV[1] epoch of the claim (from ingest.lua)
-- ARGV[2] now (ms)
-- ARGV[3] 'done', or 'stage': record a first part and keep the claim
--         (a hand-off: the notice is recorded before the queue is asked)
-- ARGV[4] stage (JSON of the replies recorded so far, for ARGV[3] = 'stage')
-- ARGV[5] the message's member in the in-flight set
-- ARGV[6] n: conversation field/value arguments that follow (0: none)
-- ARGV[7 .. 6+n] field, value, ...
-- then 5 arguments per reply: kind, intent, text, agent, choices (JSON)
-- Reply: 1 written, 0 refused (the claim is done or another delivery's)
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'entry')
if h[1] ~= 'pending' or h[2] ~= ARGV[1] then
  return 0
end
local n = tonumber(ARGV[6])
if n > 0 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 7, 6 + n))
end
for i = 7 + n, #ARGV, 5 do
  redis.call('XADD', KEYS[3], '*', 'dir', 'out', 'kind', ARGV[i], 'intent', ARGV[i + 1],
    'text', ARGV[i + 2], 'agent', ARGV[i + 3], 'choices', ARGV[i + 4], 'at', ARGV[2], 're', h[3])
end
if ARGV[3] == 'done' then
  redis.call('HSET', KEYS[1], 'state', 'done')
  redis.call('HDEL', KEYS[1], 'until', 'stage', 'msg')
  redis.call('ZREM', KEYS[4], ARGV[5])
else
  redis.call('HSET', KEYS[1], 'stage', ARGV[4])
end
return 1
