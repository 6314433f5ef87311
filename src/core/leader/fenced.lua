-- A leader's write, fenced: applied only when its token is the newest the
-- election has handed out, so a leader that lost its lease (paused, cut
-- off) and comes back with an older token is refused.
-- KEYS[1] the token counter, KEYS[2] the key written; ARGV[1] the writer's
-- token, ARGV[2] the value. Answers 1 when written, 0 when refused.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < current then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
