-- sweep: close the bot's threads idle since before the cutoff. Each thread
-- in the active set whose last activity is at or before ARGV[2] and whose
-- mode is still bot is closed (mode closed, closed_ms) and emits
-- closed{by: idle}; every thread read leaves the set (a thread with a
-- person, or closed already, is not the sweeper's; bot's ingest adds a
-- thread back on its next message).
-- Made with conv.Script (MODE, F, EV, EF, emit).
-- KEYS[1] active (ZSET thread -> last activity ms)
-- ARGV[1] key prefix   ARGV[2] cutoff (ms)   ARGV[3] now (ms)   ARGV[4] at most this many threads
-- ARGV[5] the conversation key's part before the thread ("conv:")   ARGV[6] the closer's name (conv.ByIdle)
-- Reply: {threads closed, threads read}
local p = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
local closed = 0
for _, thread in ipairs(ids) do
  local ck = p .. ARGV[5] .. thread
  if redis.call('HGET', ck, F.mode) == MODE.bot then
    redis.call('HSET', ck, F.mode, MODE.closed, F.closed_ms, ARGV[3])
    emit(p, thread, EV.closed, ARGV[3], EF.by, ARGV[6])
    closed = closed + 1
  end
  redis.call('ZREM', KEYS[1], thread)
end
return {closed, #ids}
