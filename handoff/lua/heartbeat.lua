-- heartbeat: an agent's console is alive. Refreshes the agent's presence in
-- its groups and extends the leases it still holds at the epoch it claimed
-- with; reports the ones it lost (reaped, transferred, taken over).
--
-- KEYS[1] agent:<aid>         agent hash
-- KEYS[2] agent:<aid>:groups  SET of the agent's groups
-- KEYS[3] leases              ZSET cid -> lease expiry (ms)
-- ARGV[1] key prefix  ARGV[2] aid  ARGV[3] now (ms)  ARGV[4] lease (ms)
-- ARGV[5], ARGV[6] ... pairs of cid, epoch the console believes it holds
-- Reply: the cids of those pairs that are no longer held (nothing extended for them)
-- Errors: UNKNOWN_AGENT, OFFLINE (signed out: sign in again)
local p, aid, now, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return redis.error_reply('UNKNOWN_AGENT') end
if st == 'offline' then return redis.error_reply('OFFLINE') end
redis.call('HSET', KEYS[1], 'seen', now)
for _, g in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('ZADD', p .. 'group:' .. g .. ':online', now, aid)
end
local lost = {}
for i = 5, #ARGV, 2 do
  local cid, epoch = ARGV[i], tonumber(ARGV[i + 1])
  local h = redis.call('HMGET', p .. 'conv:' .. cid, F.agent, F.epoch)
  local exp = tonumber(redis.call('ZSCORE', KEYS[3], cid) or 0)
  if h[1] == aid and tonumber(h[2]) == epoch and exp > now then
    redis.call('ZADD', KEYS[3], 'XX', now + lease, cid)
  else
    lost[#lost + 1] = cid
  end
end
return lost
