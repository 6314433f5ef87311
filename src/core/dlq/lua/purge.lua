-- Deletes a domain's entries (in one state, or all). ARGV: state ('' all).
local removed, start = 0, '-'
while true do
  local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 500)
  if #batch == 0 then break end
  for _, item in ipairs(batch) do
    start = '(' .. item[1]
    local wanted = true
    if ARGV[1] ~= '' then
      local raw = redis.call('HGET', KEYS[2], item[1])
      wanted = raw and cjson.decode(raw).s == ARGV[1]
    end
    if wanted then
      remove(item[1])
      removed = removed + 1
    end
  end
end
return removed
