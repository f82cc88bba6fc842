-- waiting: the head of a group's queue for the console's list, in one
-- consistent read: the first conversations in order and the fields asked
-- for from each one's hash. Work is bounded by the limit, not by the queue.
-- Read-only.
--
-- KEYS[1] wait:<group>   the group's queue
-- ARGV[1] conversation key prefix (conv:)  ARGV[2] how many (-1: all)  ARGV[3] ... the hash fields to read
-- Reply: {queue length, {cid, score, {field values ("" when missing)}}, ...}
local p, n = ARGV[1], tonumber(ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
local stop = -1
if n >= 0 then stop = n - 1 end
local out = {redis.call('ZCARD', KEYS[1])}
if stop < 0 and n >= 0 then return out end
local items = redis.call('ZRANGE', KEYS[1], 0, stop, 'WITHSCORES')
for i = 1, #items, 2 do
  local h = redis.call('HMGET', p .. items[i], unpack(fields))
  for j = 1, #fields do h[j] = h[j] or '' end
  out[#out + 1] = {items[i], items[i + 1], h}
end
return out
