-- Claims KEYS[1] for owner ARGV[1] (payload fingerprint ARGV[2], '' for none)
-- for ARGV[3] ms, unless a live record holds it. Answers {outcome} or
-- {'duplicate', state, same_payload}. Time is the server's.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec = redis.call('HMGET', KEYS[1], 'owner', 'state', 'fp', 'until')
local outcome = 'claimed'
if rec[1] == ARGV[1] then
  -- This owner's own claim, sent again after its answer was lost (owner
  -- tokens are never reused). Released since (its caller gave up on it):
  -- it must not hold the key. Completed since: left completed. Running:
  -- its window is renewed below.
  if rec[2] == 'released' then return {'released'} end
  if rec[2] == 'completed' then return {'claimed'} end
elseif rec[1] then
  if tonumber(rec[4]) > now then
    local same = 0
    if rec[3] == '' or ARGV[2] == '' or rec[3] == ARGV[2] then same = 1 end
    return {'duplicate', rec[2], same}
  end
  if rec[2] == 'running' then outcome = 'took_over' end
end
local window = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'state', 'running', 'fp', ARGV[2], 'until', now + window)
redis.call('PEXPIRE', KEYS[1], window * 2)
return {outcome}
