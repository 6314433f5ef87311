-- One breaker's fleet record, read for an operator: nothing is written, so
-- a look at a name creates nothing. Time is the server's.
--
-- KEYS: its state hash, its window hash. ARGV: 1 the window's bucket ms,
-- 2 its buckets.
-- Returns {} when the fleet keeps no record of the name, else {state,
-- version, remaining open ms, ms since its state last changed, calls,
-- failures in the window}.
local rec = redis.call('HMGET', KEYS[1], 'state', 'version', 'until', 'changed_at')
if not rec[1] then return {} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local oldest = math.floor(now / tonumber(ARGV[1])) - tonumber(ARGV[2])
local sums = {c = 0, f = 0}
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields, 2 do
  local name = fields[i]
  if tonumber(string.sub(name, 2)) > oldest then
    local prefix = string.sub(name, 1, 1)
    sums[prefix] = (sums[prefix] or 0) + tonumber(fields[i + 1])
  end
end
local remaining = math.max(0, tonumber(rec[3] or '0') - now)
local since = math.max(0, now - tonumber(rec[4] or '0'))
return {rec[1], tonumber(rec[2] or '0'), remaining, since, sums.c, sums.f}
