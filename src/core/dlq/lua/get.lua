-- One entry: {stream id, fields, state JSON}, or nil. ARGV: stream id.
local item = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #item == 0 then return false end
return {item[1][1], item[1][2], redis.call('HGET', KEYS[2], ARGV[1]) or ''}
