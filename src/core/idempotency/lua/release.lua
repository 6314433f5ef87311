-- Drops owner ARGV[1]'s running claim on KEYS[1]. Answers 1, or 0 when it
-- is not this owner's (taken over, or gone).
local rec = redis.call('HMGET', KEYS[1], 'owner', 'state')
if rec[1] == ARGV[1] and rec[2] == 'running' then
  redis.call('DEL', KEYS[1])
  return 1
end
if not rec[1] then
  -- Nothing here yet: the claim being released may still be on its way (a
  -- caller that timed out sent it; TCP retransmits it even after the
  -- socket closed). A tombstone makes it answer 'released' instead of
  -- holding the key for its whole window; any other owner may claim.
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'state', 'released', 'fp', '', 'until', 0)
  redis.call('PEXPIRE', KEYS[1], 120000)
end
return 0
