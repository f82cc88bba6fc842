-- finish: commit what the handling of one inbound message decided (the
-- conversation's bot-owned fields, the replies, the lifecycle events of the
-- change) and mark the message done, all at once and only if this delivery
-- still owns the message: a delivery whose lease ran out and was taken over
-- writes nothing. Each reply is one transcript entry and one bot_reply
-- event; each names the inbound entry it answers (re), so that a retry of
-- the message can be given the replies recorded for it. Done, the message
-- leaves the in-flight set and its marker drops the copy of the message.
-- Without a claim (ARGV[1] empty: a conversation loaded, not claimed) the
-- fields, events and replies are written as they are.
--
-- KEYS[1] seen:<channel>:<msg id>   HASH state, entry, until, epoch, stage, msg
--         (without a claim: the conversation hash again, not read)
-- KEYS[2] conv:<thread>             conversation hash
-- KEYS[3] tx:<thread>               transcript stream
-- KEYS[4] inflight                  ZSET <channel>:<msg id> -> end of the lease (ms)
-- KEYS[5] active                    ZSET thread -> last customer activity (ms)
-- ARGV[1] epoch of the claim (from ingest.lua); '' without a claim
-- ARGV[2] now (ms)
-- ARGV[3] 'done', or 'stage': record a first part and keep the claim
--         (a hand-off: the notice is recorded before the queue is asked)
-- ARGV[4] stage (JSON of the replies recorded so far, for ARGV[3] = 'stage')
-- ARGV[5] the message's member in the in-flight set
-- ARGV[6] key prefix   ARGV[7] thread
-- ARGV[8] '1': the bot ended the episode: the thread leaves the active set
-- ARGV[9] n: conversation field/value arguments that follow (0: none)
-- ARGV[10 .. 9+n] field, value, ...
-- then r, the number of replies, and 7 arguments per reply: kind, intent,
--   text, agent, choices (JSON), confidence, guesses (JSON)
-- then the events, each: type, k, and k field/value arguments
-- Reply: 1 written, 0 refused (the claim is done or another delivery's)
local claimed, re = ARGV[1] ~= '', ''
if claimed then
  local h = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'entry')
  if h[1] ~= 'pending' or h[2] ~= ARGV[1] then
    return 0
  end
  re = h[3]
end
local p, thread, now = ARGV[6], ARGV[7], ARGV[2]
local i = 9
local n = tonumber(ARGV[i])
if n > 0 then
  redis.call('HSET', KEYS[2], unpack(ARGV, i + 1, i + n))
end
i = i + n + 1
-- The events of the change come first, then the replies.
local r = tonumber(ARGV[i])
local replies = i + 1
i = replies + 7 * r
while i <= #ARGV do
  local k = tonumber(ARGV[i + 1])
  emit(p, thread, ARGV[i], now, unpack(ARGV, i + 2, i + 1 + k))
  i = i + 2 + k
end
for j = replies, replies + 7 * (r - 1), 7 do
  local kind, intent, text = ARGV[j], ARGV[j + 1], ARGV[j + 2]
  redis.call('XADD', KEYS[3], '*', 'dir', 'out', 'kind', kind, 'intent', intent,
    'text', text, 'agent', ARGV[j + 3], 'choices', ARGV[j + 4], 'at', now, 're', re)
  emit(p, thread, EV.bot_reply, now, EF.action, kind, EF.kind, kind, EF.text, text, EF.intent, intent,
    EF.confidence, ARGV[j + 5], EF.guesses, ARGV[j + 6])
end
if ARGV[8] == '1' then
  redis.call('ZREM', KEYS[5], thread)
end
if not claimed then
  return 1
end
if ARGV[3] == 'done' then
  redis.call('HSET', KEYS[1], 'state', 'done')
  redis.call('HDEL', KEYS[1], 'until', 'stage', 'msg')
  redis.call('ZREM', KEYS[4], ARGV[5])
else
  redis.call('HSET', KEYS[1], 'stage', ARGV[4])
end
return 1
