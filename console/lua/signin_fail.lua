-- signin_fail: count one failed sign-in (a wrong password, or an agent id
-- nobody has) against the client address and, when the id can be a key,
-- against the (agent, address) pair. A key that reaches its limit is locked
-- for base * 2^(failures - limit), capped: every failure after a lock ends
-- doubles the next one. A failure while either key is locked is not counted
-- (the caller refuses it as locked). A key is forgotten window after its
-- first failure, or window after the end of its last lock.
--
-- KEYS[1] signin:ip:<address>               HASH n (failures), until (lock end, ms)
-- KEYS[2] signin:pair:<agent>|<address>     the same (absent: no pair)
-- ARGV[1] now (ms)  ARGV[2] address limit  ARGV[3] pair limit
-- ARGV[4] first lock (ms)  ARGV[5] longest lock (ms)  ARGV[6] window (ms)
-- Reply: {until, placed}: until is the latest lock end over the keys (0: no
-- lock); placed is 1 when this failure locked a key, 0 when it was not
-- counted because a key was already locked or when no key reached its limit.
local now, base, cap, window = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3])}

local held = 0
for _, k in ipairs(KEYS) do
  local u = tonumber(redis.call('HGET', k, 'until')) or 0
  if u > now and u > held then held = u end
end
if held > 0 then return {held, 0} end

local latest, placed = 0, 0
for i, k in ipairs(KEYS) do
  local n = redis.call('HINCRBY', k, 'n', 1)
  local limit = limits[i]
  if n >= limit then
    local lock = base
    for _ = limit + 1, n do
      lock = lock * 2
      if lock >= cap then break end
    end
    if lock > cap then lock = cap end
    local u = now + lock
    redis.call('HSET', k, 'until', string.format('%.0f', u))
    redis.call('PEXPIRE', k, string.format('%.0f', lock + window))
    if u > latest then latest = u end
    placed = 1
  elseif n == 1 then
    redis.call('PEXPIRE', k, window)
  end
end
return {latest, placed}
