-- One notification of a key, against the fleet's cooldown, in one step.
-- KEYS[1] the key's cooldown (set while it runs), KEYS[2] its count of
-- suppressions (expiring with it); ARGV[1] the cooldown (ms), ARGV[2] the
-- burst threshold. Answers 0 deliver (the cooldown starts), 1 suppress,
-- 2 escalate (the threshold-th suppression: exactly one caller sees it).
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('DEL', KEYS[2])
  return 0
end
local suppressed = redis.call('INCR', KEYS[2])
if suppressed == 1 then
  local left = redis.call('PTTL', KEYS[1])
  if left <= 0 then left = tonumber(ARGV[1]) end
  redis.call('PEXPIRE', KEYS[2], left)
end
if suppressed == tonumber(ARGV[2]) then
  return 2
end
return 1
