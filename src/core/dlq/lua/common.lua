-- The helpers of the scripts that remove entries (after keys.lua).

-- How long, and how many, tokens of removed entries are remembered: a late
-- copy of one (its record's answer was lost, so it was kept locally too
-- and flushed after the entry was replayed here) is refused, not replayed
-- a second time. Bounded both ways, so churn cannot grow Redis's memory.
local GONE_MS = 7 * 24 * 3600 * 1000
local GONE_MAX = 100000

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

-- Remembers `token` as removed, within GONE_MS and GONE_MAX.
local function remember_gone(token)
  local now = now_ms()
  redis.call('HDEL', TOKENS, token)
  redis.call('ZADD', GONE, now, token)
  redis.call('ZREMRANGEBYSCORE', GONE, '-inf', now - GONE_MS)
  local over = redis.call('ZCARD', GONE) - GONE_MAX
  if over > 0 then redis.call('ZREMRANGEBYRANK', GONE, 0, over - 1) end
  redis.call('PEXPIRE', GONE, GONE_MS)
end

-- One entry gone: from the stream, its state, and the group's pending
-- list; its token is remembered as gone.
local function remove(sid)
  local raw = redis.call('HGET', STATES, sid)
  if raw then
    local token = cjson.decode(raw).t
    if token then remember_gone(token) end
  end
  redis.call('XACK', STREAM, 'replayers', sid)
  redis.call('XDEL', STREAM, sid)
  redis.call('HDEL', STATES, sid)
end

-- Evicts up to n of the domain's oldest entries that no replay holds; with
-- compress, each is counted in the summary first. Every eviction is counted
-- in COUNTS. Returns how many.
local function make_room(n, compress)
  local removed, start = 0, '-'
  while removed < n do
    local batch = redis.call('XRANGE', STREAM, start, '+', 'COUNT', 100)
    if #batch == 0 then break end
    for _, item in ipairs(batch) do
      local sid = item[1]
      start = '(' .. sid
      local raw = redis.call('HGET', STATES, sid)
      if not (raw and cjson.decode(raw).s == 'replaying') then
        if compress then
          redis.call('HINCRBY', SUMMARY, field(item[2], 'error_type') or '?', 1)
        end
        remove(sid)
        removed = removed + 1
        if removed >= n then break end
      end
    end
  end
  if removed > 0 then
    redis.call('HINCRBY', COUNTS, 'evicted', removed)
    if compress then redis.call('HINCRBY', COUNTS, 'compressed', removed) end
  end
  return removed
end

