-- release: a delivery could not finish its message (an error it returned
-- to the channel, which will have it retried): end its lease now so that
-- the retry takes the message over at once instead of after the lease.
-- Its score in the in-flight set stays the end of the lease: the channel's
-- retry has the first go, and the recoverer takes over only when none came.
--
-- KEYS[1] seen:<channel>:<msg id>   HASH state, entry, until, epoch, stage
-- ARGV[1] epoch of the claim
-- Reply: 1 released, 0 not this delivery's (done, or taken over)
local h = redis.call('HMGET', KEYS[1], 'state', 'epoch')
if h[1] ~= 'pending' or h[2] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'until', 0)
return 1
