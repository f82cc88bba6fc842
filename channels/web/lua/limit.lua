-- limit.lua: refuse a revoked visitor's token, then take one unit from each
-- of several GCRA buckets (generic cell rate algorithm): from all of them or,
-- when any is empty, from none. Each bucket holds its theoretical arrival
-- time and lives only until it is full again.
--
-- KEYS[1]       the visitor's revocation key: tokens issued before its value
--               (unix ms) are revoked; read only when ARGV[2] >= 0
-- KEYS[2..n+1]  the buckets
-- ARGV[1]       now, unix ms
-- ARGV[2]       the token's issue time, unix ms; -1: no token to check
-- ARGV[3..]     per bucket, in KEYS order: interval (ms per unit), burst
--
-- Reply: 0 taken from every bucket; -1 revoked (nothing taken); otherwise
-- the ms to wait before the same request would pass (nothing taken).
local now = tonumber(ARGV[1])
local iat = tonumber(ARGV[2])
if iat >= 0 then
  local nb = redis.call('GET', KEYS[1])
  if nb and iat < tonumber(nb) then
    return -1
  end
end
local wait = 0
local tats = {}
for i = 2, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then
    tat = now
  end
  local new = tat + interval
  local over = new - now - burst * interval
  if over > wait then
    wait = over
  end
  tats[i] = new
end
if wait > 0 then
  return math.ceil(wait)
end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.max(1, math.ceil(tats[i] - now)))
end
return 0
