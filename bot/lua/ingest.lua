-- ingest: claim an inbound message by its channel id, create the
-- conversation if new (or reopen a closed one), and append the message to
-- the transcript, all at once. The dedupe marker is a claim with a lease:
-- "pending" until the reply is recorded (finish.lua marks it "done" in the
-- same script as the reply), so that a retry of a message whose handling did
-- not complete is handled, once, and a retry of a completed one is not.
-- A pending message is also in the in-flight set, scored by the end of its
-- lease, with the message itself on the marker: when a delivery vanishes
-- (its instance died) the recoverer of a surviving instance takes it over
-- after the lease, with no retry from the customer's side.
--
-- KEYS[1] seen:<channel>:<msg id>   HASH state (pending|done), entry, until, epoch, stage, msg
-- KEYS[2] conv:<conv id>            conversation hash
-- KEYS[3] tx:<conv id>              transcript stream
-- KEYS[4] inflight                  ZSET <channel>:<msg id> -> end of the lease (ms)
-- ARGV[1] dedupe TTL in seconds
-- ARGV[2] now (ms)
-- ARGV[3] channel   ARGV[4] user   ARGV[5] msg id   ARGV[6] text   ARGV[7] choice
-- ARGV[8] kind (text, start, human, media, leave, rating)
-- ARGV[9] lease (ms): how long this delivery owns the message
-- ARGV[10] the message (JSON), kept on the marker while pending so that it
--          can be handled again without the channel
-- ARGV[11] '1': take over only (the recoverer): a message that is not
--          pending (done, or its marker gone) is not claimed, and leaves the
--          in-flight set
-- ARGV[12] the message's member in the in-flight set
-- ARGV[13], ARGV[14] the conversation's preview fields: last customer text, its time (ms)
-- ARGV[15] the text cut for the preview (empty: the preview is left as it was)
-- Reply: {0, stream id} when done (stream id of the first delivery; false
--        when a take-over found no marker),
--        {2, stream id} when another delivery holds an unexpired lease,
--        {1, stream id, HGETALL of the conversation, epoch, stage} when this
--        delivery owns it now: new (epoch 1), or taken over after the lease
--        of an unfinished delivery ran out (epoch + 1; the inbound entry is
--        not written again; stage: replies an earlier delivery recorded).
local now = tonumber(ARGV[2])
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
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'channel', ARGV[3], 'user', ARGV[4], 'mode', 'bot',
    'low', 0, 'created', ARGV[2], 'updated', ARGV[2])
elseif redis.call('HGET', KEYS[2], 'mode') == 'closed' then
  redis.call('HSET', KEYS[2], 'mode', 'bot', 'low', 0, 'reason', '', 'urgent', 0)
end
if not entry and ARGV[15] ~= '' then
  redis.call('HSET', KEYS[2], 'updated', ARGV[2], ARGV[13], ARGV[15], ARGV[14], ARGV[2])
else
  redis.call('HSET', KEYS[2], 'updated', ARGV[2])
end
if not entry then
  entry = redis.call('XADD', KEYS[3], '*', 'dir', 'in', 'msg_id', ARGV[5], 'kind', ARGV[8],
    'text', ARGV[6], 'choice', ARGV[7], 'at', ARGV[2])
end
local lease = now + tonumber(ARGV[9])
redis.call('HSET', KEYS[1], 'state', 'pending', 'entry', entry,
  'until', lease, 'epoch', epoch, 'msg', ARGV[10])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('ZADD', KEYS[4], lease, ARGV[12])
return {1, entry, redis.call('HGETALL', KEYS[2]), epoch, stage}
