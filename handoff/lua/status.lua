-- status: a signed-in agent marks themself busy or away (no new offers,
-- not counted for the ETA; they keep their conversations) or back online.
--
-- KEYS[1] agent:<aid>   agent hash
-- ARGV[1] "online", "busy" or "away"  ARGV[2] now (ms)
-- Reply: 1
-- Errors: UNKNOWN_AGENT, OFFLINE (signed out: sign in again)
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return redis.error_reply('UNKNOWN_AGENT') end
if st == 'offline' then return redis.error_reply('OFFLINE') end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'seen', ARGV[2])
return 1
