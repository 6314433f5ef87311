-- Completes owner ARGV[1]'s claim on KEYS[1], blocking duplicates for ARGV[2] ms.
-- Answers 1, or 0 when another owner holds the key.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec = redis.call('HMGET', KEYS[1], 'owner', 'state')
-- A record Redis lost (a restart without persistence) is re-created: the
-- operation did complete. One held by another owner is left alone.
-- This owner's completion sent again (its answer was lost) stays done.
if rec[1] == ARGV[1] and rec[2] == 'completed' then return 1 end
if (rec[1] == ARGV[1] and rec[2] == 'running') or rec[1] == false then
  local ttl = tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'state', 'completed', 'fp', '', 'until', now + ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
return 0
