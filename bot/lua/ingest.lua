-- ingest: claim an inbound message by its channel id, start a new episode
-- of the thread when it is due, and append the message to the transcript,
-- all at once, with the lifecycle events of these changes. The dedupe
-- marker is a claim with a lease: "pending" until the reply is recorded
-- (finish.lua marks it "done" in the same script as the reply), so that a
-- retry of a message whose handling did not complete is handled, once, and a
-- retry of a completed one is not. A pending message is also in the
-- in-flight set, scored by the end of its lease, with the message itself on
-- the marker: when a delivery vanishes (its instance died) the recoverer of
-- a surviving instance takes it over after the lease, with no retry from the
-- customer's side.
--
-- A new episode starts (F.ep + 1, conversation_started) when the thread is
-- new, closed, or with the bot and idle (last updated before now - idle: the
-- old episode is closed first, closed{by = idle}); a message that answers a
-- survey or says the customer left does not start one. Its keys lose any
-- expiry (retention sets one on closed, archived episodes). Each new message
-- emits customer_message and marks the thread active. A take-over writes
-- nothing the first delivery wrote: no entry, no event.
--
-- KEYS[1] seen:<channel>:<msg id>   HASH state (pending|done), entry, until, epoch, stage, msg
-- KEYS[2] conv:<thread>             conversation hash
-- KEYS[3] tx:<thread>               transcript stream
-- KEYS[4] inflight                  ZSET <channel>:<msg id> -> end of the lease (ms)
-- KEYS[5] active                    ZSET thread -> last customer activity (ms)
-- ARGV[1] dedupe TTL in seconds
-- ARGV[2] now (ms)
-- ARGV[3] channel   ARGV[4] user   ARGV[5] msg id   ARGV[6] text   ARGV[7] choice
-- ARGV[8] kind (text '', start, human, media, leave, rating)
-- ARGV[9] lease (ms): how long this delivery owns the message
-- ARGV[10] the message (JSON), kept on the marker while pending so that it
--          can be handled again without the channel
-- ARGV[11] '1': take over only (the recoverer): a message that is not
--          pending (done, or its marker gone) is not claimed, and leaves the
--          in-flight set
-- ARGV[12] the message's member in the in-flight set
-- ARGV[13] the text cut for the preview (empty: the preview is left as it was)
-- ARGV[14] key prefix   ARGV[15] thread
-- ARGV[16] idle (ms): a bot episode quiet this long is over
-- ARGV[17] whether the message may start an episode: '1' yes, '0' no (a
--          leave, a rating), 'r' unless a survey is pending (a bare 1-5)
-- ARGV[18] the channel's language hint ('' none)
-- ARGV[19] the closed event's by for an idle episode
-- ARGV[20] the key of a stored file the message carries ('' none): the
--          entry's and the customer_message event's media field
-- ARGV[21] the customer's name on the channel ('' unknown: the one kept stays)
-- Reply: {0, stream id} when done (stream id of the first delivery; false
--        when a take-over found no marker),
--        {2, stream id} when another delivery holds an unexpired lease,
--        {1, stream id, HGETALL of the conversation, epoch, stage} when this
--        delivery owns it now: new (epoch 1), or taken over after the lease
--        of an unfinished delivery ran out (epoch + 1; the inbound entry is
--        not written again; stage: replies an earlier delivery recorded).
local now = tonumber(ARGV[2])
local p, thread = ARGV[14], ARGV[15]
local entry, epoch, stage = false, 1, ''
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'string' then
  -- a marker written before claims existed: that message was handled
  return {0, redis.call('GET', KEYS[1])}
elseif t == 'hash' then
  local h = redis.call('HMGET', KEYS[1], 'state', 'entry', 'until', 'epoch', 'stage')
  if h[1] ~= 'pending' then
    if ARGV[11] == '1' then
      redis.call('ZREM', KEYS[4], ARGV[12])
    end
    return {0, h[2]}
  end
  if tonumber(h[3]) > now then
    return {2, h[2]}
  end
  entry, epoch, stage = h[2], tonumber(h[4]) + 1, h[5] or ''
elseif ARGV[11] == '1' then
  redis.call('ZREM', KEYS[4], ARGV[12])
  return {0, false}
end
if not entry then
  local c = redis.call('HMGET', KEYS[2], F.mode, F.updated, F.ep, F.survey, F.lang)
  local mode = c[1]
  local opens = ARGV[17] == '1' or (ARGV[17] == 'r' and c[4] ~= '1')
  local idle = mode == MODE.bot and (tonumber(c[2]) or 0) < now - tonumber(ARGV[16])
  if not mode or (opens and (mode == MODE.closed or idle)) then
    if mode and idle and c[3] then
      emit(p, thread, EV.closed, ARGV[2], EF.by, ARGV[19])
    end
    local lang = ARGV[18]
    if lang == '' then lang = c[5] or '' end
    redis.call('HINCRBY', KEYS[2], F.ep, 1)
    redis.call('HSET', KEYS[2], F.channel, ARGV[3], F.user, ARGV[4], F.mode, MODE.bot, F.low, 0,
      F.reason, '', F.urgent, 0, F.created, ARGV[2])
    redis.call('PERSIST', KEYS[2])
    redis.call('PERSIST', KEYS[3])
    emit(p, thread, EV.conversation_started, ARGV[2], EF.channel, ARGV[3], EF.customer, thread, EF.lang, lang)
  end
  if ARGV[13] ~= '' then
    redis.call('HSET', KEYS[2], F.last_in, ARGV[13], F.last_in_ms, ARGV[2])
  end
  if ARGV[21] ~= '' then
    redis.call('HSET', KEYS[2], F.customer_nick, ARGV[21])
  end
  if ARGV[20] ~= '' then
    entry = redis.call('XADD', KEYS[3], '*', 'dir', 'in', 'msg_id', ARGV[5], 'kind', ARGV[8],
      'text', ARGV[6], 'choice', ARGV[7], 'at', ARGV[2], 'media', ARGV[20])
    emit(p, thread, EV.customer_message, ARGV[2], EF.text, ARGV[6], EF.kind, ARGV[8], EF.msg_id, ARGV[5],
      EF.media, ARGV[20])
  else
    entry = redis.call('XADD', KEYS[3], '*', 'dir', 'in', 'msg_id', ARGV[5], 'kind', ARGV[8],
      'text', ARGV[6], 'choice', ARGV[7], 'at', ARGV[2])
    emit(p, thread, EV.customer_message, ARGV[2], EF.text, ARGV[6], EF.kind, ARGV[8], EF.msg_id, ARGV[5])
  end
  redis.call('ZADD', KEYS[5], now, thread)
end
redis.call('HSET', KEYS[2], F.updated, ARGV[2])
local lease = now + tonumber(ARGV[9])
redis.call('HSET', KEYS[1], 'state', 'pending', 'entry', entry,
  'until', lease, 'epoch', epoch, 'msg', ARGV[10])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('ZADD', KEYS[4], lease, ARGV[12])
return {1, entry, redis.call('HGETALL', KEYS[2]), epoch, stage}
