-- Records one entry, making room in its domain first as the cap says.
-- ARGV: max_per_zone, overflow, state, replays_left, last_error ('' none),
-- created_ms ('' now), the seven recorded fields, the record's token ('' none),
-- then '1' when the token may be here already: an entry whose token is
-- here, or was until it was replayed or evicted, is not added twice (a
-- record whose answer was lost, sent again, or kept locally too and
-- flushed later). A new token's first send cannot be here: '' skips the
-- look-up.
-- On a single node KEYS[7] is the domain index, ARGV[16] the domain: the
-- script adds it and answers how many there are (a cluster keeps the index
-- on its own slot and sends SADD and SCARD beside the script).
-- Answers status, stream id, evicted, compressed, domains (0 without KEYS[7]).
local domains = 0
if KEYS[7] then
  redis.call('SADD', KEYS[7], ARGV[16])
  domains = redis.call('SCARD', KEYS[7])
end
local token = ARGV[14]
if token ~= '' and ARGV[15] == '1' then
  local known = redis.call('HGET', TOKENS, token)
  if known then return {'duplicate', known, 0, 0, domains} end
  if redis.call('ZSCORE', GONE, token) then return {'duplicate', 'gone', 0, 0, domains} end
end
local cap, overflow = tonumber(ARGV[1]), ARGV[2]
local evicted = 0
local length = redis.call('XLEN', STREAM)
-- Only an empty stream may be missing (with its replay group).
if length == 0 and redis.call('EXISTS', STREAM) == 0 then
  redis.call('XGROUP', 'CREATE', STREAM, 'replayers', '0', 'MKSTREAM')
end
if length >= cap then
  if overflow == 'reject' then return {'full', '', 0, 0, domains} end
  -- {helpers}
  evicted = make_room(length + 1 - cap, overflow == 'compress_oldest')
end
local sid = redis.call('XADD', STREAM, '*',
  'function', ARGV[7], 'arguments', ARGV[8], 'replayable', ARGV[9],
  'error_type', ARGV[10], 'error_message', ARGV[11], 'attempts', ARGV[12],
  'reason', ARGV[13])
-- The new id starts with the server's time in ms (no TIME call needed).
local ms = string.match(sid, '^%d+')
local created = ARGV[6] ~= '' and ARGV[6] or ms
if token ~= '' then redis.call('HSET', TOKENS, token, sid) end
local state
if ARGV[5] == '' and string.match(token, '^%x*$') then
  -- Spelt by hand: every part is a name or digits from the caller, or a
  -- hex token (cjson would cost more than the rest of the script's work).
  local t = ''
  if token ~= '' then t = ',"t":"' .. token .. '"' end
  state = '{"s":"' .. ARGV[3] .. '","l":' .. ARGV[4] .. ',"c":' .. created .. ',"u":' .. ms .. t .. '}'
else
  local now = tonumber(ms)
  local fields = {s = ARGV[3], l = tonumber(ARGV[4]), c = tonumber(ARGV[6]) or now, u = now}
  if ARGV[5] ~= '' then fields.e = ARGV[5] end
  if token ~= '' then fields.t = token end
  state = cjson.encode(fields)
end
redis.call('HSET', STATES, sid, state)
local compressed = 0
if overflow == 'compress_oldest' then compressed = evicted end
return {'ok', sid, evicted, compressed, domains}
