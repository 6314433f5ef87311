-- A needs-review entry gets a fresh budget. ARGV: stream id, budget.
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 0 end
local state = cjson.decode(raw)
if state.s ~= 'needs_review' then return 0 end
state.s, state.l, state.u = 'pending', tonumber(ARGV[2]), now_ms()
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(state))
return 1
