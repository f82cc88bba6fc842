-- touch: the customer wrote (or subscribed, or clicked a menu), so the
-- customer-service window opens again and the reply quota starts over. A
-- retried delivery of the same message does not reset the quota.
--
-- KEYS[1] win:<openid>   HASH at (ms of the last message), n (sent since), mid
-- ARGV[1] now (ms)
-- ARGV[2] the message's dedupe id
-- ARGV[3] key TTL (ms): a little more than the window
-- Reply: 1
if redis.call('HGET', KEYS[1], 'mid') ~= ARGV[2] then
  redis.call('HSET', KEYS[1], 'at', ARGV[1], 'n', 0, 'mid', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
