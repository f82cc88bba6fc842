-- say: append a reply that answers no inbound message (a queue position
-- notice sent when the queue moves) to the transcript, with its bot_reply
-- event, at once.
--
-- KEYS[1] tx:<thread>     transcript stream
-- ARGV[1] key prefix   ARGV[2] thread   ARGV[3] now (ms)
-- ARGV[4] kind   ARGV[5] intent   ARGV[6] text   ARGV[7] agent   ARGV[8] choices (JSON)
-- Reply: the transcript id
local id = redis.call('XADD', KEYS[1], '*', 'dir', 'out', 'kind', ARGV[4], 'intent', ARGV[5], 'text', ARGV[6],
  'agent', ARGV[7], 'choices', ARGV[8], 'at', ARGV[3])
emit(ARGV[1], ARGV[2], EV.bot_reply, ARGV[3], EF.action, ARGV[4], EF.kind, ARGV[4], EF.text, ARGV[6],
  EF.intent, ARGV[5], EF.confidence, '', EF.guesses, '')
return id
