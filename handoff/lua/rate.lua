-- rate: the customer's satisfaction rating after a close, stored on the
-- conversation and credited to the agent who closed it. Once per close, and
-- only within the survey window (the customer's answer may already have
-- reopened the conversation with the bot: that is fine). Emits
-- rated{score, comment, agent}; a refused rating emits nothing.
--
-- KEYS[1] conv:<cid>   conversation hash
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] score 1..5  ARGV[4] comment  ARGV[5] now (ms)
-- ARGV[6] survey window (ms)  ARGV[7] events MAXLEN
-- Reply: the agent credited
-- Errors: NO_SURVEY (never closed by an agent, or the window has passed), ALREADY_RATED
local p, cid, now = ARGV[1], ARGV[2], tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[1], F.closed_ms, F.last_agent, F.rated_close)
if not h[1] or not h[2] or now - tonumber(h[1]) > tonumber(ARGV[6]) then
  return redis.error_reply('NO_SURVEY')
end
if h[3] == h[1] then return redis.error_reply('ALREADY_RATED') end
redis.call('HSET', KEYS[1], F.rating, ARGV[3], F.rating_comment, ARGV[4], F.rating_agent, h[2],
  F.rated_ms, now, F.rated_close, h[1])
local ak = p .. 'agent:' .. h[2]
redis.call('HINCRBY', ak, 'ratings_n', 1)
redis.call('HINCRBY', ak, 'ratings_sum', tonumber(ARGV[3]))
redis.call('XADD', ak .. ':ratings', 'MAXLEN', '~', ARGV[7], '*', 'conv', cid, 'rating', ARGV[3],
  'comment', ARGV[4], 'at', now)
redis.call('XADD', ak .. ':events', 'MAXLEN', '~', ARGV[7], '*', 'type', 'rated', 'conv', cid,
  'rating', ARGV[3], 'at', now)
emit(p, cid, EV.rated, now, EF.score, ARGV[3], EF.comment, ARGV[4], EF.agent, h[2])
return h[2]
