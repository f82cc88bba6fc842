-- ingest: dedupe an inbound message by its channel id, create the
-- conversation if new (or reopen a closed one), and append the message to
-- the transcript, all at once: a retried delivery neither answers twice nor
-- writes a second transcript entry.
--
-- KEYS[1] seen:<channel>:<msg id>   dedupe marker
-- KEYS[2] conv:<conv id>            conversation hash
-- KEYS[3] tx:<conv id>              transcript stream
-- ARGV[1] dedupe TTL in seconds
-- ARGV[2] now (ms)
-- ARGV[3] channel   ARGV[4] user   ARGV[5] msg id   ARGV[6] text   ARGV[7] choice
-- ARGV[8] kind (text, start, human, media, leave, rating)
-- Reply: {0, stream id} when duplicate (stream id of the first delivery),
--        {1, stream id, HGETALL of the conversation} when new (saves the
--        caller a round trip to read it back).
local first = redis.call('GET', KEYS[1])
if first then
  return {0, first}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'channel', ARGV[3], 'user', ARGV[4], 'mode', 'bot',
    'low', 0, 'created', ARGV[2], 'updated', ARGV[2])
elseif redis.call('HGET', KEYS[2], 'mode') == 'closed' then
  redis.call('HSET', KEYS[2], 'mode', 'bot', 'low', 0, 'reason', '', 'urgent', 0)
end
redis.call('HSET', KEYS[2], 'updated', ARGV[2])
local id = redis.call('XADD', KEYS[3], '*', 'dir', 'in', 'msg_id', ARGV[5], 'kind', ARGV[8],
  'text', ARGV[6], 'choice', ARGV[7], 'at', ARGV[2])
redis.call('SET', KEYS[1], id, 'EX', tonumber(ARGV[1]))
return {1, id, redis.call('HGETALL', KEYS[2])}
