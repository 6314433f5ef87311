-- Records one entry, making room in its domain first as the cap says.
-- KEYS[5], when given, marks an entry forwarded from a local store: seen
-- already, the entry is not added twice.
-- ARGV: max_per_zone, overflow, state, replays_left, last_error ('' none),
-- created_ms ('' now), then the recorded fields.
local stream, states, summary, counts, origin = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if origin then
  local known = redis.call('GET', origin)
  if known then return {'duplicate', known, 0, 0} end
end
if redis.call('EXISTS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, 'replayers', '0', 'MKSTREAM')
end
local cap, overflow = tonumber(ARGV[1]), ARGV[2]
local evicted = 0
local length = redis.call('XLEN', stream)
if length >= cap then
  if overflow == 'reject' then return {'full', '', 0, 0} end
  evicted = make_room(stream, states, summary, counts, length + 1 - cap,
    overflow == 'compress_oldest')
end
local now = now_ms()
local sid = redis.call('XADD', stream, '*',
  'function', ARGV[7], 'arguments', ARGV[8], 'replayable', ARGV[9],
  'error_type', ARGV[10], 'error_message', ARGV[11], 'attempts', ARGV[12],
  'reason', ARGV[13])
local state = {s = ARGV[3], l = tonumber(ARGV[4]), c = tonumber(ARGV[6]) or now, u = now}
if ARGV[5] ~= '' then state.e = ARGV[5] end
redis.call('HSET', states, sid, cjson.encode(state))
if origin then redis.call('SET', origin, sid, 'PX', 604800000) end
local compressed = 0
if overflow == 'compress_oldest' then compressed = evicted end
return {'ok', sid, evicted, compressed}
