-- A domain's entries, oldest first, as {stream id, fields, state JSON}.
-- ARGV: state ('' any), error type ('' any), limit.
local out, limit = {}, tonumber(ARGV[3])

local function offer(sid, fields)
  local raw = redis.call('HGET', KEYS[2], sid) or ''
  local wanted = true
  if ARGV[1] ~= '' then wanted = raw ~= '' and cjson.decode(raw).s == ARGV[1] end
  if wanted and ARGV[2] ~= '' then wanted = field(fields, 'error_type') == ARGV[2] end
  if wanted then out[#out + 1] = {sid, fields, raw} end
end

if ARGV[1] == 'replaying' then
  -- Held entries are exactly the group's pending list: no scan of the stream.
  if redis.call('EXISTS', KEYS[1]) == 0 then return out end
  for _, held in ipairs(redis.call('XPENDING', KEYS[1], 'replayers', '-', '+', limit)) do
    local item = redis.call('XRANGE', KEYS[1], held[1], held[1])
    if #item > 0 then offer(item[1][1], item[1][2]) end
  end
  return out
end

local start = '-'
while #out < limit do
  local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 200)
  if #batch == 0 then break end
  for _, item in ipairs(batch) do
    start = '(' .. item[1]
    offer(item[1], item[2])
    if #out >= limit then break end
  end
end
return out
