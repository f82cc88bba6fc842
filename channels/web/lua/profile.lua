-- profile: write who a web customer is (a verified shop identity) on their
-- conversation, with its customer_profile event, when the conversation
-- exists and something changed. A conversation that does not exist yet is
-- left alone (the conversation's first message creates it, and the channel
-- writes the profile right after).
--
-- KEYS[1] conv:<thread>    the conversation hash
-- ARGV[1] the key prefix (emit's)   ARGV[2] the thread   ARGV[3] now (ms)
-- ARGV[4] the shop's user id   ARGV[5] name   ARGV[6] phone   ARGV[7] level
-- ARGV[8] the identified user's thread this visitor signed in as ('': none)
-- Reply: the conversation's mode, '' when there is no conversation.
local mode = redis.call('HGET', KEYS[1], F.mode)
if not mode then
  return ''
end
local fields = {F.customer_id, F.customer_name, F.customer_phone, F.customer_level}
local vals = {ARGV[4], ARGV[5], ARGV[6], ARGV[7]}
if ARGV[8] ~= '' then
  fields[5], vals[5] = F.signed_in_as, ARGV[8]
end
local have = redis.call('HMGET', KEYS[1], unpack(fields))
local changed = false
for i = 1, #fields do
  if have[i] ~= vals[i] then
    changed = true
  end
end
if not changed then
  return mode
end
local set = {}
for i = 1, #fields do
  set[2 * i - 1] = fields[i]
  set[2 * i] = vals[i]
end
redis.call('HSET', KEYS[1], unpack(set))
emit(ARGV[1], ARGV[2], EV.customer_profile, ARGV[3], EF.customer_id, ARGV[4], EF.name, ARGV[5],
  EF.phone, ARGV[6], EF.level, ARGV[7], EF.signed_in_as, ARGV[8])
return mode
