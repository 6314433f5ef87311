-- Acquire or renew the lease, in one step.
-- KEYS[1] the holder (its id, expiring with the lease), KEYS[2] the token
-- counter (never expires); ARGV[1] the caller's id, ARGV[2] the lease (ms).
-- Answers {holder, token, lease left in ms}. The token grows only when the
-- lease is taken afresh: a holder's renewal keeps it.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {holder, tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(ARGV[2])}
end
if holder then
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then left = 0 end
  return {holder, tonumber(redis.call('GET', KEYS[2]) or '0'), left}
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {ARGV[1], token, tonumber(ARGV[2])}
