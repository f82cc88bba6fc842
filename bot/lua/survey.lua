-- survey: send the satisfaction survey of a closed episode: append it to
-- the transcript, mark it pending, and emit survey_sent, at once.
--
-- KEYS[1] conv:<thread>   conversation hash
-- KEYS[2] tx:<thread>     transcript stream
-- ARGV[1] key prefix   ARGV[2] thread   ARGV[3] now (ms)
-- ARGV[4] kind   ARGV[5] text   ARGV[6] choices (JSON)
-- Reply: the transcript id of the survey
local id = redis.call('XADD', KEYS[2], '*', 'dir', 'out', 'kind', ARGV[4], 'intent', '', 'text', ARGV[5],
  'agent', '', 'choices', ARGV[6], 'at', ARGV[3])
redis.call('HSET', KEYS[1], F.survey, '1')
emit(ARGV[1], ARGV[2], EV.survey_sent, ARGV[3])
return id
