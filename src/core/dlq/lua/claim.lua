-- Takes an entry for replay through the consumer group: XCLAIM ... FORCE
-- puts it in this replayer's pending list unless another replayer's claim
-- on it is younger than the lease (one whose replayer died is taken over).
-- ARGV: stream id, consumer, lease ms. Returns the entry, or nil.
local sid = ARGV[1]
local raw = redis.call('HGET', KEYS[2], sid)
if not raw then return false end
local state = cjson.decode(raw)
if state.s == 'needs_review' then return false end
local item = redis.call('XRANGE', KEYS[1], sid, sid)
if #item == 0 or field(item[1][2], 'replayable') ~= '1' then return false end
local taken = redis.call('XCLAIM', KEYS[1], 'replayers', ARGV[2], ARGV[3], sid, 'FORCE', 'JUSTID')
if #taken == 0 then return false end
state.s, state.u = 'replaying', now_ms()
raw = cjson.encode(state)
redis.call('HSET', KEYS[2], sid, raw)
return {sid, item[1][2], raw}
