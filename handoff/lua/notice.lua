-- notice: compare-and-set of the last position/ETA bucket the customer was
-- told, so that only one instance sends a notice for one change.
--
-- KEYS[1] conv:<cid>   conversation hash
-- ARGV[1] the bucket now  ARGV[2] the told-bucket field
-- Reply: 1 when it differs from the stored one (now stored), else 0
if redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
return 1
