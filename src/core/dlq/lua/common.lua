-- Shared by every dead-letter script. KEYS[1] is a domain's stream,
-- KEYS[2] its states hash (stream id -> JSON), KEYS[3] its summary hash,
-- KEYS[4] its eviction counts.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The value of `name` in a stream entry's flat field list.
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

-- One entry gone: from the stream, its state, and the group's pending list.
local function remove(stream, states, sid)
  redis.call('XACK', stream, 'replayers', sid)
  redis.call('XDEL', stream, sid)
  redis.call('HDEL', states, sid)
end

-- Evicts up to n of the domain's oldest entries that no replay holds; with
-- compress, each is counted in the summary first. Every eviction is counted
-- in `counts`. Returns how many.
local function make_room(stream, states, summary, counts, n, compress)
  local removed, start = 0, '-'
  while removed < n do
    local batch = redis.call('XRANGE', stream, start, '+', 'COUNT', 100)
    if #batch == 0 then break end
    for _, item in ipairs(batch) do
      local sid = item[1]
      start = '(' .. sid
      local raw = redis.call('HGET', states, sid)
      if not (raw and cjson.decode(raw).s == 'replaying') then
        if compress then
          redis.call('HINCRBY', summary, field(item[2], 'error_type') or '?', 1)
        end
        remove(stream, states, sid)
        removed = removed + 1
        if removed >= n then break end
      end
    end
  end
  if removed > 0 then
    redis.call('HINCRBY', counts, 'evicted', removed)
    if compress then redis.call('HINCRBY', counts, 'compressed', removed) end
  end
  return removed
end
