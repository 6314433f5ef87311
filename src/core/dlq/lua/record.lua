-- Records one entry, making room in its domain first as the cap says.
-- ARGV: max_per_zone, overflow, state, replays_left, last_error ('' none),
-- created_ms ('' now), the seven recorded fields, then the record's token
-- ('' none): an entry whose token is already here, or was until it was
-- replayed or evicted, is not added twice (a record whose answer was lost,
-- kept locally too and flushed later).
local token = ARGV[14]
if token ~= '' then
  local known = redis.call('HGET', TOKENS, token)
  if known then return {'duplicate', known, 0, 0} end
  if redis.call('ZSCORE', GONE, token) then return {'duplicate', 'gone', 0, 0} end
end
if redis.call('EXISTS', STREAM) == 0 then
  redis.call('XGROUP', 'CREATE', STREAM, 'replayers', '0', 'MKSTREAM')
end
local cap, overflow = tonumber(ARGV[1]), ARGV[2]
local evicted = 0
local length = redis.call('XLEN', STREAM)
if length >= cap then
  if overflow == 'reject' then return {'full', '', 0, 0} end
  evicted = make_room(length + 1 - cap, overflow == 'compress_oldest')
end
local now = now_ms()
local sid = redis.call('XADD', STREAM, '*',
  'function', ARGV[7], 'arguments', ARGV[8], 'replayable', ARGV[9],
  'error_type', ARGV[10], 'error_message', ARGV[11], 'attempts', ARGV[12],
  'reason', ARGV[13])
local state = {s = ARGV[3], l = tonumber(ARGV[4]), c = tonumber(ARGV[6]) or now, u = now}
if ARGV[5] ~= '' then state.e = ARGV[5] end
if token ~= '' then
  state.t = token
  redis.call('HSET', TOKENS, token, sid)
end
redis.call('HSET', STATES, sid, cjson.encode(state))
local compressed = 0
if overflow == 'compress_oldest' then compressed = evicted end
return {'ok', sid, evicted, compressed}
