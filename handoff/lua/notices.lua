-- notices: the position notices of one group's queue in one step. The
-- group's figures for the ETA (online agents, their slots and chats held,
-- recent handling times) are read once; then for each waiting conversation,
-- in order, the rank and ETA buckets the customer would be told now are
-- compared with the ones last told (the notice field of its hash), and the
-- changed ones are stored as told and returned. Atomic, so of several
-- instances running it at once only one hears of each change.
--
-- KEYS[1] wait:<group>            the group's queue (score qscore(due, seq))
-- KEYS[2] group:<group>:online    ZSET aid -> last heartbeat (ms)
-- KEYS[3] group:<group>:handled   LIST recent handling times (ms)
-- ARGV[1] conversation key prefix (conv:)  ARGV[2] presence cutoff (ms)  ARGV[3] default handling time (ms)
-- ARGV[4] the told-bucket field  ARGV[5] the agent status that counts as online
-- ARGV[6] the priority field's value of an urgent conversation
-- ARGV[7] "more" rank (told beyond the last rank step)  ARGV[8] R: how many rank steps
-- ARGV[9 .. 8+R] rank steps (ascending)
-- then: agent key prefix (agent:), the suffix of an agent's held set (:convs),
-- the agent fields for max chats and status, then the ETA steps (ms, ascending)
-- Reply: {online, slots, busy, handled sum (ms), handled count,
--         {cid, rank (0-based), urgent (0|1), ...} of the conversations whose bucket changed}
-- A bucket is "<rank step>|<ETA step index>" (index -1: no ETA), as bucket() in position.go.
local cp, cutoff, field = ARGV[1], ARGV[2], ARGV[4]
local nr = tonumber(ARGV[8])
local ranks, etas = {}, {}
for i = 1, nr do ranks[i] = tonumber(ARGV[8 + i]) end
local ap, held, fmax, fstatus = ARGV[9 + nr], ARGV[10 + nr], ARGV[11 + nr], ARGV[12 + nr]
for i = 13 + nr, #ARGV do etas[#etas + 1] = tonumber(ARGV[i]) end
local more, urgentName = tonumber(ARGV[7]), ARGV[6]

local online, slots, busy = 0, 0, 0
for _, aid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. cutoff, '+inf')) do
  local a = redis.call('HMGET', ap .. aid, fmax, fstatus)
  if a[2] == ARGV[5] then
    local m = tonumber(a[1] or 0)
    online, slots = online + 1, slots + m
    busy = busy + math.min(m, redis.call('SCARD', ap .. aid .. held))
  end
end
local sum, n = 0, 0
for _, v in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
  sum, n = sum + tonumber(v), n + 1
end
local avg = tonumber(ARGV[3])
if n > 0 then avg = math.floor(sum / n) end
local free = math.max(slots - busy, 0)

-- The ETA of the k-th in line (k from 0) is 0 when k < free, else
-- (k-free+1)*avg/slots; its step is the first one it is under.
local function etaStep(k)
  if online == 0 or slots == 0 then return -1 end
  local units = 0
  if k >= free then units = k - free + 1 end
  for i, s in ipairs(etas) do
    if units * avg < s * slots then return i - 1 end
  end
  return #etas
end
local function rankStep(r)
  for _, s in ipairs(ranks) do
    if r <= s then return s end
  end
  return more
end

local changed = {}
local items = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #items, 2 do
  local cid, k = items[i], (i - 1) / 2
  local b = rankStep(k + 1) .. '|' .. etaStep(k)
  local ck = cp .. cid
  local h = redis.call('HMGET', ck, field, F.prio)
  if h[1] ~= b then
    redis.call('HSET', ck, field, b)
    changed[#changed + 1] = cid
    changed[#changed + 1] = k
    changed[#changed + 1] = h[2] == urgentName and 1 or 0
  end
end
return {online, slots, busy, sum, n, changed}
