-- Drops owner ARGV[1]'s running claim on KEYS[1]. Answers 1, or 0 when it
-- is not this owner's (taken over, or gone).
local rec = redis.call('HMGET', KEYS[1], 'owner', 'state')
if rec[1] == ARGV[1] and rec[2] == 'running' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
