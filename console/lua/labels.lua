-- labels: add and remove labels (tags) of a conversation's current episode,
-- and emit labels_changed{labels, added, removed, agent, seq} in the same
-- step. Labels of an earlier episode (FieldLabelsEp) count as none. No
-- change, no event.
--
-- KEYS[1] conv:<thread>
-- ARGV[1] key prefix  ARGV[2] thread  ARGV[3] now (ms)  ARGV[4] agent
-- ARGV[5] labels to add (space-separated)  ARGV[6] labels to remove
-- ARGV[7] the most labels a conversation may have
-- Reply: {changed (0|1), labels (space-separated)}
-- Errors: NOT_FOUND (no such conversation), TOO_MANY
local p, thread, now, agent = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local h = redis.call('HMGET', KEYS[1], F.ep, F.labels, F.labels_ep, F.labels_seq, F.mode)
if not h[5] then return redis.error_reply('NOT_FOUND') end
local ep = h[1] or '0'
local set, before = {}, {}
if h[3] == ep and h[2] then
  for l in string.gmatch(h[2], '%S+') do set[l] = true; before[l] = true end
end
for l in string.gmatch(ARGV[5], '%S+') do set[l] = true end
for l in string.gmatch(ARGV[6], '%S+') do set[l] = nil end
local list, added, removed = {}, {}, {}
for l in pairs(set) do
  table.insert(list, l)
  if not before[l] then table.insert(added, l) end
end
for l in pairs(before) do if not set[l] then table.insert(removed, l) end end
table.sort(list)
local joined = table.concat(list, ' ')
if #added == 0 and #removed == 0 then return {0, joined} end
if #list > tonumber(ARGV[7]) then return redis.error_reply('TOO_MANY') end
local seq = redis.call('HINCRBY', KEYS[1], F.labels_seq, 1)
redis.call('HSET', KEYS[1], F.labels, joined, F.labels_ep, ep)
table.sort(added)
table.sort(removed)
emit(p, thread, EV.labels_changed, now, EF.labels, joined, EF.added, table.concat(added, ' '),
  EF.removed, table.concat(removed, ' '), EF.agent, agent, EF.seq, seq)
return {1, joined}
