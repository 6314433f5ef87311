-- The replay failed: one replay spent, none left means needs_review; the
-- claim is released (XACK). ARGV: stream id, error, '1' when the replay
-- cannot run at all (every replay left is spent). Returns the new state.
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 'gone' end
local state = cjson.decode(raw)
redis.call('XACK', KEYS[1], 'replayers', ARGV[1])
local left = math.max((tonumber(state.l) or 0) - 1, 0)
if ARGV[3] == '1' then left = 0 end
state.l, state.e, state.u = left, ARGV[2], now_ms()
if left <= 0 then state.s = 'needs_review' else state.s = 'pending' end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(state))
return state.s
