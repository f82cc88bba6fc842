-- expire: once a close (or an abandonment) of a thread is archived, let its
-- conversation hash and transcript expire, if the thread is still closed in
-- that episode. A customer who wrote again meanwhile started a new episode
-- (bot PERSISTs the keys then): nothing expires.
-- Made with conv.Script (MODE, F).
-- KEYS[1] conv:<thread>   KEYS[2] tx:<thread>
-- ARGV[1] the event's episode   ARGV[2] the lifetime (ms)
-- Reply: 1 when the keys now expire, 0 when the thread moved on.
if redis.call('HGET', KEYS[1], F.ep) ~= ARGV[1] or redis.call('HGET', KEYS[1], F.mode) ~= MODE.closed then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
