-- refund: a counted message was not delivered; give its quota back.
--
-- KEYS[1] win:<openid>   HASH at, n, mid
-- Reply: 1 when refunded, 0 when the window is gone
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 1
