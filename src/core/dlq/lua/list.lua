-- One bounded step of a listing of a domain: matches after a position,
-- scanning at most a budget of stream entries, so a domain of any size never
-- blocks Redis for more than a few milliseconds.
-- ARGV: 1 state ('' any), 2 error type ('' any), 3 matches wanted,
-- 4 start stream id ('-' from the oldest), 5 '1' when the start is excluded,
-- 6 scan budget (stream entries read at most).
-- Returns {matches as {stream id, fields, state JSON}, where to go on: the
-- last stream id read, or '' when the stream has no more}.
local out, want, budget = {}, tonumber(ARGV[3]), tonumber(ARGV[6])
local start = ARGV[4]
if ARGV[5] == '1' then start = '(' .. start end

local function offer(sid, fields)
  local raw = redis.call('HGET', STATES, sid) or ''
  local wanted = true
  if ARGV[1] ~= '' then wanted = raw ~= '' and cjson.decode(raw).s == ARGV[1] end
  if wanted and ARGV[2] ~= '' then wanted = field(fields, 'error_type') == ARGV[2] end
  if wanted then out[#out + 1] = {sid, fields, raw} end
end

if redis.call('EXISTS', STREAM) == 0 then return {out, ''} end

if ARGV[1] == 'replaying' then
  -- Held entries are exactly the group's pending list: no scan of the stream.
  local held = redis.call('XPENDING', STREAM, 'replayers', start, '+', want)
  for _, claim in ipairs(held) do
    local item = redis.call('XRANGE', STREAM, claim[1], claim[1])
    if #item > 0 then offer(item[1][1], item[1][2]) end
  end
  if #held < want then return {out, ''} end
  return {out, held[#held][1]}
end

local last, scanned = '', 0
while #out < want and scanned < budget do
  local count = math.min(200, budget - scanned)
  local batch = redis.call('XRANGE', STREAM, start, '+', 'COUNT', count)
  for i, item in ipairs(batch) do
    scanned = scanned + 1
    last = item[1]
    start = '(' .. item[1]
    offer(item[1], item[2])
    if #out >= want and i < #batch then return {out, last} end
  end
  if #batch < count then return {out, ''} end
end
return {out, last}
