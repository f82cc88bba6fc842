-- append: an agent's message to the customer, or their private note (never
-- sent to the customer), joins the transcript, once (deduped by the
-- console's message id), and only from the current holder: a write from a
-- stale claim (reaped, transferred, expired) is refused. Emits
-- agent_message{agent, text, kind, first} (first "1" on the first agent
-- message since the last hand-off, else "0") or note{agent, text}; a repeat
-- or a refused write emits nothing.
--
-- KEYS[1] conv:<cid>              conversation hash
-- KEYS[2] leases                  ZSET cid -> lease expiry (ms)
-- KEYS[3] tx:<cid>                transcript stream
-- KEYS[4] seen:agent:<msg id>     dedupe marker
-- ARGV[1] cid  ARGV[2] aid  ARGV[3] epoch  ARGV[4] now (ms)  ARGV[5] text  ARGV[6] msg id
-- ARGV[7] dedupe TTL (s)  ARGV[8] key prefix  ARGV[9] "note" for a private note, else a message
-- ARGV[10] a message's stored image (package media's key; '' none): the
--          entry's and the agent_message event's media field
-- Reply: {stream id, 1 when it was a repeat (nothing written) else 0}
-- Errors: LEASE_LOST, NOT_HOLDER
local first = redis.call('GET', KEYS[4])
if first then return {first, 1} end
local cid, aid, epoch, now, p = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[8]
local h = redis.call('HMGET', KEYS[1], F.agent, F.epoch, F.replied_ms)
local exp = tonumber(redis.call('ZSCORE', KEYS[2], cid) or 0)
if not (h[1] == aid and tonumber(h[2]) == epoch and exp > now) then
  if epoch < tonumber(h[2] or 0) or h[1] == aid then return redis.error_reply('LEASE_LOST') end
  return redis.error_reply('NOT_HOLDER')
end
local id
if ARGV[9] == 'note' then
  id = redis.call('XADD', KEYS[3], '*', 'dir', 'note', 'kind', 'note', 'agent', aid, 'epoch', epoch,
    'msg_id', ARGV[6], 'text', ARGV[5], 'at', now)
  emit(p, cid, EV.note, now, EF.agent, aid, EF.text, ARGV[5])
else
  local media = ARGV[10] or ''
  if media ~= '' then
    id = redis.call('XADD', KEYS[3], '*', 'dir', 'out', 'kind', 'agent', 'agent', aid, 'epoch', epoch,
      'msg_id', ARGV[6], 'text', ARGV[5], 'at', now, 'media', media)
  else
    id = redis.call('XADD', KEYS[3], '*', 'dir', 'out', 'kind', 'agent', 'agent', aid, 'epoch', epoch,
      'msg_id', ARGV[6], 'text', ARGV[5], 'at', now)
  end
  local isFirst = '0'
  redis.call('HDEL', KEYS[1], F.await_ms)
  if not h[3] then
    isFirst = '1'
    redis.call('HSET', KEYS[1], F.replied_ms, now)
  end
  if media ~= '' then
    emit(p, cid, EV.agent_message, now, EF.agent, aid, EF.text, ARGV[5], EF.kind, 'agent', EF.first, isFirst,
      EF.media, media)
  else
    emit(p, cid, EV.agent_message, now, EF.agent, aid, EF.text, ARGV[5], EF.kind, 'agent', EF.first, isFirst)
  end
end
redis.call('SET', KEYS[4], id, 'EX', tonumber(ARGV[7]))
return {id, 0}
