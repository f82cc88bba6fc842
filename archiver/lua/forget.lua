-- forget: remove a consumer from the group, only if it holds no entry
-- (XGROUP DELCONSUMER drops a consumer's pending entries with it).
-- KEYS[1] the lifecycle stream
-- ARGV[1] the group   ARGV[2] the consumer
-- Reply: 0 when there is no such consumer, -1 when it holds entries, else
-- what DELCONSUMER replies (0 pending entries dropped).
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] end
  end
  if name == ARGV[2] then
    if pending == 0 then return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) end
    return -1
  end
end
return 0
