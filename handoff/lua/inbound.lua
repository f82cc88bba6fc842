-- inbound: tell the console a customer message arrived: the holder's agent
-- stream when an agent has the conversation, else the group's stream while
-- it waits.
--
-- KEYS[1] conv:<cid>   conversation hash
-- KEYS[2] leases       ZSET cid -> lease expiry (ms)
-- ARGV[1] key prefix  ARGV[2] cid  ARGV[3] transcript entry id  ARGV[4] now (ms)
-- ARGV[5] events MAXLEN
-- Reply: the stream written ("" when the conversation is neither waiting nor held)
local p, cid = ARGV[1], ARGV[2]
local h = redis.call('HMGET', KEYS[1], F.agent, F.group)
local key = ''
if h[1] and redis.call('ZSCORE', KEYS[2], cid) then
  key = p .. 'agent:' .. h[1] .. ':events'
  -- The agent owes a reply from now on (the next-response clock), until
  -- their next message.
  redis.call('HSETNX', KEYS[1], F.await_ms, ARGV[4])
elseif h[2] and redis.call('ZSCORE', p .. 'wait:' .. h[2], cid) then
  key = p .. 'events:' .. h[2]
end
if key ~= '' then
  redis.call('XADD', key, 'MAXLEN', '~', ARGV[5], '*', 'type', 'message', 'conv', cid,
    'group', h[2] or '', 'entry', ARGV[3], 'at', ARGV[4])
end
return key
