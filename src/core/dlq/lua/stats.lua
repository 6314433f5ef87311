-- A domain's counts: {entries, {state, count, ...}, {error type, folded, ...},
-- {evicted, compressed}}.
local counts = {}
for _, raw in ipairs(redis.call('HVALS', KEYS[2])) do
  local s = cjson.decode(raw).s
  counts[s] = (counts[s] or 0) + 1
end
local flat = {}
for s, n in pairs(counts) do
  flat[#flat + 1] = s
  flat[#flat + 1] = tostring(n)
end
local evictions = redis.call('HMGET', KEYS[4], 'evicted', 'compressed')
return {redis.call('XLEN', KEYS[1]), flat, redis.call('HGETALL', KEYS[3]),
  {evictions[1] or '0', evictions[2] or '0'}}
