-- lease: take or renew the polling lease, so that one gateway instance at a
-- time calls getUpdates (Telegram answers 409 to a second poller).
--
-- KEYS[1] tg:poller      the lease (STRING: the holder's token)
-- ARGV[1] token of this instance
-- ARGV[2] lease time (ms)
-- Reply: 1 when this instance holds the lease now, 0 when another does.
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
