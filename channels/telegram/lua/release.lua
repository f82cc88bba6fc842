-- release: give up the polling lease if this instance still holds it, so
-- another instance (or a restart) polls at once instead of waiting for it to
-- expire.
--
-- KEYS[1] tg:poller      the lease
-- ARGV[1] token of this instance
-- Reply: 1 when released, 0 when another instance held it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
