-- A domain's entries, oldest first, as {stream id, fields, state JSON}.
-- ARGV: state ('' any), error type ('' any), limit.
local out, start, limit = {}, '-', tonumber(ARGV[3])
while #out < limit do
  local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 200)
  if #batch == 0 then break end
  for _, item in ipairs(batch) do
    start = '(' .. item[1]
    local raw = redis.call('HGET', KEYS[2], item[1]) or ''
    local wanted = true
    if ARGV[1] ~= '' then wanted = raw ~= '' and cjson.decode(raw).s == ARGV[1] end
    if wanted and ARGV[2] ~= '' then wanted = field(item[2], 'error_type') == ARGV[2] end
    if wanted then
      out[#out + 1] = {item[1], item[2], raw}
      if #out >= limit then break end
    end
  end
end
return out
